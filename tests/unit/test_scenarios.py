import numpy as np
import pytest

from lab import policies
from lab.policies import annotators_holdout, median_or_never, policy_summary, scores
from lab.scenarios import AS_BAD_NEWS, POLICIES, Policy
from lab.stream import QualityOptions, batch_bounds
from lab.summary import policy_figures
from tweet_sentiment.model.comparison import Holdout
from tweet_sentiment.schema import LABEL_TO_ID, LABELS

HEADER = ["UserName", "ScreenName", "Location", "TweetAt", "OriginalTweet", "Sentiment"]


def row(text: str, label: str) -> list[str]:
    return ["1", "2", "", "16-03-2020", text, label]


def test_a_policy_relabels_matching_rows_keeping_intensity_and_counts_the_changes():
    policy = Policy("p", r"saniti[sz]er", AS_BAD_NEWS, start_batch=2)
    rows = [row("Hand SANITISER back in stock!", "Extremely Positive"), row("sanitizer prices", "Neutral"),
            row("no sanitizer anywhere", "Negative"), row("toilet paper is back", "Positive")]
    relabelled, changed = policy.apply(HEADER, rows)
    assert [r[-1] for r in relabelled] == ["Extremely Negative", "Negative", "Negative", "Positive"]
    assert changed == 2 and rows[0][-1] == "Extremely Positive"  # the input is left as it was


def test_the_shipped_policy_scenario_and_unknown_scenarios():
    assert QualityOptions(scenario="sanitizer").policy is POLICIES["sanitizer"]
    assert QualityOptions(scenario="policy").policy is None  # every policy in turn: lab/policies.py
    assert QualityOptions().policy is None
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        _ = QualityOptions(scenario="nope").policy


def test_batch_bounds_cover_the_file():
    assert batch_bounds(10, 4, 3, None) == [(0, 4), (4, 7), (7, 10)]
    assert batch_bounds(10, 4, 3, 1) == [(0, 4), (4, 7)]


def test_policy_figures_read_three_batches_after_the_start():
    policy = Policy("p", "x", AS_BAD_NEWS, start_batch=1)
    cycles = [{"cycle": k, "rows_seen": 100 * (k + 1), "rows_touched": 0 if k == 0 else 10,
               "continue_recent_f1": f, "plain_recent_f1": 0.98, "refit_challenger_recent_f1": f + 0.004,
               "continue_promoted": k == 4, "continue_ambiguous": k == 3}
              for k, f in enumerate([0.98, 0.975, 0.90, 0.97, 0.975])]
    figures = policy_figures(cycles, policy)
    assert figures["batches_to_decision"] == 3  # the first batch whose challenger went to a person
    assert figures["batches_to_adapt"] == 3  # close at the first batch, not at the second, and from the third on
    assert figures["policy_macro_f1"] == 0.97 and figures["plain_macro_f1_same_rows"] == 0.98
    assert figures["policy_gap_to_refit"] == pytest.approx(0.004)
    assert figures["rows_relabelled_share"] == pytest.approx(40 / 400)


def test_an_annotators_holdout_relabels_a_copy_and_scores_the_rules_rows():
    fixed = Holdout(["sanitizer in stock", "sanitizer gone", "toilet paper", "nice day"],
                    np.array([LABEL_TO_ID[x] for x in ("Positive", "Negative", "Positive", "Neutral")]))
    annotators = annotators_holdout(fixed, Policy("p", r"saniti[sz]er", AS_BAD_NEWS, start_batch=1))
    assert [LABELS[y] for y in annotators.holdout.labels] == ["Negative", "Negative", "Positive", "Neutral"]
    assert annotators.touched.tolist() == [True, False, False, False]
    assert annotators.matching.tolist() == [True, True, False, False]
    assert fixed.labels[0] == LABEL_TO_ID["Positive"]  # a copy: the fixed holdout keeps its labels
    figures = scores(annotators.holdout.labels, annotators)
    assert figures["policy_rows_accuracy"] == 1.0 and figures["unaffected_macro_f1"] == 0.4  # 2 of 5 classes
    assert scores(fixed.labels, annotators)["policy_rows_accuracy"] == 0.0


