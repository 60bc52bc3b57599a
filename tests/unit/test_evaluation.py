import lightgbm as lgb
import numpy as np
import pytest
from sklearn.metrics import f1_score

from lab.metrics import calibration_error, error_ranking, paired_loss_bootstrap, probability_scores, row_losses
from tweet_sentiment.model.gate import GateRules, PairedComparison, evaluate, paired_bootstrap, promotion_decision
from tweet_sentiment.schema import LABELS

RULES = GateRules(significance=0.01, min_improvement=0.002, tolerance=0.005, min_recent_rows=200)


def better_by(gain: float, p: float, rows: int = 900) -> PairedComparison:
    return PairedComparison(rows, gain, p)


def test_no_challenger_a_diverged_one_and_the_first_champion():
    assert promotion_decision(None, None, None, RULES).promote is False
    diverged = promotion_decision(better_by(0.2, 0.0), None, 78000.0, GateRules(force_promote=True))
    assert diverged.promote is False and diverged.reason.startswith("diverged: raw scores reach 78000.0")
    assert promotion_decision(None, None, float("inf"), RULES).promote is False
    assert promotion_decision(None, None, 3.0, RULES).promote is True


def test_significantly_better_on_the_recent_window_and_within_tolerance_on_the_fixed_one_promotes():
    decision = promotion_decision(better_by(-0.004, 0.9), better_by(0.03, 0.001), 3.0, RULES)
    assert decision.promote and not decision.ambiguous and decision.reason.startswith("better")
    assert "recent holdout (900 rows): +0.0300 macro-F1, p=0.0010" in decision.reason


def test_significantly_better_on_the_fixed_holdout_and_no_worse_on_the_recent_one_promotes():
    assert promotion_decision(better_by(0.01, 0.001, 3798), better_by(0.0, 0.5), 3.0, RULES).promote


def test_a_gain_that_is_not_significant_or_too_small_does_not_promote():
    assert not promotion_decision(better_by(0.0, 0.5), better_by(0.03, 0.02), 3.0, RULES).promote
    assert not promotion_decision(better_by(0.0, 0.5), better_by(0.001, 0.0001), 3.0, RULES).promote


def test_a_recent_gain_may_be_traded_for_as_much_fixed_holdout_macro_f1_plus_the_tolerance():
    assert promotion_decision(better_by(-0.054, 1.0), better_by(0.05, 0.0005), 3.0, RULES).promote
    assert not promotion_decision(better_by(-0.056, 1.0), better_by(0.05, 0.0005), 3.0, RULES).promote


def test_better_on_one_holdout_and_worse_beyond_the_tolerance_on_the_other_is_ambiguous():
    decision = promotion_decision(better_by(-0.08, 1.0), better_by(0.05, 0.0005), 3.0, RULES)
    assert decision.promote is False and decision.ambiguous is True
    assert decision.reason.startswith("ambiguous") and "fixed holdout" in decision.reason
    fixed_only = promotion_decision(better_by(0.03, 0.001, 3798), better_by(-0.01, 0.9), 3.0, RULES)
    assert fixed_only.ambiguous and not fixed_only.promote  # no trade the other way


def test_a_small_recent_window_is_judged_on_the_fixed_holdout_alone_and_says_so():
    decision = promotion_decision(better_by(0.01, 0.001, 3798), better_by(-0.2, 1.0, rows=50), 3.0, RULES)
    assert decision.promote and "recent window 50 rows < 200: judged on the fixed holdout alone" in decision.reason
    assert not promotion_decision(better_by(0.0, 0.4), None, 3.0, RULES).promote


def test_force_promotes_anything_but_a_diverged_model():
    forced = promotion_decision(better_by(-0.3, 1.0), better_by(-0.3, 1.0), 3.0, GateRules(force_promote=True))
    assert forced.promote and forced.reason.startswith("forced")


