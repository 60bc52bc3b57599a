"""A champion continued batch after batch as the cycle continues it: how many trees each continuation really adds
(early stopping adds fewer than the cap, or none).

The stream is the training file's tweets after the bootstrap's, in batches of ``feed_batch_rows``, read again
from its start once it ends (a re-read row counts as a new one; the file holds ~17 batches, the figure asks for
500). Each continuation is the cycle's (pipeline/challenger.py ``_continuation``) on features built once by the
product (``feature_matrix`` with the champion's schema): the batch's rows plus a uniform replay sample of the
rows streamed before, weighted by recency and the new rows by ``new_row_weight``, the validation slice by text
hash, ``continue_boosting`` with the product's parameters. Every continuation is promoted: the gate promotes far
fewer (none of 17 in make quality's plain stream), so this is the growth's upper bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.boosting import (
    BoostingParams,
    Features,
    continue_boosting,
    recency_weights,
)
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.schema import LABEL_COLUMN, LABEL_TO_ID, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet, in_hash_slice, text_hash

log = logging.getLogger(__name__)


@dataclass
class Stream:
    """The training file's labelled tweets as features, in stream order; each row's batch when last streamed."""

    features: Features
    labels: np.ndarray
    valid: np.ndarray
    batch_of: np.ndarray  # -1: not streamed yet; the bootstrap's rows: 0

    @classmethod
    def of(cls, settings: Settings) -> Stream:
        header, rows = chronological_rows(settings.train_file)
        text_col, label_col = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
        kept = [(clean_tweet(r[text_col]), LABEL_TO_ID[r[label_col]]) for r in rows if r[label_col] in LABEL_TO_ID]
        texts = [t for t, _ in kept if t]
        labels = np.array([label for t, label in kept if t])
        schema = ModelRegistry.of(settings).champion().schema
        with infinity_client(settings) as client:
            features = feature_matrix(texts, schema, client, settings.layout().embeddings)
        fraction = BoostingParams().validation_fraction
        batch_of = np.full(len(texts), -1)
        batch_of[:settings.bootstrap_rows] = 0
        return cls(features, labels, in_hash_slice([text_hash(t) for t in texts], fraction), batch_of)

    def batch(self, number: int, start: int, rows: int) -> np.ndarray:
        """Row indices of batch ``number`` (1, 2, ...): the ``rows`` after ``start``, the file read round."""
        first = start + (number - 1) * rows
        return np.arange(first, first + rows) % len(self.labels)


@dataclass
class Chain:
    """The champion through the stream: its booster and the trees each continuation added."""

    booster: lgb.Booster
    trees_added: list[int] = field(default_factory=list)


def _training_rows(stream: Stream, new: np.ndarray, number: int, options: RunOptions,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A continuation's rows (new, then replayed) and weights, as challenger.training_rows and _weights do."""
    seen = np.flatnonzero(stream.batch_of >= 0)
    seen = seen[~np.isin(seen, new)]
    replay = rng.choice(seen, size=min(options.replay_rows, len(seen)), replace=False)
    rows = np.concatenate([new, replay])
    ages = np.concatenate([np.zeros(len(new)), number - stream.batch_of[replay]])
    weights = recency_weights(ages, options.recency_half_life)
    weights[:len(new)] *= options.boosting.new_row_weight
    return rows, weights


def grow(settings: Settings, batches: int, seed: int = 26) -> Chain:
    """The bootstrap champion continued through ``batches`` batches, each continuation promoted (see the module
    doc)."""
    stream = Stream.of(settings)
    options, rng = RunOptions(), np.random.default_rng(seed)
    chain = Chain(ModelRegistry.of(settings).champion().booster)
    for number in range(1, batches + 1):
        new = stream.batch(number, settings.bootstrap_rows, settings.feed_batch_rows)
        rows, weights = _training_rows(stream, new, number, options, rng)
        stream.batch_of[new] = number
        before = chain.booster.num_trees()
        chain.booster = continue_boosting(chain.booster, stream.features[rows], stream.labels[rows],
                                          options.boosting, stream.valid[rows], weights).booster
        chain.trees_added.append(chain.booster.num_trees() - before)
        log.info("continuation %d/%d: %d trees added, %d in all", number, batches, chain.trees_added[-1],
                 chain.booster.num_trees())
    return chain
