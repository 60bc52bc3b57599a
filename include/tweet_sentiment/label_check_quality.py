"""`make quality SCENARIO=noisy`: the label check on the chronological stream with 10 % of labels flipped at random.

Three pipelines, each on its own temporary data root (sharing the feature cache), get the same batches (bootstrap,
then ``batch_rows`` at a time, sent as annotators' batches) through ``tasks.run_cycle``: ``clean`` streams the
labels as they are, ``held`` and ``unchecked`` the same rows with ``NOISE`` of each batch's labels flipped to
another class, with the flagged rows held (the default) and with the check off. Per batch of ``held``: the
flagger's recall of the flipped rows and its false-flag rate on the others (over the rows the ingest accepted),
and the check's seconds. At the end each pipeline makes a forced refit on its whole store: its fixed-holdout
macro-F1 says what the held rows cost or saved.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import statistics
import tempfile

import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.datafs import write_json_atomic
from tweet_sentiment.feed import chronological_rows, write_rows
from tweet_sentiment.label_check import HELD, flagged_file, read_flagged
from tweet_sentiment.labelled_store import LabelledStore
from tweet_sentiment.quality import QualityOptions, batch_bounds, cycle_figures
from tweet_sentiment.run_options import RunOptions
from tweet_sentiment.scenarios import flip_labels, with_feedback
from tweet_sentiment.tasks import run_cycle

log = logging.getLogger(__name__)
NOISE = 0.1
PIPELINES = {"clean": ("hold", False), "held": ("hold", True), "unchecked": ("off", True)}  # mode, noisy
NOISY_JSON = "quality_noisy.json"


def flag_figures(settings: Settings, batch_id: str, flipped: set[int], check: dict) -> dict:
    """Recall of the flipped rows and false-flag rate on the others, over the rows the ingest accepted."""
    layout = settings.layout()
    path = flagged_file(layout, batch_id)
    flagged = read_flagged(path) if path.exists() else pd.DataFrame(columns=["source_row", "action"])
    store = LabelledStore(layout.labelled)
    stored = set(store.read_batch(batch_id, ["source_row"])["source_row"]) if store.has_batch(batch_id) else set()
    checked = stored | set(flagged.loc[flagged["action"] == HELD, "source_row"])
    found, bad = set(flagged["source_row"]), flipped & checked
    return {"held_recall": round(len(found & bad) / max(1, len(bad)), 4),
            "held_false_flag_rate": round(len(found - bad) / max(1, len(checked - bad)), 4),
            "held_flagged": len(found), "held_rows_held": check.get("rows_held", 0),
            "held_flipped_checked": len(bad), "held_check_s": check.get("seconds"),
            "held_check_cpu_s": check.get("cpu_seconds")}


def _refit_f1(settings: Settings, mode: str) -> float:
    """A forced refit on the pipeline's whole store (no new files); its fixed-holdout macro-F1."""
    report = run_cycle(settings, "final_refit", RunOptions(strategy="refit", force_promote=True, flagged_rows=mode))
    return report["evaluation"]["challenger_metrics"]["macro_f1"]


def noisy_stream(settings: Settings, options: QualityOptions) -> dict:
    """Run the noisy scenario; the summary (per-cycle figures in ``<reports>/quality_noisy.json``)."""
    header, rows = chronological_rows(settings.train_file)
    bounds = batch_bounds(len(rows), options.bootstrap_rows, options.batch_rows, options.max_batches)
    rng = random.Random(settings.seed)
    cycles: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-noisy-") as tmp:
        pipelines = {name: dataclasses.replace(settings, data_root=os.path.join(tmp, name), file_settle_s=0.0,
                                               cache_root=str(settings.layout().embeddings)) for name in PIPELINES}
        for k, (lo, hi) in enumerate(bounds):
            batch = rows[lo:hi]
            noisy, flipped = flip_labels(header, batch, NOISE, rng)
            cycle: dict = {"cycle": k, "rows_seen": hi, "rows_flipped": len(flipped)}
            for name, (mode, is_noisy) in PIPELINES.items():
                pipeline = pipelines[name]
                pipeline.layout().ensure()
                write_rows(pipeline.layout().inbox, f"rows-{lo:05d}-{hi:05d}.csv",
                           *with_feedback(header, noisy if is_noisy else batch, batch))
                run_options = (RunOptions(strategy="refit", force_promote=True, flagged_rows=mode) if k == 0
                               else RunOptions(flagged_rows=mode))
                report = run_cycle(pipeline, f"b{k:04d}", run_options)
                cycle.update(cycle_figures(name, report))
                if name == "held":
                    cycle.update(flag_figures(pipeline, f"b{k:04d}", flipped, report["label_check"]))
            cycles.append(cycle)
            log.info("noisy cycle %d/%d: recall %.3f, false flags %.4f, check %.1f s; champions clean %.4f, "
                     "held %.4f, unchecked %.4f", k, len(bounds) - 1, cycle["held_recall"],
                     cycle["held_false_flag_rate"], cycle["held_check_s"], cycle["clean_f1"], cycle["held_f1"],
                     cycle["unchecked_f1"])
        refits = {name: _refit_f1(pipelines[name], mode) for name, (mode, _) in PIPELINES.items()}
    summary = _summary(cycles, refits, options.batch_rows)
    write_json_atomic(settings.layout().reports / NOISY_JSON, {**summary, "per_cycle": cycles})
    return summary


def _summary(cycles: list[dict], refits: dict[str, float], batch_rows: int) -> dict:
    full = [c for c in cycles[1:] if c["rows_seen"] - cycles[c["cycle"] - 1]["rows_seen"] == batch_rows]
    first = full[0] if full else cycles[0]
    return {
        "scenario": "noisy", "noise": NOISE,
        "label_error_recall": first["held_recall"], "label_error_false_flag_rate": first["held_false_flag_rate"],
        "label_error_recall_median": statistics.median(c["held_recall"] for c in full or cycles),
        "label_error_false_flag_rate_median": statistics.median(c["held_false_flag_rate"] for c in full or cycles),
        "label_error_recall_bootstrap": cycles[0]["held_recall"],
        "label_check_s": statistics.median(c["held_check_s"] for c in full or cycles),
        "label_check_s_each": [c["held_check_s"] for c in full or cycles],
        "label_check_cpu_s": statistics.median(c["held_check_cpu_s"] for c in full or cycles),
        "rows_held": sum(c["held_rows_held"] for c in cycles),
        "refit_clean_macro_f1": refits["clean"], "refit_held_macro_f1": refits["held"],
        "refit_unchecked_macro_f1": refits["unchecked"],
        "held_gap_to_clean": round(refits["clean"] - refits["held"], 5),
        "unchecked_gap_to_clean": round(refits["clean"] - refits["unchecked"], 5),
        "final_clean_macro_f1": cycles[-1]["clean_f1"], "final_held_macro_f1": cycles[-1]["held_f1"],
        "final_unchecked_macro_f1": cycles[-1]["unchecked_f1"], "cycles": len(cycles),
    }
