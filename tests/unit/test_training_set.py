"""A refit's training set built chunk by chunk is the one built from every row at once, split by the validation
slice; the vectors come from the real (Lance) feature cache, nothing is embedded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from upath import UPath

from tweet_sentiment.model.boosting import MIN_VALIDATION_ROWS, TrainingSet, validation_mask
from tweet_sentiment.model.features import EmbeddingProjection, current_schema, feature_matrix
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.training_set import build_training_set
from tweet_sentiment.schema import LABEL_TO_ID, LABELS
from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import text_hash

MODEL, DIM = "test-model", 24


@pytest.fixture
def rows(tmp_path) -> tuple[pd.DataFrame, UPath]:
    """900 labelled rows whose vectors are in a feature cache under tmp_path (so no embedding is asked for)."""
    rng = np.random.default_rng(4)
    texts = [f"tweet {i} is {'great' if i % 3 == 0 else 'awful' if i % 3 == 1 else 'here'} #Day{i % 7}"
             for i in range(900)]
    frame = pd.DataFrame({"text": texts, "text_hash": [text_hash(t) for t in texts],
                          "label": [LABELS[i % len(LABELS)] for i in range(900)], "weight": rng.uniform(0.5, 1, 900)})
    cache = UPath(tmp_path) / "cache"
    VectorCache(cache, MODEL).put(frame["text_hash"].tolist(), rng.standard_normal((900, DIM)).astype(np.float32))
    return frame, cache


def _schema(frame: pd.DataFrame, cache: UPath):
    design = current_schema(MODEL, DIM)
    vectors = VectorCache(cache, MODEL).get(frame["text_hash"].tolist())
    return dataclasses.replace(design, projection=EmbeddingProjection.fit(vectors, 4).encode(),
                               embedding_components=4)


def test_chunked_training_set_equals_the_whole_one_split_by_the_validation_slice(rows):
    frame, cache = rows
    schema, client = _schema(frame, cache), InfinityClient("http://127.0.0.1:9", MODEL)  # never called
    chunks = [frame.iloc[start:start + 250] for start in range(0, len(frame), 250)]
    built = build_training_set(chunks, schema, client, cache, 0.2, lambda chunk: chunk["weight"].to_numpy())
    whole = feature_matrix(frame["text"].tolist(), schema, client, cache)
    valid = validation_mask(frame["text_hash"].tolist(), 0.2)
    expected = TrainingSet.split(whole, frame["label"].map(LABEL_TO_ID).to_numpy(), valid, frame["weight"].to_numpy())
    assert built.valid is not None and valid.sum() >= MIN_VALIDATION_ROWS
    assert built.features.dtype == np.float32 and built.weights.dtype == np.float32
    assert (built.features != expected.features).nnz == 0 and (built.labels == expected.labels).all()
    assert np.allclose(built.weights, expected.weights)
    assert (built.valid[0] != expected.valid[0]).nnz == 0 and (built.valid[1] == expected.valid[1]).all()


def test_too_small_a_validation_slice_trains_on_every_row(rows):
    frame, cache = rows
    schema, client = _schema(frame, cache), InfinityClient("http://127.0.0.1:9", MODEL)
    small = frame.iloc[:120]
    built = build_training_set([small.iloc[:60], small.iloc[60:]], schema, client, cache, 0.1,
                               lambda chunk: np.ones(len(chunk)))
    assert built.valid is None and built.features.shape[0] == len(built.labels) == 120
    with pytest.raises(ValueError, match="no trainable rows"):
        build_training_set([], schema, client, cache, 0.1, lambda chunk: np.ones(len(chunk)))
