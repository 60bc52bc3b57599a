"""The summary of `make quality SCENARIO=noisy` over several seeds of the flips (label_check_quality.py).

The label check's figures (recall, false flags, seconds) of the first seed, beside their value in every seed. The
refits' figures on both true-label holdouts: the clean stream's, and the median and range over seeds of the held
and the unchecked noisy streams'. "Measurably worse" is a paired verdict: the unchecked refit is measurably worse
on a figure when, in *every* seed, the paired bootstrap on the holdout's rows calls the held refit better at
p < ``SIGNIFICANCE`` (the promotion gate's default): beyond the holdout's sampling noise and the seeds' spread.
"""

from __future__ import annotations

import statistics

SIGNIFICANCE = 0.01
FIGURES = ("macro_f1", "accuracy", "log_loss", "brier", "ece", "error_auc")
PAIRED = ("macro_f1", "log_loss", "brier")


def _spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 5), "min": min(values), "max": max(values)}


def label_check_figures(cycles: list[dict], batch_rows: int) -> dict:
    """The check's figures in one seed: recall and false flags on the first full batch, the check's seconds
    (median over the full batches), rows held in all."""
    full = [c for c in cycles[1:] if c["rows_seen"] - cycles[c["cycle"] - 1]["rows_seen"] == batch_rows] or cycles
    return {
        "label_error_recall": full[0]["held_recall"], "label_error_false_flag_rate": full[0]["held_false_flag_rate"],
        "label_error_recall_median": statistics.median(c["held_recall"] for c in full),
        "label_error_false_flag_rate_median": statistics.median(c["held_false_flag_rate"] for c in full),
        "label_error_recall_bootstrap": cycles[0]["held_recall"],
        "label_check_s": statistics.median(c["held_check_s"] for c in full),
        "label_check_s_each": [c["held_check_s"] for c in full],
        "label_check_cpu_s": statistics.median(c["held_check_cpu_s"] for c in full),
        "rows_held": sum(c["held_rows_held"] for c in cycles),
    }


def _paired(seeds: list[dict], key: str) -> dict:
    """Per holdout and figure: the gain over the seeds and how many seeds call it significant."""
    out: dict = {}
    for holdout in seeds[0][key]:
        out[holdout] = {}
        for figure in PAIRED:
            runs = [s[key][holdout][figure] for s in seeds]
            p_values = [r["p_value"] for r in runs]
            out[holdout][figure] = {**_spread([r["gain"] for r in runs]), "p_values": p_values,
                                    "seeds_significant": sum(p < SIGNIFICANCE for p in p_values)}
    return out


def noisy_summary(clean: dict, seeds: list[dict], batch_rows: int) -> dict:
    """The scenario's summary from the clean refit's scores and the seeds' runs (see the module doc)."""
    checks = [label_check_figures(s["cycles"], batch_rows) for s in seeds]
    refits = {holdout: {figure: {"clean": clean[holdout][figure],
                                 **{name: _spread([s["scores"][name][holdout][figure] for s in seeds])
                                    for name in ("held", "unchecked")}}
                        for figure in FIGURES} for holdout in clean}
    fixed = refits["fixed"]["macro_f1"]
    unchecked_vs_held = _paired(seeds, "held_vs_unchecked")
    return {
        "flip_seeds": [s["seed"] for s in seeds], "significance": SIGNIFICANCE, **checks[0],
        **{f"{key}_seeds": [c[key] for c in checks]
           for key in ("label_error_recall", "label_error_false_flag_rate", "label_check_s", "rows_held")},
        "refit_clean_macro_f1": fixed["clean"], "refit_held_macro_f1": fixed["held"]["median"],
        "refit_unchecked_macro_f1": fixed["unchecked"]["median"],
        "held_gap_to_clean": _spread([round(fixed["clean"] - s["scores"]["held"]["fixed"]["macro_f1"], 5)
                                      for s in seeds]),
        "unchecked_gap_to_clean": _spread([round(fixed["clean"] - s["scores"]["unchecked"]["fixed"]["macro_f1"], 5)
                                           for s in seeds]),
        "refit_scores": refits,
        "unchecked_measurably_worse": {f"{holdout}_{figure}": paired["seeds_significant"] == len(seeds)
                                       for holdout, figures in unchecked_vs_held.items()
                                       for figure, paired in figures.items()},
        "held_better_than_unchecked": unchecked_vs_held,
        "clean_better_than_unchecked": _paired(seeds, "clean_vs_unchecked"),
        "clean_better_than_held": _paired(seeds, "clean_vs_held"),
    }
