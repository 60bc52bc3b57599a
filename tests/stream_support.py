"""Helpers of the scoring-stream tests (plain functions): a small real LightGBM champion over a tiny embedding, and
its vectors put where the product keeps infinity's answers, so the champion scores without an infinity server."""

from __future__ import annotations

import hashlib

import lightgbm as lgb
import numpy as np

from tweet_sentiment.model.features import LEXICON_FEATURES
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.vector_cache import MemoryVectorCache, VectorCache
from tweet_sentiment.text import text_hash

MODEL = "all-MiniLM-L6-v2"
DIM = 8
SCHEMA = FeatureSchema(MODEL, DIM, LEXICON_FEATURES)


def train_champion(registry: ModelRegistry, seed: int, reason: str = "test", batches: tuple[str, ...] = ()) -> str:
    """Save and promote a small real booster on the tiny schema (its answers depend on ``seed``); its version."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, SCHEMA.width))
    y = (x[:, :DIM].sum(axis=1) > 0).astype(int) * 2 + (x[:, DIM] > 0)  # four of the five classes
    booster = lgb.train({"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, y), 8)
    version = registry.save(booster, {"feature_schema": SCHEMA.to_dict(), "batches": list(batches)})
    registry.promote(version, reason, expected=registry.champion_version())
    return version


def vector_of(text: str, shift: float = 0.0) -> np.ndarray:
    """A deterministic unit vector per text; ``shift`` moves it along a "topic" axis."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    v[0] += shift
    return v / np.linalg.norm(v)


def cache_vectors(layout: DataLayout, cleaned: list[str], shift: float = 0.0) -> None:
    """Put the vectors of cleaned texts where infinity's answers would be found: the feature cache (the training
    side's texts) and this process's memory cache (the scored stream embeds through it, then keeps the vectors in
    its own table); a vector held for the text before is replaced."""
    vectors = np.stack([vector_of(t, shift) for t in cleaned])
    VectorCache(layout.embeddings, MODEL).put([text_hash(t) for t in cleaned], vectors)
    MemoryVectorCache(MODEL)._hold(dict(zip([text_hash(t) for t in cleaned], vectors, strict=True)))


def offline_client() -> InfinityClient:
    """A real client of a server that does not exist: any text missing from the cache fails loudly."""
    return InfinityClient("http://127.0.0.1:9", MODEL, retries=0, timeout_s=1)
