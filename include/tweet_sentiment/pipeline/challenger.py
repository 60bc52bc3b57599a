"""Training a challenger: continue boosting the champion on new + replayed rows, or refit on every labelled row
(chunk by chunk: the cost of a refit at a million rows is its feature matrix, docs/scale.md).

A fresh model is trained instead of a continuation when there is no champion, or when its feature schema is not
the one the code builds now (a model is only ever fed features of its own schema).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from upath import UPath

from tweet_sentiment.label_check.teaching import outdated_weights
from tweet_sentiment.model.boosting import (
    NEGLIGIBLE_RECENCY_WEIGHT,
    TrainingResult,
    continue_boosting,
    max_weighing_age,
    recency_weights,
    train_fresh_on,
    validation_mask,
)
from tweet_sentiment.model.features import PROJECTION_SAMPLE_ROWS, feature_matrix, fit_schema
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.model.terms import newest_first, with_terms
from tweet_sentiment.model.training_set import build_training_set
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


def batch_ages(store: LabelledStore) -> dict[str, int]:
    """Each batch's age: the number of batches accepted after it (0 for the newest)."""
    return {b: age for age, b in enumerate(reversed(store.batch_order()))}


def training_rows(store: LabelledStore, batch_id: str, replay_rows: int,
                  seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A continuation's (rows to train on, the batch's new rows), each with its ``batch_age``: the batch's current
    rows outside the recent holdout plus a uniform replay sample of the older ones (only those rows are read)."""
    new_rows = _new_rows(store, batch_id)
    replay = store.replay_sample(replay_rows, seed, exclude={batch_id}, columns=_TRAINING_COLUMNS)
    rows = pd.concat([new_rows, replay], ignore_index=True)
    rows["batch_age"] = rows["batch_id"].map(batch_ages(store)).fillna(0).astype(int)
    return rows, new_rows.assign(batch_age=0).reset_index(drop=True)


def _new_rows(store: LabelledStore, batch_id: str) -> pd.DataFrame:
    """The batch's current rows outside the recent holdout, in their order."""
    batch = store.read_batch(batch_id, [*_TRAINING_COLUMNS, "recent_holdout"])
    newest = store.newest_of(batch["text_hash"].tolist(), columns=["text_hash", "batch_id"])
    current = newest.loc[newest["batch_id"] == batch_id, "text_hash"]
    return batch.loc[~batch["recent_holdout"].astype(bool) & batch["text_hash"].isin(current), _TRAINING_COLUMNS]


def train_challenger(store: LabelledStore, registry: ModelRegistry, client: InfinityClient, cache_root: UPath,
                     batch_id: str, options: RunOptions, design: FeatureSchema, champion: Champion | None,
                     seed: int, corrections: Sequence[dict] = ()) -> ModelCard:
    """Train (a continuation, or a refit: :func:`refit`), save as a candidate version, and return its card (with
    ``train_cpu_s``: the CPU seconds of the whole training, features included). ``corrections``: the systematic
    corrections found so far (label_check.known_corrections), whose contradicted older rows weigh less."""
    cpu = time.process_time()
    strategy, note = choose_strategy(options.strategy, champion, design)
    store = store.at(store.version())  # every read below sees one snapshot: the version the card names
    if strategy == "refit":
        card = refit(store, registry, client, cache_root, batch_id, options, design, champion, seed, note,
                     corrections)
    else:
        card = _continuation(store, registry, client, cache_root, batch_id, options, champion, seed, note,
                             corrections)
    return registry.update_card(card["version"], train_cpu_s=round(time.process_time() - cpu, 3))


def _continuation(store: LabelledStore, registry: ModelRegistry, client: InfinityClient, cache_root: UPath,
                  batch_id: str, options: RunOptions, champion: Champion, seed: int, note: str,
                  corrections: Sequence[dict]) -> ModelCard:
    """Continue boosting the champion on the batch's new rows and a replay sample, the corrections' terms in its
    schema's empty slots (model/terms.py); saved as a candidate."""
    rows, new_rows = training_rows(store, batch_id, options.replay_rows, seed)
    valid = validation_mask(rows["text_hash"].tolist(), options.boosting.validation_fraction)
    ages = batch_ages(store)
    weights, outdated = row_weights(rows, ages, options, corrections)
    weights[: len(new_rows)] *= options.boosting.new_row_weight
    schema = with_terms(champion.schema, newest_first(corrections, ages))
    features = feature_matrix(rows["text"].tolist(), schema, client, cache_root)
    result = continue_boosting(champion.booster, features, rows["label"].map(LABEL_TO_ID).to_numpy(),
                               options.boosting, valid, weights)
    card = _card(result, "continue", note, champion, batch_id, extend_span(champion.card.get("batches"), batch_id),
                 options, schema)
    return _save(registry, result, card, rows=len(rows), new_rows=len(new_rows), validation_rows=int(valid.sum()),
                 labelled_version=store.version(), outdated_rows=outdated)


