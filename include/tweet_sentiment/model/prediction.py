"""The champion answering for new texts: same cleaning and features as training, reloaded when it changes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from upath import UPath

from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.schema import LABELS
from tweet_sentiment.text import clean_tweet


class PredictionRequestError(ValueError):
    """The texts sent cannot be answered as they are (empty, too many, too long); the message says which."""


class NoChampionError(RuntimeError):
    """There is no champion yet: nothing can answer."""


@dataclass(frozen=True)
class Prediction:
    """The champion's answer for one text."""

    label: str
    probabilities: dict[str, float]
    version: str

    @property
    def margin(self) -> float:
        """Top probability minus the second: small means the model hesitates."""
        top, second = sorted(self.probabilities.values(), reverse=True)[:2]
        return top - second

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": self.probabilities, "version": self.version,
                "margin": round(self.margin, 5)}


def clean_request_texts(texts: Sequence[object], max_texts: int, max_chars: int) -> list[str]:
    """The cleaned texts of a request, or PredictionRequestError naming the first problem and its index."""
    if not texts:
        raise PredictionRequestError("no texts: send at least one")
    if len(texts) > max_texts:
        raise PredictionRequestError(f"too many texts: {len(texts)} sent, at most {max_texts} per request")
    cleaned = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PredictionRequestError(f"text {i} is {type(text).__name__}, not a string")
        if len(text) > max_chars:
            raise PredictionRequestError(f"text {i} is too long: {len(text)} characters, at most {max_chars}")
        clean = clean_tweet(text)
        if not clean:
            raise PredictionRequestError(f"text {i} is empty (after removing links, mentions and whitespace)")
        cleaned.append(clean)
    return cleaned


def class_probabilities(champion: Champion, cleaned: Sequence[str], client: InfinityClient, cache_root: UPath | None,
                        write_behind: bool = False, num_threads: int = 1) -> np.ndarray:
    """The champion's class probabilities ``(len(cleaned), len(LABELS))`` for cleaned texts (features cached)."""
    features = feature_matrix(list(cleaned), champion.schema, client, cache_root, write_behind=write_behind)
    return champion.booster.predict(features, num_threads=num_threads)


class Predictor:
    """Predicts with the registry's champion; checks the champion pointer on each call and reloads on change.

    A request's texts (:meth:`predict`) are answered without storing anything: their vectors stay only in the
    process's bounded memory cache (a reader may predict; only work meant for training fills the feature cache
    under ``cache_root``: :meth:`predict_cleaned`, for the labelling queue and the scored stream).
    """

    def __init__(self, registry: ModelRegistry, client: InfinityClient, cache_root: UPath,
                 max_texts: int = 256, max_chars: int = 1000) -> None:
        self.registry = registry
        self.client = client
        self.cache_root = cache_root
        self.max_texts = max_texts
        self.max_chars = max_chars
        self._loaded: Champion | None = None
        self._lock = threading.Lock()

    def champion(self) -> Champion:
        """The current champion, loaded again only when the pointer names another version."""
        with self._lock:
            if self._loaded is None or self._loaded.version != self.registry.champion_version():
                self._loaded = self.registry.champion()
            if self._loaded is None:
                raise NoChampionError("no champion model yet: run `python -m tweet_sentiment bootstrap` first")
            return self._loaded

    def predict(self, texts: Sequence[object]) -> list[Prediction]:
        """Label and class probabilities of each raw text, in order (PredictionRequestError for bad input);
        nothing is written (features only in the bounded memory cache)."""
        return self._predict(clean_request_texts(texts, self.max_texts, self.max_chars), None)

    def predict_cleaned(self, cleaned: Sequence[str]) -> list[Prediction]:
        """Predictions for texts already cleaned with ``clean_tweet`` (any number: the caller bounds it); their
        features go to the feature cache (the texts are on their way to training)."""
        return self._predict(cleaned, self.cache_root)

    def _predict(self, cleaned: Sequence[str], cache_root: UPath | None) -> list[Prediction]:
        if not cleaned:
            return []
        champion = self.champion()
        # One thread: waking LightGBM's OpenMP pool costs more than a request's trees take (docs/speed.md).
        probabilities = class_probabilities(champion, cleaned, self.client, cache_root, write_behind=True)
        return [
            Prediction(label=LABELS[int(row.argmax())],
                       probabilities={label: round(float(p), 5) for label, p in zip(LABELS, row, strict=True)},
                       version=champion.version)
            for row in probabilities
        ]
