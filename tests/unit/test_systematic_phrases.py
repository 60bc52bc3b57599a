"""Systematic corrections of rules written as several words or phrases (label_check.confident_learning): the phrase
is found (not its common words, not the words riding along in the topic's tweets), every consumer reads it the
same way (the teaching weights, the gate's slices, the holdout re-annotation, the refit trigger), and the dataset's
plain and noisy streams yield no correction at all while its policy streams yield their rules' terms."""

import functools
import random

import pandas as pd
import pytest

from lab.scenarios import POLICIES, flip_labels, with_feedback
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.label_check.confident_learning import (
    TOWARDS_POSITIVE,
    LabelCheckParams,
    follows_correction,
    rows_corrected,
    rows_touched,
    systematic_corrections,
)
from tweet_sentiment.label_check.teaching import TeachingWeights, teaching_weights
from tweet_sentiment.model.terms import terms_of
from tweet_sentiment.schema import LABEL_COLUMN, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet

PARAMS = LabelCheckParams()
NEGATIVE_SIDE = ["Extremely Negative", "Negative", "Neutral"]


def frame(rows: list[tuple[str, str, str]], batch_id: str = "b1") -> pd.DataFrame:
    """(text, label, suggested) rows, each by one of eight annotators."""
    return pd.DataFrame([{"text": t, "label": y, "suggested_label": s, "annotator": f"ann{i // 2 % 8}",
                          "batch_id": batch_id} for i, (t, y, s) in enumerate(rows)])


def _filler(i: int) -> str:
    """A word no other row holds."""
    return f"zz{chr(97 + i // 26)}{chr(97 + i % 26)}"


def stay_home_stream() -> pd.DataFrame:
    """A team reads staying at home as good news: 30 tweets saying it in three ways, suggested negative or neutral,
    corrected to positive; 30 more already suggested positive (nothing to move); "stay" and "home" in 200 tweets
    about other things, left as suggested; "lockdown" in half the corrected tweets (it rides along)."""
    rows = []
    for i in range(30):
        said = ("stay home", "staying at home", "#StayHome")[i % 3]
        rows.append((f"{said} {_filler(i)}" + (" lockdown" if i % 2 else ""), "Positive", NEGATIVE_SIDE[i % 3]))
        rows.append((f"{said} {_filler(100 + i)}", "Positive", "Positive"))
    for i in range(100):
        rows.append((f"stay safe everyone {i}", ("Negative", "Positive")[i % 2], ("Negative", "Positive")[i % 2]))
        rows.append((f"home prices fall {i}", "Negative", "Negative"))
    return frame(rows)


def test_a_multi_phrase_rule_is_found_as_its_phrase_not_as_its_common_words():
    rows = stay_home_stream()
    found = systematic_corrections(rows, PARAMS)
    assert set(zip(found["word"], found["direction"], strict=True)) == {("stay home", TOWARDS_POSITIVE),
                                                                         ("staying home", TOWARDS_POSITIVE)}
    # the share counts the rows whose suggestion people moved: 20 of the 20 negative/neutral "stay home" rows (the
    # 20 suggested positive could not move towards positive and do not dilute it)
    assert found.set_index("word").loc["stay home", ["rows", "share"]].tolist() == [20, 1.0]
    assert terms_of("Staying at HOME #StayHome, working from homes") >= {"staying home", "stay home", "from home"}


def test_a_correction_names_the_labels_the_team_moves_away_from_not_a_few_stray_moves():
    rows = stay_home_stream()
    # two stay-home tweets suggested Positive moved to Extremely Positive (also towards positive): 2 of the 22
    # "stay home" rows suggested Positive (20 of them already in the stream), under min_share
    stray = frame([(f"stay home {_filler(300 + i)}", "Extremely Positive", "Positive") for i in range(2)], "b1")
    found = systematic_corrections(pd.concat([rows, stray], ignore_index=True), PARAMS).set_index("word")
    # the stream's "stay home" tweets were suggested Extremely Negative ("stay home ...") or Neutral ("#StayHome")
    assert found.loc["stay home", "moved_from"] == ["Extremely Negative", "Neutral"]


