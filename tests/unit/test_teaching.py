"""The rows that teach weigh more (label_check.teaching): corrections, supersessions, systematic corrections."""

import numpy as np
import pandas as pd
import pytest

from tweet_sentiment.label_check.teaching import TeachingWeights, teaching_weights

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
