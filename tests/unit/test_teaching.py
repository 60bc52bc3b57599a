"""The rows that teach weigh more (label_check.teaching): corrections, supersessions, systematic corrections; the
older rows a systematic correction contradicts weigh less, and the corrections found are remembered for that
(label_check.known_corrections)."""

import numpy as np
import pandas as pd
import pytest

from tweet_sentiment.label_check.known_corrections import first_found_in, known_corrections, remember_corrections
from tweet_sentiment.label_check.teaching import TeachingWeights, outdated_weights, teaching_weights
from tweet_sentiment.model.comparison import Holdout
from tweet_sentiment.pipeline.challenger import row_weights
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import without_contradicted
from tweet_sentiment.schema import LABEL_TO_ID
from tweet_sentiment.storage.fs import DataLayout

SANITIZER_TOWARDS_NEGATIVE = pd.DataFrame({"word": ["sanitizer"], "direction": ["towards negative"]})


def batch(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(text, label, suggested label) rows; a text's hash is the text."""
    return pd.DataFrame([{"text": t, "text_hash": t, "label": y, "suggested_label": s} for t, y, s in rows])


def test_each_kind_of_teaching_row_gets_its_multiplier_and_the_largest_wins():
    rows = batch([("nice walk", "Positive", "Positive"),            # agrees with the suggestion: 1
                  ("odd day", "Negative", "Neutral"),              # a correction: 2
                  ("old tweet", "Neutral", "Neutral"),             # relabels a text stored as Positive: 2
                  ("same again", "Neutral", "Neutral"),            # stored before with the same label: 1
                  ("sanitizer back", "Negative", "Positive"),      # follows the systematic correction: 3
                  ("sanitizer sold", "Positive", "Negative"),      # a correction the other way: 2 only
                  ("no suggestion", "Negative", "")])              # nothing was shown: 1
    earlier = pd.DataFrame({"text_hash": ["old tweet", "same again"], "label": ["Positive", "Neutral"]})
    weights = teaching_weights(rows, earlier, SANITIZER_TOWARDS_NEGATIVE, TeachingWeights(2.0, 2.0, 3.0))
    assert weights.tolist() == [1, 2, 2, 1, 3, 2, 1]


def test_no_systematic_corrections_and_unit_weights_leave_every_row_at_one():
    rows = batch([("sanitizer back", "Negative", "Positive"), ("x y z", "Positive", "Positive")])
    empty = pd.DataFrame(columns=["text_hash", "label"])
    assert teaching_weights(rows, empty, pd.DataFrame(columns=["word", "direction"]),
                            TeachingWeights(1, 1, 1)).tolist() == [1, 1]
    assert teaching_weights(rows, empty, SANITIZER_TOWARDS_NEGATIVE, TeachingWeights()).tolist() == [
        TeachingWeights().systematic, 1]
    assert len(teaching_weights(rows.iloc[:0], empty, SANITIZER_TOWARDS_NEGATIVE, TeachingWeights())) == 0


def test_a_teaching_weight_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        TeachingWeights(correction=0.5)
    assert np.isclose(TeachingWeights().systematic, 3.0)
    for weight in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            TeachingWeights(outdated=weight)


SANITIZER_SINCE_B2 = [{"word": "sanitizer", "direction": "towards negative", "since": "b2",
                       "moved_from": ["Neutral", "Positive"], "found_in": "b3"},
                      {"word": "stay home", "direction": "towards positive", "since": "b2",
                       "moved_from": ["Negative"], "found_in": "b3"}]
AGES = {"b0": 3, "b1": 2, "b2": 1, "b3": 0}  # b3 the newest; the corrections began in b2


def older(rows: list[tuple[str, str, str]], label_weight: float = 1.0) -> pd.DataFrame:
    """(text, label, batch id) rows as training reads them."""
    return pd.DataFrame([{"text": t, "label": y, "batch_id": b, "label_weight": label_weight} for t, y, b in rows])


CONTRADICTION_CASES = [
    ("sanitizer sold out", "Positive", "b1", True),            # older, the term, a label the team moves away from
    ("sanitizers everywhere", "Neutral", "b0", True),          # a plural, folded as the check reads it
    ("#HandSanitizer gone", "Positive", "b0", True),           # a hashtag, split as the check reads it
    ("#StayHome now", "Negative", "b1", True),                 # a phrase's term
    ("sanitizer sold out again", "Negative", "b1", False),     # already the label the team gives
    ("sanitizer restocked", "Positive", "b2", False),          # labelled since the correction began
    ("sanitizer fine", "Positive", "b3", False),               # newer still
    ("insanitizer fun", "Positive", "b0", False),              # holds the letters, not the term
    ("staying at home is hard", "Negative", "b0", False),      # another phrase ("staying home")
    ("stay safe at home", "Negative", "b0", False),            # the words, not the phrase
    ("soap sold out", "Positive", "b0", False),                # another topic
    ("sanitizer from an unknown batch", "Positive", "zz", False),
]


@pytest.mark.parametrize("weight", [0.3, 0.0])
def test_an_older_row_a_correction_contradicts_weighs_the_stated_weight_and_no_other_row_moves(weight):
    rows = older([(t, y, b) for t, y, b, _ in CONTRADICTION_CASES])
    expected = [weight if contradicted else 1.0 for *_, contradicted in CONTRADICTION_CASES]
    assert outdated_weights(rows, SANITIZER_SINCE_B2, AGES, weight).tolist() == expected
    # a correction whose start the store no longer holds contradicts nothing; none at all: nothing either
    gone = [{**c, "since": "b-dropped"} for c in SANITIZER_SINCE_B2]
    assert outdated_weights(rows, gone, AGES, weight).tolist() == [1.0] * len(rows)
    assert outdated_weights(rows, [], AGES, weight).tolist() == [1.0] * len(rows)


@pytest.mark.parametrize("label_weight", [0.2, 1.0, 3.0])
def test_training_weighs_contradicted_rows_down_and_never_up_whatever_the_label_check_stored(label_weight):
    # 0.2: a row the check down-weighted; 3: a row that teaches. Held rows are not in the store at all.
    rows = older([(t, y, b) for t, y, b, _ in CONTRADICTION_CASES if b != "zz"], label_weight)
    options = RunOptions(teaching=TeachingWeights(outdated=0.3))
    weights, outdated = row_weights(rows, AGES, options, SANITIZER_SINCE_B2)
    unweighted, none = row_weights(rows, AGES, options, [])
    contradicted = np.array([c for *_, b, c in CONTRADICTION_CASES if b != "zz"])
    assert none == 0 and outdated == contradicted.sum() == 4
    assert np.allclose(weights[contradicted], 0.3 * unweighted[contradicted])
    assert np.array_equal(weights[~contradicted], unweighted[~contradicted])
    assert (weights <= unweighted).all()  # never up-weighted: a down-weighted row only goes lower


def test_the_corrections_found_are_remembered_from_where_they_began_until_the_team_reverses_them(tmp_path):
    layout = DataLayout(tmp_path / "data")
    found = pd.DataFrame([{"word": "sanitizer", "direction": "towards negative", "rows": 20, "since": "b2",
                           "moved_from": ["Positive"]}])
    first = remember_corrections(layout, "b3", found)
    assert first == known_corrections(layout) == [{"word": "sanitizer", "direction": "towards negative",
                                                   "since": "b2", "moved_from": ["Positive"], "found_in": "b3"}]
    assert remember_corrections(layout, "b3", found) == first  # a retry of the check changes nothing
    assert first_found_in(layout, "b3") == first and first_found_in(layout, "b4") == []
    # found again later (the check's window moved on: since b4) with one more label: the start stays b2
    later = found.assign(since="b4", moved_from=[["Neutral"]])
    assert remember_corrections(layout, "b6", later) == [{**first[0], "moved_from": ["Neutral", "Positive"]}]
    # the team changes its mind: the other direction replaces the record, from where it began
    reversed_ = found.assign(direction="towards positive", since="b7", moved_from=[["Negative"]])
    assert remember_corrections(layout, "b8", reversed_) == [{"word": "sanitizer", "direction": "towards positive",
                                                             "since": "b7", "moved_from": ["Negative"],
                                                             "found_in": "b8"}]
    assert first_found_in(layout, "b8")[0]["direction"] == "towards positive"


def test_the_gate_judges_without_the_holdout_rows_a_known_correction_contradicts():
    texts = [t for t, *_ in CONTRADICTION_CASES]
    labels = np.array([LABEL_TO_ID[y] for _, y, *_ in CONTRADICTION_CASES])
    batches = [b for _, _, b, _ in CONTRADICTION_CASES]
    recent = Holdout(texts, labels, batches=batches)
    fixed = Holdout(texts, labels, version=3)  # no batch: older than any correction (re-annotated: a new label)
    held_out, left_out = without_contradicted({"fixed": fixed, "recent": recent}, SANITIZER_SINCE_B2, AGES)
    kept = [t for t, _, _, c in CONTRADICTION_CASES if not c]
    assert held_out["recent"].texts == kept and held_out["recent"].batches == [
        b for _, _, b, c in CONTRADICTION_CASES if not c]
    assert held_out["recent"].labels.tolist() == [LABEL_TO_ID[y] for _, y, _, c in CONTRADICTION_CASES if not c]
    # the fixed holdout's rows have no batch: "sanitizer restocked" (Positive) and the others labelled the old way
    # leave too, whatever batch the window's copy came from
    assert set(texts) - set(held_out["fixed"].texts) == {
        t for t, y, _, _ in CONTRADICTION_CASES if t.lower().count("saniti") and y in ("Positive", "Neutral")
        and not t.startswith("insanitizer")} | {"#StayHome now"}
    assert left_out == {"recent": 4, "fixed": 4 + 3} and held_out["fixed"].version == 3
    unchanged, none = without_contradicted({"fixed": fixed, "recent": recent}, [], AGES)
    assert unchanged["fixed"] is fixed and unchanged["recent"] is recent and none == {"fixed": 0, "recent": 0}