def test_words_riding_along_with_a_correction_are_not_corrections_of_their_own():
    rows = stay_home_stream()
    # half the corrected rows also say "lockdown": 15 rows by eight people, share 1.0, yet explained away
    corrected = follows_correction(rows, systematic_corrections(rows, PARAMS))
    assert sum(bool(c) for c in corrected) == 30
    assert not any("lockdown" in c for c in corrected)
    # with the ride-along rule off, the common word is reported beside the phrase
    loose = systematic_corrections(rows, LabelCheckParams(ride_along=1.01))
    assert "lockdown" in set(loose["word"])


def test_a_phrase_correction_drives_teaching_weights_slices_and_holdout_rows():
    rows = stay_home_stream()
    found = systematic_corrections(rows, PARAMS)
    batch = rows.assign(text_hash=rows["text"])
    weights = teaching_weights(batch, pd.DataFrame(columns=["text_hash", "label"]), found,
                               TeachingWeights(1.0, 1.0, 3.0))
    said = batch["text"].str.contains("stay", case=False)
    moved = batch["label"] != batch["suggested_label"]
    assert (weights[said & moved] == 3).all() and (weights[~(said & moved)] == 1).all()
    texts = ["#StayHome and read", "please stay home", "stay safe at home", "home stay"]
    touched = rows_touched(texts, found.to_dict("records"))
    assert touched["stay home (towards positive)"].tolist() == [True, True, False, False]
    sliced = rows_corrected(texts, [0, 1, 1, 1], found.to_dict("records"), {"b1": 1})
    assert sliced["stay home (towards positive)"].tolist() == [False, True, False, False]


@functools.cache
def _dataset(rows: int) -> tuple[list[str], list[list[str]], list[str]]:
    """The dataset's first ``rows`` chronological rows: header, rows, cleaned texts (read once per session)."""
    header, found = chronological_rows(Settings.from_env().train_file)
    text = header.index(TEXT_COLUMN)
    return header, found[:rows], [clean_tweet(r[text]) for r in found[:rows]]


def _stream_windows(scenario: str, batches: list[int]) -> dict[int, pd.DataFrame]:
    """The dataset's chronological stream as the lab sends it (bootstrap 8,000, batches of 2,000, annotators'
    batches), ``scenario`` a policy (from batch 6), "plain" or "noisy" (10 % flipped from batch 1); for each of
    ``batches`` the rows the label check counts corrections over (that batch and the three before)."""
    header, rows, cleaned = _dataset(8000 + 2000 * 12)
    label, rng = header.index(LABEL_COLUMN), random.Random(7)
    frames = []
    for k in range(max(batches) + 1):
        lo, hi = (0 if k == 0 else 8000 + 2000 * (k - 1)), 8000 + 2000 * k
        batch = rows[lo:hi]
        sent = (POLICIES[scenario].apply(header, batch)[0] if scenario in POLICIES and k >= 6
                else flip_labels(header, batch, 0.1, rng)[0] if scenario == "noisy" and k else batch)
        _, out = with_feedback(header, sent, batch)
        frames.append(pd.DataFrame({"text": cleaned[lo:hi], "label": [r[label] for r in out],
                                    "suggested_label": [r[-2] if k else "" for r in out],
                                    "annotator": [r[-3] for r in out], "batch_id": f"b{k:04d}"}))
    return {k: pd.concat(frames[max(0, k - 3):k + 1], ignore_index=True) for k in batches}


@pytest.mark.parametrize(("scenario", "expected"), [("stay_home", {"stay home"}),
                                                    ("toilet_paper", {"toilet paper", "toiletpaper"}),
                                                    ("sanitizer", {"sanitizer"})])
def test_each_policy_of_the_dataset_is_found_in_its_first_batch_as_its_own_terms(scenario, expected):
    (window,) = _stream_windows(scenario, [6]).values()
    found = systematic_corrections(window, PARAMS)
    assert set(found["word"]) == expected and set(found["since"]) == {"b0006"}
    # the labels the rule moves away from: those its map relabels (an older row with one contradicts it)
    assert {tuple(m) for m in found["moved_from"]} == {tuple(sorted(POLICIES[scenario].relabel))}


@pytest.mark.parametrize("scenario", ["plain", "noisy"])
def test_the_datasets_plain_and_noisy_streams_yield_no_systematic_correction(scenario):
    for k, window in _stream_windows(scenario, [3, 8, 12]).items():
        found = systematic_corrections(window, PARAMS)
        assert found.empty, f"batch {k}: {found.to_dict('records')}"