def refit(store: LabelledStore, registry: ModelRegistry, client: InfinityClient, cache_root: UPath,
          batch_id: str, options: RunOptions, design: FeatureSchema, champion: Champion | None, seed: int,
          note: str = "", corrections: Sequence[dict] = ()) -> ModelCard:
    """A fresh model on every trainable row of the (pinned) ``store`` that weighs (recency weight at least
    NEGLIGIBLE_RECENCY_WEIGHT: the newest 20 half-lives of batches; every row when rows do not age): the embedding
    projection fitted on a sample of PROJECTION_SAMPLE_ROWS training rows, then the features built chunk by chunk
    (model/training_set.py), so the cost in memory is the feature matrix, not the rows; the older rows one of
    ``corrections`` contradicts weigh less (:func:`row_weights`), and their terms fill the schema's term slots
    (model/terms.py). Saved as a candidate."""
    sample = store.trainable_sample(PROJECTION_SAMPLE_ROWS, seed, ["text", "text_hash"])
    fitted_on = sample.loc[~validation_mask(sample["text_hash"].tolist(), options.boosting.validation_fraction)]
    ages, counted = batch_ages(store), {"rows": 0, "new_rows": 0, "outdated": 0}
    schema = with_terms(fit_schema(design, fitted_on["text"].tolist(), client, cache_root),
                        newest_first(corrections, ages))
    log.info("refit: projection fitted on %d sampled rows; the corrections' terms %s", len(fitted_on),
             list(schema.terms))
    oldest = max_weighing_age(options.recency_half_life)
    weighing = [b for b, age in ages.items() if age <= oldest]

    def weight_of(chunk: pd.DataFrame) -> np.ndarray:
        counted["rows"] += len(chunk)
        counted["new_rows"] += int((chunk["batch_id"] == batch_id).sum())
        weights, outdated = row_weights(chunk, ages, options, corrections)
        counted["outdated"] += outdated
        return weights

    if len(weighing) < len(ages):
        log.info("refit: the newest %d of %d batches (older rows weigh under %.1e)", len(weighing), len(ages),
                 NEGLIGIBLE_RECENCY_WEIGHT)
    chunks = store.trainable_chunks(_TRAINING_COLUMNS, batch_ids=weighing if len(weighing) < len(ages) else None)
    data = build_training_set(chunks, schema, client, cache_root,
                              options.boosting.validation_fraction, weight_of)
    validation_rows = 0 if data.valid is None else len(data.valid[1])
    result = train_fresh_on(data, options.boosting)
    weighing_ids = set(weighing)
    trained_on = batch_span([b for b in store.batch_ids() if b in weighing_ids])
    card = _card(result, "refit", note, champion, batch_id, trained_on, options, schema)
    return _save(registry, result, card, rows=counted["rows"], new_rows=counted["new_rows"],
                 validation_rows=validation_rows, labelled_version=store.version(), outdated_rows=counted["outdated"])


def row_weights(rows: pd.DataFrame, ages: dict[str, int], options: RunOptions,
                corrections: Sequence[dict]) -> tuple[np.ndarray, int]:
    """Recency weights by batch age, times each row's label weight (below 1: a row the label check
    down-weighted; above: a row that teaches), times ``options.teaching.outdated`` for an older row one of
    ``corrections`` contradicts (label_check.teaching.outdated_weights); and how many rows that was."""
    age = rows["batch_id"].map(ages).fillna(0).to_numpy(dtype=float)
    outdated = outdated_weights(rows, corrections, ages, options.teaching.outdated)
    weights = recency_weights(age, options.recency_half_life) * rows["label_weight"].to_numpy(dtype=float)
    return weights * outdated, int((outdated != 1).sum())


def _round_cap(card: ModelCard) -> int:
    """The rounds the challenger's strategy allowed (a refit's after the tree bound, see within_tree_bound)."""
    params = card["params"]
    return params["continue_rounds"] if card["strategy"] == "continue" else params["num_boost_round"]


def _save(registry: ModelRegistry, result: TrainingResult, card: ModelCard, rows: int, new_rows: int,
          validation_rows: int, labelled_version: int | None, outdated_rows: int) -> ModelCard:
    card.update(rows_trained=rows, new_rows=new_rows, validation_rows=validation_rows,
                labelled_version=labelled_version, rows_outdated=outdated_rows)
    card["version"] = registry.save(result.booster, card)
    log.info("challenger %s: %s on %d rows in %.1f s, %d trees (%d rounds kept of at most %d)", card["version"],
             card["strategy"], rows, result.train_s, card["num_trees"], result.rounds_added, _round_cap(card))
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
