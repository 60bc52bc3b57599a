"""A refit's training set built chunk by chunk: each chunk of labelled rows becomes its feature rows (embedding
from the cache, projected; lexicon; hashed words) at once, split into training rows and validation slice, so
neither the 384-d vectors nor the texts of every row are ever held together (docs/scale.md: a refit at 1M)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from upath import UPath

from tweet_sentiment.model.boosting import MIN_VALIDATION_ROWS, Features, TrainingSet, validation_mask
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.schema import LABEL_TO_ID, FeatureSchema

log = logging.getLogger(__name__)


@dataclass
class _Side:
    """The feature rows, labels and weights gathered for one side (training rows or validation slice)."""

    features: list[Features] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)

    def add(self, features: Features, labels: np.ndarray, weights: np.ndarray) -> None:
        self.features.append(features)
        self.labels.append(labels)
        self.weights.append(weights)

    def rows(self) -> int:
        return sum(len(labels) for labels in self.labels)

    def join(self) -> tuple[Features, np.ndarray, np.ndarray]:
        """One matrix (float32), the labels, the weights; the chunks are released as they are joined."""
        parts, self.features = self.features, []
        features = sparse.vstack(parts, format="csr") if sparse.issparse(parts[0]) else np.vstack(parts)
        del parts
        return features, np.concatenate(self.labels), np.concatenate(self.weights).astype(np.float32)


def build_training_set(chunks: Iterable[pd.DataFrame], schema: FeatureSchema, client: InfinityClient,
                       cache_root: UPath, validation_fraction: float,
                       weight_of: Callable[[pd.DataFrame], np.ndarray]) -> TrainingSet:
    """The training set of ``chunks`` (frames with ``text``, ``text_hash``, ``label``): each chunk's features
    built once, its rows split by :func:`~tweet_sentiment.model.boosting.validation_mask`, weighted by
    ``weight_of(chunk)``; a progress line per chunk. Too few validation rows: every row is trained on."""
    train, valid = _Side(), _Side()
    start = time.perf_counter()
    for chunk in chunks:
        features = feature_matrix(chunk["text"].tolist(), schema, client, cache_root)
        labels = chunk["label"].map(LABEL_TO_ID).to_numpy()
        weights = weight_of(chunk)
        in_valid = validation_mask(chunk["text_hash"].tolist(), validation_fraction)
        train.add(features[~in_valid], labels[~in_valid], weights[~in_valid])
        valid.add(features[in_valid], labels[in_valid], weights[in_valid])
        done = train.rows() + valid.rows()
        log.info("refit features: %d rows built (%.0f rows/s)", done, done / (time.perf_counter() - start))
    if not train.labels:
        raise ValueError("no trainable rows: nothing to refit on")
    if valid.rows() < MIN_VALIDATION_ROWS or not train.rows():
        if valid.rows():
            train.add(*valid.join())
        return TrainingSet(*train.join())
    return TrainingSet(*train.join(), valid=valid.join())
