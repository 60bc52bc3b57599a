"""Cleaned texts → the feature matrix: sentence embedding (optionally projected), then lexicon features.

Several views of a text are scored by VADER (as written, hashtags as words, lower case, without hashtags and
punctuation, ...) and the model picks among them; docs/quality.md says which views the labels follow.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from upath import UPath
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tweet_sentiment.model.infinity import EmbeddingServiceError, InfinityClient
from tweet_sentiment.model.terms import term_columns
from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.storage.vector_cache import MemoryVectorCache, VectorCache, vector_cache
from tweet_sentiment.text import HASHTAG, hashtags_as_words

log = logging.getLogger(__name__)

_PUNCTUATION = re.compile(r"[^\w\s]")
_VADER_SCORES = ("neg", "neu", "pos", "compound")
EMBEDDING_COMPONENTS = 16  # principal components of the embedding the model sees (0: the whole embedding)
# A refit fits the projection on at most this many training rows (drawn by hash): its cost stays fixed at any N, and
# below it (make quality's histories) every training row is used, as before.
PROJECTION_SAMPLE_ROWS = 50_000
PROGRESS_CHUNK = 2048  # texts embedded between two progress lines
HASHED_WORDS = 4096  # columns the words are hashed into (0: no word features)
WORD_NGRAMS = 1  # words only (2: word pairs too)
WORD_VIEW = "words"  # the text view hashed: hashtags split into words (#StayHomeSaveLives: stay home save lives)
TERM_SLOTS = 8  # columns for the terms of the team's corrections (model/terms.py; 0: none)
# How the cache stores the lexicon features (the embeddings: float16); docs/scale.md compares make quality
# with float16 and float32 here.
LEXICON_CACHE_DTYPE = np.float16


# Each view of a text that VADER scores: VADER reads case and punctuation as intensity, hashtags hide words.
_VIEWS: dict[str, Callable[[str], str]] = {
    "text": lambda t: t,
    "words": hashtags_as_words,
    "lower": lambda t: hashtags_as_words(t).lower(),
    "plain": lambda t: _PUNCTUATION.sub(" ", HASHTAG.sub(" ", t)),
    "plainwords": lambda t: _PUNCTUATION.sub(" ", hashtags_as_words(t)),
}
_CUES: dict[str, Callable[[str], float]] = {
    "exclamations": lambda t: float(t.count("!")),
    "questions": lambda t: float(t.count("?")),
    "caps_ratio": lambda t: sum(w.isupper() and len(w) > 1 for w in t.split()) / max(1, len(t.split())),
    "chars": lambda t: float(len(t)),
}
KNOWN_LEXICON_FEATURES: tuple[str, ...] = tuple(
    f"vader_{view}_{score}" for view in _VIEWS for score in _VADER_SCORES) + tuple(f"cue_{c}" for c in _CUES)
# The set the current code trains with (chosen on the training file's validation split).
LEXICON_FEATURES: tuple[str, ...] = tuple(
    f"vader_{view}_{score}" for view in ("plain", "plainwords", "text") for score in _VADER_SCORES
) + tuple(f"cue_{c}" for c in _CUES)


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def lexicon_features(texts: Sequence[str], names: Sequence[str] = LEXICON_FEATURES) -> np.ndarray:
    """The named lexicon features of each text, float32 ``(len(texts), len(names))``."""
    unknown = set(names) - set(KNOWN_LEXICON_FEATURES)
    if unknown:
        raise ValueError(f"unknown lexicon features {sorted(unknown)}; known: {KNOWN_LEXICON_FEATURES}")
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


@dataclass(frozen=True)
class EmbeddingProjection:
    """A fixed PCA of the embedding: ``(x - mean) @ components.T``; stored (float16) in the model's schema."""

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, embeddings: np.ndarray, n_components: int) -> EmbeddingProjection:
        """Principal axes of ``embeddings``, rounded to what :meth:`encode` keeps (so training sees the same)."""
        mean = embeddings.mean(axis=0)
        _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
        components = vt[:n_components] * np.sign(vt[:n_components, :1])  # a deterministic sign per axis
        return cls.decode(cls(mean, components).encode())

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        return ((embeddings - self.mean) @ self.components.T).astype(np.float32)

    def encode(self) -> str:
        buf = io.BytesIO()
        np.savez_compressed(buf, mean=self.mean.astype(np.float16), components=self.components.astype(np.float16))
        return base64.b64encode(buf.getvalue()).decode("ascii")

    @staticmethod
    @lru_cache(maxsize=8)
    def decode(encoded: str) -> EmbeddingProjection:
        with np.load(io.BytesIO(base64.b64decode(encoded))) as data:
            return EmbeddingProjection(data["mean"].astype(np.float32), data["components"].astype(np.float32))


