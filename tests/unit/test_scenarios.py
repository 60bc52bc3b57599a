import pytest

from lab.scenarios import AS_BAD_NEWS, POLICIES, Policy
from lab.stream import QualityOptions, batch_bounds
from lab.summary import policy_figures

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
    assert QualityOptions(scenario="policy").policy is POLICIES["policy"]
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
