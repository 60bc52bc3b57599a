"""The five labels, the CSV columns the pipeline reads and writes, and the feature schema stored with models."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

LABELS: tuple[str, ...] = ("Extremely Negative", "Negative", "Neutral", "Positive", "Extremely Positive")
LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}

TEXT_COLUMN = "OriginalTweet"
LABEL_COLUMN = "Sentiment"
DATE_COLUMN = "TweetAt"
REQUIRED_COLUMNS: tuple[str, ...] = (TEXT_COLUMN, LABEL_COLUMN)
# Columns of the Kaggle file; the feed writes these, annotators' batches add the feedback columns.
KAGGLE_COLUMNS: tuple[str, ...] = ("UserName", "ScreenName", "Location", DATE_COLUMN, TEXT_COLUMN, LABEL_COLUMN)
FEEDBACK_COLUMNS: tuple[str, ...] = ("Annotator", "SuggestedSentiment", "Corrected")

# Columns of the labelled store (one parquet file per ingested batch).
STORE_COLUMNS: tuple[str, ...] = (
    "text", "label", "tweet_at", "text_hash", "raw_text", "source_file", "source_row", "batch_id",
)


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
    """

    embedding_model: str
    embedding_dim: int
    lexicon_features: tuple[str, ...]
    embedding_components: int = 0
    projection: str = ""

    @property
    def width(self) -> int:
        return (self.embedding_components or self.embedding_dim) + len(self.lexicon_features)

    def design(self) -> FeatureSchema:
        """The schema without its fitted projection: what the code builds; equal designs can continue boosting."""
        return replace(self, projection="")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lexicon_features"] = list(self.lexicon_features)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        return cls(
            embedding_model=data["embedding_model"],
            embedding_dim=int(data["embedding_dim"]),
            lexicon_features=tuple(data["lexicon_features"]),
            embedding_components=int(data.get("embedding_components", 0)),
            projection=data.get("projection", ""),
        )
