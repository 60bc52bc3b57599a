"""Synthetic labelled tweets: each a recombination of word runs of the dataset's cleaned tweets.

A batch's rows are a pure function of the seed and the batch number, so the history of any size is the same
sequence of batches (a smaller history is a prefix of a larger one) and a batch can be made again at any time.
From the second batch on, ``relabel_fraction`` of each batch repeats a text of an earlier batch with another label
(the newest human label supersedes the older one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from benchmarks.scale.options import ScaleOptions
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.schema import DATE_COLUMN, KAGGLE_COLUMNS, LABEL_COLUMN, LABELS, TEXT_COLUMN
from tweet_sentiment.storage.csvio import to_csv_bytes

FIRST_DAY = date(2020, 3, 16)  # the training file's first day; batch b is dated b days later
_RUNS = (2, 4)  # word runs per tweet
_RUN_WORDS = (3, 9)  # words per run


@dataclass(frozen=True)
class Corpus:
    """The dataset's cleaned tweets as word lists, with their labels."""

    words: list[list[str]]
    labels: list[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Corpus:
        header, rows = chronological_rows(settings.train_file)
        parsed = parse_labelled_file(settings.train_file.name, to_csv_bytes(header, rows), settings.max_text_chars)
        kept = [(r["text"].split(), r["label"]) for r in parsed.rows if r["text"].split()]
        return cls([w for w, _ in kept], [label for _, label in kept])


class SyntheticHistory:
    """Batch ``b`` of the synthetic history, as the CSV rows (Kaggle columns) an annotator would send."""

    def __init__(self, corpus: Corpus, options: ScaleOptions) -> None:
        self.corpus, self.options = corpus, options
        self.header = list(KAGGLE_COLUMNS)
        self.relabels = round(options.relabel_fraction * options.batch_rows)

    def fresh_count(self, batch: int) -> int:
        """New texts in batch ``batch`` (the first has no earlier text to relabel)."""
        return self.options.batch_rows - (self.relabels if batch else 0)

    def fresh(self, batch: int, i: int) -> tuple[str, str]:
        """The ``i``-th new text of batch ``batch`` and its label (the first word run's tweet's label)."""
        rng = random.Random(f"{self.options.seed}:{batch}:{i}")
        runs, label = [], ""
        for _ in range(rng.randint(*_RUNS)):
            source = rng.randrange(len(self.corpus.words))
            words = self.corpus.words[source]
            start = rng.randrange(len(words))
            runs.extend(words[start:start + rng.randint(*_RUN_WORDS)])
            label = label or self.corpus.labels[source]
        return " ".join(runs), label

    def fresh_texts(self, batch: int) -> list[tuple[str, str]]:
        return [self.fresh(batch, i) for i in range(self.fresh_count(batch))]

    def relabelled(self, batch: int) -> list[tuple[str, str]]:
        """Texts of earlier batches, each with a label other than the one it was first given."""
        rng = random.Random(f"{self.options.seed}:relabel:{batch}")
        picks = []
        for _ in range(self.relabels if batch else 0):
            earlier = rng.randrange(batch)
            text, label = self.fresh(earlier, rng.randrange(self.fresh_count(earlier)))
            picks.append((text, LABELS[(LABELS.index(label) + rng.randint(1, len(LABELS) - 1)) % len(LABELS)]))
        return picks

    def rows(self, batch: int) -> list[list[str]]:
        """The batch's CSV rows: its new texts, then its relabels."""
        day = (FIRST_DAY + timedelta(days=batch)).strftime("%d-%m-%Y")
        by_column = {DATE_COLUMN: day, "Location": ""}
        out = []
        for i, (text, label) in enumerate(self.fresh_texts(batch) + self.relabelled(batch)):
            fields = {**by_column, "UserName": str(batch * self.options.batch_rows + i), "ScreenName": f"s{i}",
                      TEXT_COLUMN: text, LABEL_COLUMN: label}
            out.append([fields[c] for c in self.header])
        return out
