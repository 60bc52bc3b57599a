"""The mood-shift scenario's tweets and their scores: the training file as an unlabelled stream (its days as the
replay's days), the pool of extra negative tweets about one topic, and every tweet scored once by the lab's
champion, the answers cached in the lab's feature cache.

The champion: a fresh fit of the code's feature schema (embedding, lexicon, hashed words) by the product's own
training (``fit_schema``, ``feature_matrix``, ``train_fresh``) on the dataset's test split, whose tweets are
earlier (2-16 March 2020) than the replay's (16 March - 14 April): a champion that never saw the stream it scores.
The pool: the dataset's negative tweets (Negative, Extremely Negative) that mention the topic, from the test split
and a hash-chosen share of the training file's; those are taken out of the replay, so no injected tweet is also
replayed (the rest of the topic's tweets stay in it, so the topic has its usual baseline).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from upath import UPath

from benchmarks.history import warm_with_progress
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.model.boosting import BoostingParams, train_fresh, validation_mask
from tweet_sentiment.model.features import current_schema, feature_matrix, fit_schema
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import in_hash_slice

log = logging.getLogger(__name__)
NEGATIVE = ("Negative", "Extremely Negative")
POOL_SALT = "mood-shift-pool"
SCORES_VERSION = "mood-shift-v1"  # the cached answers' key: change it when the champion's recipe changes


@dataclass(frozen=True)
class Tweets:
    """The replay's tweets (text, day, the dataset's label) and the injection pool's, each with the champion's
    class probabilities row for row; the champion's version name and figures."""

    replay: pd.DataFrame
    replay_p: np.ndarray
    pool: pd.DataFrame
    pool_p: np.ndarray
    champion: dict


def read_tweets(settings: Settings, path: Path) -> pd.DataFrame:
    """A labelled file's rows as the product's intake accepts and cleans them: text, label, day."""
    parsed = parse_labelled_file(path.name, path.read_bytes(), settings.max_text_chars)
    frame = pd.DataFrame(parsed.rows, columns=["text", "label", "tweet_at", "text_hash"])
    return frame.assign(day=pd.to_datetime(frame["tweet_at"], utc=True)).drop(columns="tweet_at")


def split_pool(train: pd.DataFrame, test: pd.DataFrame, pattern: str,
               pool_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the replay: the training file without the pooled tweets, the pool: negative tweets matching ``pattern``
    from the test split and ``pool_share`` of the training file's, chosen by hash)."""
    def topical(frame: pd.DataFrame) -> np.ndarray:
        return (frame["label"].isin(NEGATIVE) & frame["text"].str.contains(pattern, flags=re.IGNORECASE)).to_numpy()

    pooled = topical(train) & in_hash_slice(train["text_hash"].tolist(), pool_share, POOL_SALT)
    pool = pd.concat([test[topical(test)], train[pooled]], ignore_index=True)
    return train[~pooled].reset_index(drop=True), pool.drop_duplicates("text").reset_index(drop=True)


def load(settings: Settings, pattern: str, pool_share: float) -> Tweets:
    """The replay and pool, scored by the lab's champion (from the cache when scored before)."""
    train, test = read_tweets(settings, settings.train_file), read_tweets(settings, settings.holdout_file)
    replay, pool = split_pool(train, test, pattern, pool_share)
    texts = pd.concat([replay["text"], pool["text"]]).drop_duplicates().tolist()
    probabilities, champion = scores(settings, test, texts)
    by_text = dict(zip(texts, probabilities, strict=True))
    return Tweets(replay, np.stack([by_text[t] for t in replay["text"]]), pool,
                  np.stack([by_text[t] for t in pool["text"]]), champion)


def _key(training: pd.DataFrame, texts: list[str]) -> str:
    digest = hashlib.sha256(SCORES_VERSION.encode())
    for part in (training["text"], training["label"], pd.Series(texts)):
        digest.update("\x1f".join(part).encode())
    return digest.hexdigest()[:16]


def scores(settings: Settings, training: pd.DataFrame, texts: list[str]) -> tuple[np.ndarray, dict]:
    """Class probabilities of ``texts`` by a champion fitted on ``training`` (cached under the feature cache's
    ``lab-mood-shift/``), and the champion's figures."""
    cache = settings.layout().embeddings
    path = Path(str(cache)) / "lab-mood-shift" / f"{_key(training, texts)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as held:
            log.info("champion's answers for %d tweets from the lab's cache (%s)", len(texts), path)
            return held["probabilities"], {"version": str(held["version"]), "rows": int(held["rows"]),
                                           "validation_macro_f1": float(held["validation_macro_f1"])}
    probabilities, champion = _score(settings, cache, training, texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, probabilities=probabilities, **champion)
    return probabilities, champion


def _score(settings: Settings, cache: UPath, training: pd.DataFrame, texts: list[str]) -> tuple[np.ndarray, dict]:
    warm_with_progress(settings, [*training["text"], *texts], cache)
    with infinity_client(settings) as client:
        dim = VectorCache(cache, settings.embedding_model).dim or client.embed(["dimension probe"]).shape[1]
        design = current_schema(settings.embedding_model, dim)
        schema = fit_schema(design, training["text"].tolist(), client, cache)
        log.info("training the lab's champion on %d tweets of %s", len(training), settings.holdout_file.name)
        labels = training["label"].map(LABELS.index).to_numpy()
        fitted = train_fresh(feature_matrix(training["text"].tolist(), schema, client, cache), labels,
                             BoostingParams(seed=settings.seed),
                             valid=validation_mask(training["text_hash"].tolist(), 0.1))
        log.info("scoring %d tweets with it", len(texts))
        probabilities = fitted.booster.predict(feature_matrix(texts, schema, client, cache))
    version = f"lab-{hashlib.sha256(fitted.booster.model_to_string().encode()).hexdigest()[:12]}"
    return probabilities, {"version": version, "rows": len(training),
                           "validation_macro_f1": round(fitted.validation_macro_f1 or 0.0, 4)}
