"""The five labels, the CSV columns the pipeline reads and writes, and the feature schema stored with models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TypedDict

LABELS: tuple[str, ...] = ("Extremely Negative", "Negative", "Neutral", "Positive", "Extremely Positive")
LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}

TEXT_COLUMN = "OriginalTweet"
LABEL_COLUMN = "Sentiment"
DATE_COLUMN = "TweetAt"
REQUIRED_COLUMNS: tuple[str, ...] = (TEXT_COLUMN, LABEL_COLUMN)
# Columns of the Kaggle file; the feed writes these, annotators' batches add the feedback columns.
KAGGLE_COLUMNS: tuple[str, ...] = ("UserName", "ScreenName", "Location", DATE_COLUMN, TEXT_COLUMN, LABEL_COLUMN)
FEEDBACK_COLUMNS: tuple[str, ...] = ("Annotator", "SuggestedSentiment", "Corrected")
# A reviewed label (a held row a person accepted or relabelled, label_review.py) names its review: never checked again.
REVIEW_COLUMN = "ReviewId"

# Columns of the labelled store (a Delta table, storage/labelled_store.py). ``ingested_at`` and ``seq`` order every
# row ever accepted (the newest label of a text wins); ``recent_holdout`` marks the annotators' holdout slice.
# ``annotator``, ``suggested_label`` (what the annotator was shown) and ``review_id`` come from the feedback columns;
# ``label_weight`` multiplies the row's training weight (the label check's down-weighting, label_check.py).
STORE_COLUMNS: tuple[str, ...] = (
    "text", "label", "tweet_at", "text_hash", "raw_text", "source_file", "source_row", "batch_id",
    "ingested_at", "seq", "recent_holdout", "annotator", "suggested_label", "review_id", "label_weight",
)
# What rows stored before a column existed hold in it.
STORE_COLUMN_DEFAULTS: dict[str, object] = {"ingested_at": "", "seq": 0, "recent_holdout": False, "annotator": "",
                                            "suggested_label": "", "review_id": "", "label_weight": 1.0}


# TweetAt as the sources write it: the Kaggle files (dd-mm-yyyy), the 2022 file (yyyy-mm-dd hh:mm:ss), ISO dates.
_DATE_FORMATS = ("%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_tweet_at(raw: str) -> datetime | None:
    """A TweetAt value as a UTC datetime (times without a zone are taken as UTC), or None if it cannot be read."""
    raw = raw.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a year-1 time with a positive offset is before year 1 in UTC
        return None


def normalise_label(value: str) -> str | None:
    """Map a label as written by a person ("extremely  positive ") to its canonical form, or None."""
    key = " ".join(value.split()).lower()
    for label in LABELS:
        if label.lower() == key:
            return label
    return None


@dataclass(frozen=True)
class FeatureSchema:
    """What a model's input columns mean; a model is only ever fed features of its own schema.

    ``embedding_components`` > 0: the embedding enters as that many principal components, by the fitted
    ``projection`` (encoded, see features.EmbeddingProjection) that every model version carries in its card.
    ``hashed_words`` > 0: the words (n-grams up to ``word_ngrams``) of the text's ``word_view`` (features._VIEWS)
    hashed into that many columns,
    a fixed space that needs no vocabulary, so a model can keep learning new words by continued boosting.
    ``term_slots`` > 0: that many columns for the terms of the team's corrections, ``terms`` the ones filled so far
    (model/terms.py; like the projection, what a model learnt, not the design).
    """

    embedding_model: str
    embedding_dim: int
    lexicon_features: tuple[str, ...]
    embedding_components: int = 0
    projection: str = ""
    hashed_words: int = 0
    word_ngrams: int = 1
    word_view: str = "words"
    term_slots: int = 0
    terms: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return ((self.embedding_components or self.embedding_dim) + len(self.lexicon_features) + self.hashed_words
                + self.term_slots)

    def design(self) -> FeatureSchema:
        """The schema without its fitted projection and terms: what the code builds; equal designs can continue
        boosting."""
        return replace(self, projection="", terms=())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lexicon_features"] = list(self.lexicon_features)
        data["terms"] = list(self.terms)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        return cls(
            embedding_model=data["embedding_model"],
            embedding_dim=int(data["embedding_dim"]),
            lexicon_features=tuple(data["lexicon_features"]),
            embedding_components=int(data.get("embedding_components", 0)),
            projection=data.get("projection", ""),
            hashed_words=int(data.get("hashed_words", 0)),
            word_ngrams=int(data.get("word_ngrams", 1)),
            word_view=data.get("word_view", "words"),
            term_slots=int(data.get("term_slots", 0)),
            terms=tuple(data.get("terms", ())),
        )


class BatchSpan(TypedDict):
    """The labelled batches a model has learnt from, in the order it learnt them: how many, the first and the last
    (a card keeps this, not every batch id: a champion continued for months has seen thousands)."""

    count: int
    first: str | None
    last: str | None


def batch_span(batches: Sequence[str] | BatchSpan | None) -> BatchSpan:
    """``batches`` as a span (a card written before spans holds the list of ids)."""
    if isinstance(batches, dict):
        return batches
    ids = list(batches or ())
    return {"count": len(ids), "first": ids[0] if ids else None, "last": ids[-1] if ids else None}


def extend_span(batches: Sequence[str] | BatchSpan | None, batch_id: str) -> BatchSpan:
    """The span of a model continued from one that learnt ``batches``, on ``batch_id``."""
    span = batch_span(batches)
    return {"count": span["count"] + 1, "first": span["first"] or batch_id, "last": batch_id}


class ModelCard(TypedDict, total=False):
    """A model version's card (``registry/versions/<v>/card.json``): what it was trained on and what became of it.

    ``status`` is ``candidate`` until the gate decides (``champion``, ``retired`` once replaced, ``rejected``);
    ``metrics`` are its fixed-holdout metrics (evaluation.evaluate), ``reason`` the decision in words.
    """

    version: str
    created_at: str
    status: str
    strategy: str  # continue | refit
    note: str
    parent: str | None  # the champion it continued from
    champion_at_training: str | None
    batch_id: str
    batches: BatchSpan
    rows_trained: int
    new_rows: int
    rows_outdated: int  # older rows a systematic correction contradicts, weighed down (label_check.teaching)
    holdout_rows_contradicted: dict  # per holdout, rows the gate left out: a known correction contradicts them
    labelled_version: int | None  # the labelled store's table version the rows were read at (lineage)
    holdout_version: int | None  # the fixed holdout's version the gate's figures used (labelling/holdout.py)
    slices: dict | None  # the systematic corrections' slices the gate also tested (model.gate.SliceEvidence)
    params: dict
    feature_schema: dict  # FeatureSchema.to_dict()
    train_s: float
    num_trees: int
    rounds_added: int
    validation_rows: int
    validation_macro_f1: float | None
    metrics: dict | None
    decided_at: str
    reason: str