def test_paired_bootstrap_gain_is_the_macro_f1_difference_and_p_is_small_only_for_a_real_gain():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(LABELS), 900)
    champion = np.where(rng.random(900) < 0.80, labels, rng.integers(0, len(LABELS), 900))
    better = np.where(rng.random(900) < 0.5, labels, champion)  # fixes half of the champion's errors
    result = paired_bootstrap(labels, champion, better)
    expected = f1_score(labels, better, average="macro") - f1_score(labels, champion, average="macro")
    assert result.gain == pytest.approx(expected) and result.gain > 0.05 and result.p_value < 0.001
    same = paired_bootstrap(labels, champion, champion)
    assert same.gain == 0 and same.p_value == 1.0
    noise = np.where(rng.random(900) < 0.02, rng.integers(0, len(LABELS), 900), champion)  # changes, no skill
    assert paired_bootstrap(labels, champion, noise).p_value > 0.05


def test_paired_bootstrap_is_deterministic():
    labels = np.arange(300) % len(LABELS)
    a, b = labels.copy(), labels.copy()
    a[:40] = (a[:40] + 1) % len(LABELS)
    b[:30] = (b[:30] + 1) % len(LABELS)
    assert paired_bootstrap(labels, a, b) == paired_bootstrap(labels, a, b)


def test_evaluate_reports_macro_f1_per_class_and_confusion():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(len(LABELS)), 40)
    x = np.eye(len(LABELS))[labels] + rng.normal(scale=0.1, size=(len(labels), len(LABELS)))
    params = {"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, labels), 20)
    result = evaluate(booster, x, labels)
    assert result["macro_f1"] == 1.0 and result["accuracy"] == 1.0
    assert set(result["per_class_f1"]) == set(LABELS)
    assert np.trace(np.array(result["confusion"])) == len(labels)
    assert 0 < result["max_abs_raw"] < 50 and result["rows"] == len(labels)


def test_log_loss_and_brier_of_hand_made_probabilities():
    probabilities = np.array([[1.0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0], [0, 0, 0, 0, 1.0]])
    losses = row_losses(np.array([0, 1, 0]), probabilities)
    assert losses["log_loss"][:2] == pytest.approx([0.0, np.log(2)])
    assert losses["log_loss"][2] == pytest.approx(-np.log(1e-15))  # clipped, not infinite
    assert losses["brier"] == pytest.approx([0.0, 0.5, 2.0])


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_grows_with_overconfidence():
    labels = np.zeros(10, dtype=np.int64)
    honest = np.tile([0.8, 0.2, 0, 0, 0], (10, 1))
    labels_honest = labels.copy()
    labels_honest[:2] = 1  # the top class (0) is right on 8 of 10 rows, said with 0.8
    assert calibration_error(labels_honest, honest) == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01, 0, 0, 0], (10, 1))
    assert calibration_error(labels_honest, overconfident) == pytest.approx(0.19)
    scores = probability_scores(labels_honest, honest)
    assert scores["rows"] == 10 and scores["ece"] == 0.0 and scores["brier"] == pytest.approx(0.32)


def test_paired_loss_bootstrap_finds_a_lower_loss_only_when_there_is_one():
    rng = np.random.default_rng(3)
    baseline = rng.exponential(0.3, 2000)
    lower = baseline - 0.05 + rng.normal(scale=0.02, size=2000)
    result = paired_loss_bootstrap(baseline, lower)
    assert result.rows == 2000 and result.gain == pytest.approx(0.05, abs=0.005) and result.p_value < 0.001
    assert paired_loss_bootstrap(lower, baseline).p_value == 1.0
    shuffled = baseline + rng.normal(scale=0.2, size=2000)  # as good on average, only different
    assert paired_loss_bootstrap(baseline, shuffled).p_value > 0.01


def test_error_ranking_is_one_when_the_smallest_margins_are_exactly_the_wrong_predictions():
    labels = np.array([0, 0, 0, 1])
    probabilities = np.array([[0.9, 0.1, 0, 0, 0], [0.8, 0.2, 0, 0, 0], [0.55, 0.35, 0.1, 0, 0],
                              [0.5, 0.45, 0.05, 0, 0]])
    assert error_ranking(labels, probabilities) == 1.0  # the one wrong row (the last) has the smallest margin
    assert error_ranking(np.array([1, 0, 0, 0]), probabilities) == 0.0  # the wrong row is the surest
    assert error_ranking(np.zeros(4, dtype=np.int64), probabilities) is None  # no wrong prediction
