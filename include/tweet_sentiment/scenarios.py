"""Annotator scenarios for `make quality`: streams in which people label differently from the lexicon.

A policy is what a team of annotators decides from some batch on ("a tweet about X is bad news"): every
streamed row whose cleaned text matches the policy's pattern is relabelled by the policy's map from its start
batch on (labels the map does not name stay as they are).
The fixed holdout keeps its labels unless the policy says the team relabelled it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tweet_sentiment.schema import LABEL_COLUMN, TEXT_COLUMN
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
# The scenario `make quality SCENARIO=policy` runs: from batch 6 on, a team reads every tweet about hand sanitizer
# as bad news (shortages, price gouging, hoarding), whatever words of comfort it holds. It relabels 6.7 % of the
# rows streamed after it starts; the fixed holdout keeps its labels.
POLICIES: dict[str, Policy] = {
    "policy": Policy("policy", r"saniti[sz]er", AS_BAD_NEWS, start_batch=6),
}
