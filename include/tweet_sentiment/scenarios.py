"""Annotator scenarios for `make quality`: streams in which people label differently from the lexicon.

A policy is what a team of annotators decides from some batch on ("a tweet about X is read as Y"): every
streamed row whose cleaned text matches the policy's pattern gets the policy's label from its start batch on.
The fixed holdout keeps its labels unless the policy says the team relabelled it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tweet_sentiment.schema import LABEL_COLUMN, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet


@dataclass(frozen=True)
class Policy:
    """Rows matching ``pattern`` (on the cleaned text, case-insensitive) are labelled ``label`` from
    ``start_batch`` on (batch 0 is the bootstrap); ``relabel_holdout``: the fixed holdout is relabelled too."""

    name: str
    pattern: str
    label: str
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
            if self.matches(row[text]) and row[label] != self.label:
                row = [*row[:label], self.label, *row[label + 1:]]
                changed += 1
            out.append(row)
        return out, changed


# The scenario `make quality SCENARIO=policy` runs: a team decides that tweets about prices and price gouging
# are bad news, whatever words of comfort they hold (the lexicon reads "lower prices" or "help" as positive).
POLICIES: dict[str, Policy] = {
    "policy": Policy("policy", r"\bpric(e|es|ing)\b|\bgoug", "Negative", start_batch=6),
}