def current_schema(embedding_model: str, embedding_dim: int) -> FeatureSchema:
    """The schema this code builds (its projection not fitted yet): embedding, lexicon set, hashed words."""
    return FeatureSchema(embedding_model, embedding_dim, LEXICON_FEATURES, EMBEDDING_COMPONENTS, "",
                         HASHED_WORDS, WORD_NGRAMS, WORD_VIEW, TERM_SLOTS)


@lru_cache(maxsize=4)
def _word_hasher(n_features: int, ngrams: int) -> HashingVectorizer:
    return HashingVectorizer(n_features=n_features, ngram_range=(1, ngrams), alternate_sign=False, binary=True,
                             norm=None, dtype=np.float32)


def hashed_words(texts: Sequence[str], n_features: int, ngrams: int = 1, view: str = "words") -> sparse.csr_matrix:
    """Each text's words in ``view`` (by default hashtags split into words), lower-cased, n-grams up to
    ``ngrams``, as 0/1 columns hashed into ``n_features``."""
    return _word_hasher(n_features, ngrams).transform([_VIEWS[view](t) for t in texts]).tocsr()


def word_tokens(texts: Sequence[str], ngrams: int = WORD_NGRAMS, view: str = WORD_VIEW) -> list[list[str]]:
    """Each text's distinct words as the hashed word features see them (``view``, lower-cased, n-grams)."""
    analyse = _word_hasher(HASHED_WORDS or 1, ngrams).build_analyzer()
    return [sorted(set(analyse(_VIEWS[view](t)))) for t in texts]


def _embed_with_progress(client: InfinityClient, texts: list[str]) -> np.ndarray:
    """``client.embed(texts)``, in chunks with a log line each when there are many (minutes of work)."""
    if len(texts) <= PROGRESS_CHUNK:
        return client.embed(texts)
    parts = []
    for start in range(0, len(texts), PROGRESS_CHUNK):
        parts.append(client.embed(texts[start:start + PROGRESS_CHUNK]))
        log.info("embedded %d/%d texts through infinity", start + len(parts[-1]), len(texts))
    return np.vstack(parts)


def embed_cached(texts: Sequence[str], client: InfinityClient, cache: VectorCache | MemoryVectorCache,
                 expected_dim: int | None = None) -> np.ndarray:
    """Embeddings of cleaned ``texts``: from the cache where known, else from infinity (then cached).

    Vectors of another width than the schema's or the cache's are refused (a server answering with the wrong
    model under the configured name), so the cache never mixes widths.
    """
    cached_dim = cache.dim
    if expected_dim is not None and cached_dim is not None and cached_dim != expected_dim:
        raise EmbeddingServiceError(
            f"the feature schema expects {expected_dim}-d vectors of model {client.model!r}, but the cache in "
            f"{cache.location} holds {cached_dim}-d ones: infinity at {client.url} serves another model under "
            "that name?")
    want = expected_dim if expected_dim is not None else cached_dim

    def embed_checked(todo: list[str]) -> np.ndarray:
        vectors = _embed_with_progress(client, todo)
        if want is not None and vectors.shape[1] != want:
            raise EmbeddingServiceError(
                f"infinity at {client.url} returned {vectors.shape[1]}-d vectors for model {client.model!r}; "
                f"expected {want}")
        return vectors

    return cache.get_or_compute(texts, embed_checked)


