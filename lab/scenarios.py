"""Annotator scenarios for `make quality`: streams in which people label differently from the lexicon.

A policy is what a team of annotators decides from some batch on ("a tweet about X is bad news"): every
streamed row whose cleaned text matches the policy's pattern is relabelled by the policy's map from its start
batch on (labels the map does not name stay as they are).
The fixed holdout keeps its labels unless the policy says the team relabelled it too. The streams are sent as
annotators' batches (with_feedback); the noisy scenario (label_check_quality.py) flips labels at random.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tweet_sentiment.schema import FEEDBACK_COLUMNS, LABEL_COLUMN, LABELS, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet


@dataclass(frozen=True)
class Policy:
    """Rows matching ``pattern`` (on the cleaned text, case-insensitive) are relabelled by ``relabel`` (old label
    → new label) from ``start_batch`` on (batch 0 is the bootstrap); ``relabel_holdout``: the fixed holdout is
    relabelled too."""

    name: str
    pattern: str
    relabel: Mapping[str, str]
    start_batch: int
    relabel_holdout: bool = False

    def matches(self, text: str) -> bool:
        """Whether the policy applies to a tweet (raw or cleaned: it is cleaned first)."""
        return re.search(self.pattern, clean_tweet(text), flags=re.IGNORECASE) is not None

    def apply(self, header: list[str], rows: list[list[str]]) -> tuple[list[list[str]], int]:
        """The rows with the policy's label where the text matches, and how many labels that changed."""
        text, label = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
        out, changed = [], 0
        for row in rows:
            new = self.relabel.get(row[label], row[label])
            if new != row[label] and self.matches(row[text]):
                row = [*row[:label], new, *row[label + 1:]]
                changed += 1
            out.append(row)
        return out, changed


# Bad news, keeping the intensity: what the lexicon read as good or neutral becomes negative.
AS_BAD_NEWS: Mapping[str, str] = {"Extremely Positive": "Extremely Negative", "Positive": "Negative",
                                  "Neutral": "Negative"}
# Good news, keeping the intensity: what the lexicon read as bad or neutral becomes positive.
AS_GOOD_NEWS: Mapping[str, str] = {"Extremely Negative": "Extremely Positive", "Negative": "Positive",
                                   "Neutral": "Positive"}
# The policies `make quality SCENARIO=policy` runs (lab/policies.py), each from batch 6 on; `SCENARIO=<name>` streams
# one of them beside a refit and a plain pipeline (stream.py). Of the rows streamed from batch 6 on, the rule changes
# the label of 6.7 % (sanitizer), 3.7 % (toilet paper), 2.3 % (staying home); of the fixed holdout's 3,798 rows,
# 99, 161 and 45.
POLICIES: dict[str, Policy] = {
    # today's rule: a team reads every tweet about hand sanitizer as bad news (shortages, gouging, hoarding)
    "sanitizer": Policy("sanitizer", r"saniti[sz]er", AS_BAD_NEWS, start_batch=6),
    # a two-word topic: toilet paper or toilet rolls are bad news (panic buying, empty shelves)
    "toilet_paper": Policy("toilet_paper", r"toilet ?(paper|rolls?)\b", AS_BAD_NEWS,
                           start_batch=6),
    # several phrases, the other direction: staying or working at home is good news (people protecting others)
    "stay_home": Policy("stay_home", r"\bstay(ing)? ?(at )?home|\bwork(ing)? from home|\bwfh\b", AS_GOOD_NEWS,
                        start_batch=6),
}


SIMULATED_ANNOTATORS = 8


def with_feedback(header: list[str], rows: list[list[str]],
                  shown: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """``rows`` as annotators' batches are sent: the feedback columns added, each row by one of
    SIMULATED_ANNOTATORS people (chosen by its text), who was shown the label of the same row in ``shown`` (the
    lexicon's label: what the champion, trained on it, suggests) and corrected it where the labels differ."""
    text, label = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
    out = [[*row, f"annotator-{int(hashlib.sha256(row[text].encode()).hexdigest()[:8], 16) % SIMULATED_ANNOTATORS}",
            seen[label], str(row[label] != seen[label]).lower()] for row, seen in zip(rows, shown, strict=True)]
    return [*header, *FEEDBACK_COLUMNS], out


def flip_labels(header: list[str], rows: list[list[str]], share: float,
                rng: random.Random) -> tuple[list[list[str]], set[int]]:
    """The rows with ``share`` of their labels flipped at random to another class; the flipped rows' numbers
    (1-based, as the ingest's ``source_row``)."""
    label = header.index(LABEL_COLUMN)
    out, flipped = [], set()
    for number, row in enumerate(rows, start=1):
        if row[label] in LABELS and rng.random() < share:
            row = [*row[:label], rng.choice([c for c in LABELS if c != row[label]]), *row[label + 1:]]
            flipped.add(number)
        out.append(row)
    return out, flipped
