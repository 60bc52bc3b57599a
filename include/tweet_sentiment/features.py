"""Cleaned texts → the feature matrix: sentence embedding, then lexicon features, in the schema's order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
from upath import UPath
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tweet_sentiment.embeddings import InfinityClient, VectorCache, embed_cached
from tweet_sentiment.schema import FeatureSchema

_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_VADER_SCORES = ("neg", "neu", "pos", "compound")


def _hashtags_as_words(text: str) -> str:
    return _HASHTAG.sub(lambda m: _CAMEL.sub(" ", m.group(1)), text)


# Each view of a text that VADER scores: VADER reads case and punctuation as intensity, hashtags hide words.
_VIEWS: dict[str, Callable[[str], str]] = {
    "text": lambda t: t,
    "words": _hashtags_as_words,
    "lower": lambda t: _hashtags_as_words(t).lower(),
}
_CUES: dict[str, Callable[[str], float]] = {
    "exclamations": lambda t: float(t.count("!")),
    "questions": lambda t: float(t.count("?")),
    "caps_ratio": lambda t: sum(w.isupper() and len(w) > 1 for w in t.split()) / max(1, len(t.split())),
    "chars": lambda t: float(len(t)),
}
LEXICON_FEATURES: tuple[str, ...] = tuple(
    f"vader_{view}_{score}" for view in _VIEWS for score in _VADER_SCORES) + tuple(f"cue_{c}" for c in _CUES)


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def lexicon_features(texts: Sequence[str], names: Sequence[str] = LEXICON_FEATURES) -> np.ndarray:
    """The named lexicon features of each text, float32 ``(len(texts), len(names))``."""
    unknown = set(names) - set(LEXICON_FEATURES)
    if unknown:
        raise ValueError(f"unknown lexicon features {sorted(unknown)}; known: {LEXICON_FEATURES}")
    views = {n.split("_")[1] for n in names if n.startswith("vader_")}
    out = np.empty((len(texts), len(names)), dtype=np.float32)
    for row, text in enumerate(texts):
        values: dict[str, float] = {}
        for view in views:
            scores = _vader().polarity_scores(_VIEWS[view](text))
            values.update({f"vader_{view}_{s}": scores[s] for s in _VADER_SCORES})
        for cue, fn in _CUES.items():
            values[f"cue_{cue}"] = fn(text)
        out[row] = [values[n] for n in names]
    return out


def current_schema(embedding_model: str, embedding_dim: int) -> FeatureSchema:
    """The schema this code builds: the configured embedding model, then every lexicon feature."""
    return FeatureSchema(embedding_model, embedding_dim, LEXICON_FEATURES)


def feature_matrix(texts: Sequence[str], schema: FeatureSchema, client: InfinityClient,
                   cache_root: UPath) -> np.ndarray:
    """Embedding columns then lexicon columns, exactly as ``schema`` names them; both kinds are cached."""
    if client.model != schema.embedding_model:
        raise ValueError(f"the model's schema needs {schema.embedding_model!r} embeddings, "
                         f"the embedding service is configured for {client.model!r}")
    embeddings = embed_cached(texts, client, VectorCache(cache_root, schema.embedding_model),
                              schema.embedding_dim)
    lexicon_ns = "lexicon-" + hashlib.sha256("|".join(schema.lexicon_features).encode()).hexdigest()[:12]
    lexicon = VectorCache(cache_root, lexicon_ns).get_or_compute(
        texts, lambda todo: lexicon_features(todo, schema.lexicon_features))
    return np.hstack([embeddings, lexicon])


def feature_names(schema: FeatureSchema) -> list[str]:
    return [f"emb_{i}" for i in range(schema.embedding_dim)] + list(schema.lexicon_features)