def _embeddings(texts: Sequence[str], schema: FeatureSchema, client: InfinityClient,
                cache_root: UPath | None, write_behind: bool = False) -> np.ndarray:
    if client.model != schema.embedding_model:
        raise ValueError(f"the model's schema needs {schema.embedding_model!r} embeddings, "
                         f"the embedding service is configured for {client.model!r}")
    cache = vector_cache(cache_root, schema.embedding_model, write_behind)
    return embed_cached(texts, client, cache, schema.embedding_dim)


def fit_schema(design: FeatureSchema, texts: Sequence[str], client: InfinityClient,
               cache_root: UPath) -> FeatureSchema:
    """``design`` with its embedding projection fitted on the embeddings of ``texts`` (a fresh model's rows)."""
    if not design.embedding_components:
        return design
    projection = EmbeddingProjection.fit(_embeddings(texts, design, client, cache_root),
                                         design.embedding_components)
    return dataclasses.replace(design, projection=projection.encode())


def feature_matrix(texts: Sequence[str], schema: FeatureSchema, client: InfinityClient,
                   cache_root: UPath | None, write_behind: bool = False) -> np.ndarray | sparse.csr_matrix:
    """Embedding (projected if the schema says so), lexicon columns, then hashed words (sparse), as ``schema``
    names them; embeddings and lexicon features cached under ``cache_root`` (None: only in the bounded memory
    cache, nothing written).

    ``write_behind``: new vectors go to disk in the background (a request that must answer fast).
    """
    if schema.embedding_components and not schema.projection:
        raise ValueError("the schema projects the embedding but holds no fitted projection (see fit_schema)")
    return features_of(texts, schema, _embeddings(texts, schema, client, cache_root, write_behind),
                       _lexicon(texts, schema, cache_root, write_behind))


def features_of(texts: Sequence[str], schema: FeatureSchema, embeddings: np.ndarray,
                lexicon: np.ndarray) -> np.ndarray | sparse.csr_matrix:
    """The model's features of ``texts`` from their embeddings and lexicon features (as ``schema`` names them):
    those dense columns, then the hashed words and the term slots (sparse)."""
    if schema.embedding_components:
        embeddings = EmbeddingProjection.decode(schema.projection).apply(embeddings)
    dense = np.hstack([embeddings, lexicon])
    if not schema.hashed_words and not schema.term_slots:
        return dense
    parts = [sparse.csr_matrix(dense)]
    if schema.hashed_words:
        parts.append(hashed_words(texts, schema.hashed_words, schema.word_ngrams, schema.word_view))
    if schema.term_slots:
        parts.append(term_columns(texts, schema.terms, schema.term_slots))
    return sparse.hstack(parts, format="csr", dtype=np.float32)


def warm_cache(texts: Sequence[str], schema: FeatureSchema, client: InfinityClient, cache_root: UPath) -> None:
    """Compute and cache the embeddings and lexicon features of ``texts`` (no projection needed)."""
    _embeddings(texts, schema, client, cache_root)
    _lexicon(texts, schema, cache_root)


def lexicon_namespace(schema: FeatureSchema) -> str:
    """The feature cache's namespace of the schema's lexicon features (one per lexicon feature set)."""
    return "lexicon-" + hashlib.sha256("|".join(schema.lexicon_features).encode()).hexdigest()[:12]


def _lexicon(texts: Sequence[str], schema: FeatureSchema, cache_root: UPath | None,
             write_behind: bool = False) -> np.ndarray:
    return vector_cache(cache_root, lexicon_namespace(schema), write_behind, LEXICON_CACHE_DTYPE).get_or_compute(
        texts, lambda todo: lexicon_features(todo, schema.lexicon_features))