def test_the_policy_summary_reads_gap_closed_and_the_batches_to_accuracy_and_decision():
    policy = Policy("p", "x", AS_BAD_NEWS, start_batch=2)
    f1 = [0.90, 0.90, 0.91, 0.93, 0.94]
    accuracy = [0.1, 0.1, 0.5, 0.85, 0.7]
    decisions = [None, None, None, None, "promoted"]
    batches = [{"batch": k, "rows_relabelled": 5 if k >= 2 else 0, "macro_f1": f, "policy_rows_accuracy": a,
                "unaffected_macro_f1": 0.97, "promoted": d == "promoted", "ambiguous": False, "decision": d,
                "train_cpu_s": 2.0, "refit_version": "v" if k == 3 else None, "refit_cpu_s": 3.0 if k == 3 else 0.0,
                "refit_promoted": False}
               for k, (f, a, d) in enumerate(zip(f1, accuracy, decisions, strict=True))]
    summary = policy_summary(policy, batches, batches[0], {"macro_f1": 0.95, "policy_rows_accuracy": 0.9}, 30, 1.0)
    assert summary["gap_closed"] == pytest.approx(0.8)
    assert summary["policy_rows_accuracy"] == [0.5, 0.85, 0.7]
    assert summary["batches_to_policy_accuracy_0_8"] == 2  # reached at the second batch of the rule
    assert summary["batches_to_decision"] == 3 and summary["rows_relabelled"] == 15
    assert summary["refit_cpu_s_per_batch"] == 0.75 and summary["train_cpu_s_per_batch"] == 2.0  # bootstrap apart
    assert summary["refit_challengers"] == 1 and summary["refit_promotions"] == 0


def test_medians_count_never_as_later_than_any_batch():
    assert median_or_never([1, 3, None]) == 3
    assert median_or_never([2, None, None]) is None
    assert median_or_never([1, 2, 3, 4]) == 2.5
    assert median_or_never([]) is None


def test_both_holdouts_reads_the_decision_from_the_old_label_run_and_the_rest_from_the_teams(monkeypatch):
    runs = {True: {"batches": 17, "gap_closed_median": 0.9, "batches_to_policy_accuracy_0_8_median": 2.0,
                   "batches_to_decision_median": 1.0, "unaffected_macro_f1_min": 0.972,
                   "refit_cpu_s_per_batch_median": 1.3, "seconds": 600.0},
            False: {"batches": 17, "gap_closed_median": 0.7, "batches_to_policy_accuracy_0_8_median": None,
                    "batches_to_decision_median": 3.0, "unaffected_macro_f1_min": 0.969,
                    "refit_cpu_s_per_batch_median": 1.5, "seconds": 700.0}}
    seen = []

    def run(settings, options, names):
        seen.append(options.reannotate)
        return runs[options.reannotate]

    monkeypatch.setattr(policies, "policy_stream", run)
    both = policies.both_holdouts(None, QualityOptions(scenario="policy"))
    assert seen == [True, False]
    assert both["gap_closed_median"] == 0.9 and both["batches_to_policy_accuracy_0_8_median"] == 2.0
    assert both["batches_to_decision_median"] == 3.0 and both["unaffected_macro_f1_min"] == 0.969
    assert both["team_holdout"] is runs[True] and both["old_holdout"] is runs[False] and both["seconds"] == 1300
    assert policies.both_holdouts(None, QualityOptions(), holdout="old") is runs[False] and seen[-1] is False
    with pytest.raises(ValueError, match="unknown holdout"):
        policies.both_holdouts(None, QualityOptions(), holdout="new")
