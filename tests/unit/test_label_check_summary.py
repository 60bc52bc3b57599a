"""The noisy scenario's summary over flip seeds: spreads, and "measurably worse" only when every seed says so."""

import numpy as np
import pytest

from lab.noisy_summary import FIGURES, PAIRED, noisy_summary
from lab.refits import compare, scores
from tweet_sentiment.model.comparison import Holdout


def cycle(k: int, rows_seen: int, recall: float) -> dict:
    return {"cycle": k, "rows_seen": rows_seen, "held_recall": recall, "held_false_flag_rate": 0.02,
            "held_check_s": 4.0 + k, "held_check_cpu_s": 3.0, "held_rows_held": 100}


def seed_run(seed: int, held_f1: float, unchecked_f1: float, log_loss_p: float) -> dict:
    def figures(f1: float) -> dict:
        return {holdout: {figure: f1 if figure == "macro_f1" else 0.1 for figure in FIGURES}
                for holdout in ("fixed", "recent")}

    def paired(p: float) -> dict:
        return {holdout: {"macro_f1": {"rows": 900, "gain": held_f1 - unchecked_f1, "p_value": 0.3},
                          "log_loss": {"rows": 900, "gain": 0.02, "p_value": p},
                          "brier": {"rows": 900, "gain": 0.001, "p_value": 0.2}} for holdout in ("fixed", "recent")}

    return {"seed": seed, "cycles": [cycle(0, 2000, 0.9), cycle(1, 4000, 0.95 + seed / 1000)],
            "scores": {"held": figures(held_f1), "unchecked": figures(unchecked_f1)},
            "held_vs_unchecked": paired(log_loss_p), "clean_vs_unchecked": paired(0.0005),
            "clean_vs_held": paired(0.5)}


def test_the_summary_gives_each_seed_the_spread_and_a_paired_verdict_per_figure():
    clean = {holdout: {figure: 0.97 if figure == "macro_f1" else 0.08 for figure in FIGURES}
             for holdout in ("fixed", "recent")}
    summary = noisy_summary(clean, [seed_run(13, 0.969, 0.970, 0.001), seed_run(14, 0.968, 0.966, 0.004),
                                    seed_run(15, 0.970, 0.968, 0.0005)], batch_rows=2000)
    assert summary["flip_seeds"] == [13, 14, 15]
    assert summary["label_error_recall"] == pytest.approx(0.963)  # the first seed's first full batch
    assert summary["label_error_recall_seeds"] == pytest.approx([0.963, 0.964, 0.965])
    assert summary["label_error_recall_bootstrap"] == 0.9 and summary["rows_held"] == 200
    assert summary["refit_clean_macro_f1"] == 0.97 and summary["refit_held_macro_f1"] == 0.969
    assert summary["unchecked_gap_to_clean"] == {"median": 0.002, "min": 0.0, "max": 0.004}
    assert summary["refit_scores"]["fixed"]["macro_f1"]["unchecked"] == {"median": 0.968, "min": 0.966,
                                                                         "max": 0.970}
    log_loss = summary["held_better_than_unchecked"]["fixed"]["log_loss"]
    assert log_loss["p_values"] == [0.001, 0.004, 0.0005] and log_loss["seeds_significant"] == 3
    assert set(summary["unchecked_measurably_worse"]) == {f"{h}_{f}" for h in ("fixed", "recent") for f in PAIRED}
    assert summary["unchecked_measurably_worse"]["fixed_log_loss"] is True
    assert summary["unchecked_measurably_worse"]["fixed_macro_f1"] is False
    assert summary["clean_better_than_unchecked"]["recent"]["log_loss"]["seeds_significant"] == 3


def test_one_seed_without_a_significant_difference_means_not_measurably_worse():
    clean = {holdout: dict.fromkeys(FIGURES, 0.5) for holdout in ("fixed", "recent")}
    summary = noisy_summary(clean, [seed_run(13, 0.9, 0.8, 0.001), seed_run(14, 0.9, 0.8, 0.02)], 2000)
    assert summary["held_better_than_unchecked"]["fixed"]["log_loss"]["seeds_significant"] == 1
    assert summary["unchecked_measurably_worse"]["fixed_log_loss"] is False


def test_a_flattened_model_with_the_same_top_classes_loses_on_the_scoring_rules_not_on_macro_f1():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, 1000)
    right = np.where(rng.random(1000) < 0.9, labels, (labels + 1) % 5)  # the top class, right on 90 % of rows
    sharp = np.full((1000, 5), 0.02)
    sharp[np.arange(1000), right] = 0.92
    flat = 0.6 * sharp + 0.4 / 5  # same top classes, probabilities pulled towards uniform
    holdouts = {"fixed": Holdout([f"t{i}" for i in range(1000)], labels)}
    figures = scores(holdouts, {"fixed": flat})["fixed"]
    assert figures["macro_f1"] == scores(holdouts, {"fixed": sharp})["fixed"]["macro_f1"]
    assert figures["ece"] > 0.2 and figures["rows"] == 1000
    paired = compare(holdouts, worse={"fixed": flat}, better={"fixed": sharp})["fixed"]
    assert paired["macro_f1"]["gain"] == 0 and paired["macro_f1"]["p_value"] == 1.0
    assert paired["brier"]["gain"] > 0 and paired["brier"]["p_value"] < 0.01
    assert paired["log_loss"]["gain"] > 0 and paired["log_loss"]["p_value"] < 0.01
