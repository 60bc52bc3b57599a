"""Training a challenger: continue boosting the champion on new + replayed rows, or refit on every labelled row.

A fresh model is trained instead of a continuation when there is no champion, or when its feature schema is not
the one the code builds now (a model is only ever fed features of its own schema).
"""

from __future__ import annotations

import logging

import pandas as pd
from upath import UPath

from tweet_sentiment.model.boosting import (
    TrainingResult,
    continue_boosting,
    recency_weights,
    train_fresh,
    validation_mask,
)
from tweet_sentiment.model.features import feature_matrix, fit_schema
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.schema import LABEL_TO_ID, BatchSpan, FeatureSchema, ModelCard, batch_span, extend_span
from tweet_sentiment.storage.labelled_store import LabelledStore

log = logging.getLogger(__name__)


def choose_strategy(requested: str, champion: Champion | None, design: FeatureSchema) -> tuple[str, str]:
    """The strategy that can run (``continue`` needs a champion of the current design) and a note on why."""
    if champion is None:
        return "refit", "no champion: trained from scratch"
    if requested == "continue" and champion.schema.design() != design:
        return "refit", "feature schema changed: trained from scratch"
    return requested, ""


_TRAINING_COLUMNS = ["text", "text_hash", "label", "label_weight", "batch_id"]


def training_rows(store: LabelledStore, batch_id: str, strategy: str, replay_rows: int,
                  seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to train on, the batch's new rows), each with its ``batch_age`` (0 for the newest batch: the number
    of batches accepted after the row's).

    Only current labels outside the recent holdout are trained on. Continuing: the batch's rows plus a uniform
    replay sample of the older ones (only those rows are read); refit: every such row (streamed, one copy).
    """
    ages = {b: age for age, b in enumerate(reversed(store.batch_order()))}
    if strategy == "refit":
        rows = store.trainable(_TRAINING_COLUMNS)
        new_rows = rows[rows["batch_id"] == batch_id]
    else:
        new_rows = _new_rows(store, batch_id)
        replay = store.replay_sample(replay_rows, seed, exclude={batch_id}, columns=_TRAINING_COLUMNS)
        rows = pd.concat([new_rows, replay], ignore_index=True)
    rows["batch_age"] = rows["batch_id"].map(ages).fillna(0).astype(int)  # in place: a refit's rows held once
    return rows, new_rows.assign(batch_age=0).reset_index(drop=True)


def _new_rows(store: LabelledStore, batch_id: str) -> pd.DataFrame:
    """The batch's current rows outside the recent holdout, in their order."""
    batch = store.read_batch(batch_id, [*_TRAINING_COLUMNS, "recent_holdout"])
    newest = store.newest_of(batch["text_hash"].tolist(), columns=["text_hash", "batch_id"])
    current = newest.loc[newest["batch_id"] == batch_id, "text_hash"]
    return batch.loc[~batch["recent_holdout"].astype(bool) & batch["text_hash"].isin(current), _TRAINING_COLUMNS]


def train_challenger(store: LabelledStore, registry: ModelRegistry, client: InfinityClient, cache_root: UPath,
                     batch_id: str, options: RunOptions, design: FeatureSchema, champion: Champion | None,
                     seed: int) -> ModelCard:
    """Train, save as a candidate version, and return its card."""
    strategy, note = choose_strategy(options.strategy, champion, design)
    store = store.at(store.version())  # every read below sees one snapshot: the version the card names
    rows, new_rows = training_rows(store, batch_id, strategy, options.replay_rows, seed)
    valid = validation_mask(rows["text_hash"].tolist(), options.boosting.validation_fraction)
    texts, labels = rows["text"].tolist(), rows["label"].map(LABEL_TO_ID).to_numpy()
    weights = (recency_weights(rows["batch_age"].to_numpy(), options.recency_half_life)
               * rows["label_weight"].to_numpy(dtype=float))  # below 1: a row the label check down-weighted
    if strategy == "continue":
        weights[: len(new_rows)] *= options.boosting.new_row_weight
        schema = champion.schema
        features = feature_matrix(texts, schema, client, cache_root)
        result = continue_boosting(champion.booster, features, labels, options.boosting, valid, weights)
        batches = extend_span(champion.card.get("batches"), batch_id)
    else:
        schema = fit_schema(design, [t for t, v in zip(texts, valid, strict=True) if not v], client, cache_root)
        features = feature_matrix(texts, schema, client, cache_root)
        result = train_fresh(features, labels, options.boosting, valid, weights)
        batches = batch_span(store.batch_ids())
    card = _card(result, strategy, note, champion, batch_id, batches, options, schema)
    card.update(rows_trained=len(rows), new_rows=len(new_rows), validation_rows=int(valid.sum()),
                labelled_version=store.version())
    card["version"] = registry.save(result.booster, card)
    log.info("challenger %s: %s on %d rows in %.1f s", card["version"], strategy, len(rows), result.train_s)
    return card


def _card(result: TrainingResult, strategy: str, note: str, champion: Champion | None, batch_id: str,
          batches: BatchSpan, options: RunOptions, schema: FeatureSchema) -> ModelCard:
    return ModelCard(
        status="candidate", strategy=strategy, note=note,
        parent=champion.version if champion and strategy == "continue" else None,
        champion_at_training=champion.version if champion else None,
        batch_id=batch_id, batches=batches,
        params=options.boosting.to_dict(), feature_schema=schema.to_dict(), train_s=round(result.train_s, 3),
        num_trees=result.booster.num_trees(), rounds_added=result.rounds_added,
        validation_macro_f1=result.validation_macro_f1)
