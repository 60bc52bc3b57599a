"""The gate's look where the change is: slices of the rows a systematic correction touches, Holm's adjustment
with the whole-window test, and the promotion rule on them (model/slices.py, model/gate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tweet_sentiment.label_check.check import check_record
from tweet_sentiment.label_check.confident_learning import rows_corrected, rows_touched
from tweet_sentiment.model.comparison import CHALLENGER, CHAMPION, Holdout, Predicted, compare, look_at_slices
from tweet_sentiment.model.gate import GateRules, PairedComparison, SliceEvidence, paired_bootstrap, promotion_decision
from tweet_sentiment.model.slices import SliceComparison, adjusted_family, compare_slices, holm, sign_test
from tweet_sentiment.storage.fs import DataLayout, write_json_atomic

RULES = GateRules()


def test_holm_adjusts_step_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]) == [0.5]
    assert holm([0.9, 0.3]) == pytest.approx([0.9, 0.6])  # monotone
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # capped at 1


def test_sign_test_is_exact_on_the_discordant_rows():
    labels = np.zeros(12, dtype=int)
    gain, p, wins, losses = sign_test(labels, np.ones(12, dtype=int), labels.copy())
    assert (gain, wins, losses) == (1.0, 12, 0)
    assert p == pytest.approx(0.5 ** 12)
    _, p_tied, _, _ = sign_test(labels, labels.copy(), labels.copy())
    assert p_tied == 1.0  # no discordant row: no evidence


def _null_trial(rng: np.random.Generator, rows: int, slices: int, slice_rows: int, accuracy: float):
    """Labels and two models of the same accuracy, independent errors: a challenger no better than the champion."""
    labels = rng.integers(0, 5, rows)

    def model() -> np.ndarray:
        wrong = rng.random(rows) > accuracy
        return np.where(wrong, (labels + rng.integers(1, 5, rows)) % 5, labels)

    champion, challenger = model(), model()
    masks = {f"word{k}": np.isin(np.arange(rows), rng.choice(rows, slice_rows, replace=False))
             for k in range(slices)}
    window = paired_bootstrap(labels, champion, challenger, resamples=200, seed=int(rng.integers(1 << 30)))
    tests = compare_slices(labels, champion, challenger, masks)
    return window.p_value, tests


def test_holm_keeps_the_false_promotion_rate_under_the_null():
    """Simulated under the null (challenger and champion equally good, independent errors): the family of the
    whole-window test and five slice tests rejects anything in at most ~alpha of trials with Holm, while reading
    each test at alpha alone (no control) rejects far more often."""
    rng, alpha, trials = np.random.default_rng(7), 0.05, 300
    corrected = uncorrected = 0
    for _ in range(trials):
        window_p, tests = _null_trial(rng, rows=900, slices=5, slice_rows=40, accuracy=0.75)
        window_adjusted, slices = adjusted_family(window_p, tests)
        corrected += window_adjusted < alpha or any(s.adjusted_p < alpha for s in slices)
        uncorrected += window_p < alpha or any(t[2] < alpha for t in tests)
    assert corrected / trials <= alpha + 0.03  # alpha plus ~2.4 standard errors of 300 trials
    assert uncorrected / trials >= 2 * alpha


def _slice(gain: float, adjusted_p: float, rows: int = 12) -> SliceComparison:
    wins = round(gain * rows)
    return SliceComparison("sanitizer (towards negative)", "recent", rows, gain, wins, 0, adjusted_p, adjusted_p)


FIXED_WORSE = PairedComparison(3798, -0.011, 0.99)  # the old-label fixed holdout: the rule's rows cost there
WINDOW_FLAT = PairedComparison(900, 0.002, 0.04, adjusted_p=0.08)


def test_a_challenger_that_follows_the_correction_and_holds_elsewhere_is_promoted():
    evidence = SliceEvidence((_slice(0.5, 0.0004),), PairedComparison(880, 0.0, 0.5),
                             PairedComparison(3700, -0.001, 0.7))
    decision = promotion_decision(FIXED_WORSE, WINDOW_FLAT, 3.0, RULES, evidence)
    assert decision.promote and not decision.ambiguous
    assert "follows the team's correction" in decision.reason and "sanitizer" in decision.reason
    assert promotion_decision(FIXED_WORSE, WINDOW_FLAT, 3.0, RULES).promote is False  # without slices: kept


def test_following_the_correction_but_worse_elsewhere_goes_to_a_person():
    evidence = SliceEvidence((_slice(0.5, 0.0004),), PairedComparison(880, -0.02, 0.99),
                             PairedComparison(3700, -0.001, 0.7))
    decision = promotion_decision(FIXED_WORSE, WINDOW_FLAT, 3.0, RULES, evidence)
    assert not decision.promote and decision.ambiguous
    assert "worse beyond the tolerance elsewhere" in decision.reason


def test_a_slice_not_significant_after_holm_changes_nothing():
    evidence = SliceEvidence((_slice(0.5, 0.02),), PairedComparison(880, 0.0, 0.5), PairedComparison(3700, 0.0, 0.5))
    with_slices = promotion_decision(FIXED_WORSE, WINDOW_FLAT, 3.0, RULES, evidence)
    assert with_slices == promotion_decision(FIXED_WORSE, WINDOW_FLAT, 3.0, RULES)
    assert not with_slices.promote


def test_a_diverged_challenger_is_never_promoted_on_a_slice():
    evidence = SliceEvidence((_slice(0.5, 0.0001),), None, None)
    assert not promotion_decision(FIXED_WORSE, WINDOW_FLAT, 1e4, RULES, evidence).promote


def test_the_window_test_reads_its_holm_adjusted_p_value():
    better_alone = PairedComparison(900, 0.004, 0.008)
    assert promotion_decision(PairedComparison(3798, 0.0, 0.5), better_alone, 3.0, RULES).promote
    adjusted = PairedComparison(900, 0.004, 0.008, adjusted_p=0.016)
    evidence = SliceEvidence((_slice(0.0, 1.0),), None, None)
    assert not promotion_decision(PairedComparison(3798, 0.0, 0.5), adjusted, 3.0, RULES, evidence).promote


def test_rows_touched_splits_hashtags_folds_plurals_and_keeps_the_biggest_corrections():
    texts = ["Bought #HandSanitizers today", "no sanitiser here", "hand sanitizer prices", "toilet paper gone"]
    corrections = [{"word": "toilet", "direction": "towards negative", "rows": 11},
                   {"word": "sanitizer", "direction": "towards negative", "rows": 40},
                   {"word": "sanitizer", "direction": "towards positive", "rows": 12}]
    touched = rows_touched(texts, corrections)
    assert list(touched) == ["sanitizer (towards negative, towards positive)", "toilet (towards negative)"]
    assert touched["sanitizer (towards negative, towards positive)"].tolist() == [True, False, True, False]
    assert list(rows_touched(texts, corrections, limit=1)) == ["sanitizer (towards negative, towards positive)"]


def test_rows_corrected_keeps_only_the_rows_labelled_since_the_correction_began():
    texts = ["sanitizer a", "sanitizer b", "lockdown c", "sanitizer d"]
    corrections = [{"word": "sanitizer", "direction": "towards negative", "rows": 30, "since": "b2"}]
    rank_of = {"b0": 0, "b1": 1, "b2": 2, "b3": 3}
    (mask,) = rows_corrected(texts, [1, 2, 3, 3], corrections, rank_of).values()
    assert mask.tolist() == [False, True, False, True]  # b1's sanitizer row followed the old rule


def test_look_at_slices_adjusts_the_window_and_compares_the_rows_outside(tmp_path):
    rng = np.random.default_rng(3)
    texts = [f"tweet about sanitizer {i}" if i < 40 else f"tweet about lockdown {i}" for i in range(600)]
    batches = ["b1" if i < 10 else "b2" for i in range(600)]  # the first ten sanitizer rows: before the rule
    labels = rng.integers(0, 5, 600)
    champion = labels.copy()
    champion[10:40] = (labels[10:40] + 1) % 5  # the old rule on the rows the team relabelled
    challenger = labels.copy()  # learnt the team's rule; the same elsewhere
    challenger[:10] = (labels[:10] + 1) % 5  # and so gets the old rule's rows (old labels) wrong
    held = {"recent": Holdout(texts, labels, batches=batches), "fixed": Holdout(texts[40:], labels[40:], 1)}
    predicted = {"recent": {CHAMPION: Predicted(champion, 1.0), CHALLENGER: Predicted(challenger, 1.0)},
                 "fixed": {CHAMPION: Predicted(champion[40:], 1.0), CHALLENGER: Predicted(challenger[40:], 1.0)}}
    layout = DataLayout(tmp_path)
    write_json_atomic(layout.labels / "checks" / "b2.json", {"systematic_corrections": [
        {"word": "sanitizer", "direction": "towards negative", "rows": 30, "since": "b2"}]})
    corrections = check_record(layout, "b2")["systematic_corrections"]
    rank_of = {"b1": 0, "b2": 1}
    slices = rows_corrected(texts, [rank_of[b] for b in batches], corrections, rank_of)
    mentions = {name: rows_touched(h.texts, corrections) for name, h in held.items()}
    comparison = compare(held, predicted, 4)
    adjusted, evidence = look_at_slices(comparison, held, predicted, slices, mentions)
    assert adjusted.paired["recent"].adjusted_p >= comparison.paired["recent"].p_value
    (only,) = evidence.slices
    assert (only.rows, only.wins, only.losses) == (30, 30, 0) and only.adjusted_p < 0.01
    assert evidence.recent_outside.rows == 560 and evidence.recent_outside.gain == 0  # no sanitizer row at all
    assert evidence.fixed_outside.rows == 560
    decision = promotion_decision(adjusted.paired["fixed"], adjusted.paired["recent"], 1.0, RULES, evidence)
    assert decision.promote
    assert look_at_slices(comparison, held, predicted, {}, {}) == (comparison, None)
    assert check_record(layout, "never-checked") == {}


def test_the_gate_with_slices_promotes_a_no_better_challenger_no_more_often_than_without():
    """Under the null (equal models, independent errors) the whole rule, fixed holdout included, promotes with the
    slices about as often as without them (each at significance 0.05 here, for resolution)."""
    rng, rules, trials = np.random.default_rng(11), GateRules(significance=0.05), 200
    with_slices = without = 0
    for _ in range(trials):
        seed = int(rng.integers(1 << 30))
        window_p, tests = _null_trial(rng, rows=900, slices=3, slice_rows=40, accuracy=0.75)
        labels = rng.integers(0, 5, 1000)
        fixed_models = [np.where(rng.random(1000) > 0.75, (labels + 1) % 5, labels) for _ in range(2)]
        fixed = paired_bootstrap(labels, *fixed_models, resamples=200, seed=seed)
        recent = PairedComparison(900, 0.0, window_p)
        without += promotion_decision(fixed, recent, 3.0, rules).promote
        window_adjusted, slices = adjusted_family(window_p, tests)
        outside = paired_bootstrap(labels[:800], fixed_models[0][:800], fixed_models[1][:800], resamples=200,
                                   seed=seed)
        evidence = SliceEvidence(tuple(slices), outside, outside)
        adjusted = PairedComparison(900, 0.0, window_p, adjusted_p=window_adjusted)
        with_slices += promotion_decision(fixed, adjusted, 3.0, rules, evidence).promote
    assert with_slices / trials <= without / trials + 0.03
    assert with_slices / trials <= 2 * rules.significance + 0.03  # the two holdouts' routes, as today
