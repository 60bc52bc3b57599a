"""A refit trains on the rows that weigh: with recency weights (half-life h batches) the newest 20·h batches'
rows, older ones weighing under a millionth of a new row's; every row when rows do not age (half-life 0). The older
rows a systematic correction contradicts are weighed down in a refit and in a continuation's replay. The vectors
come from the real (Lance) feature cache, nothing is embedded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from support import local_registry
from upath import UPath

from tweet_sentiment.model.boosting import (
    NEGLIGIBLE_RECENCY_WEIGHT,
    BoostingParams,
    max_weighing_age,
    recency_weights,
    within_tree_bound,
)
from tweet_sentiment.model.features import current_schema
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.pipeline.challenger import refit, train_challenger, training_rows
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import text_hash

MODEL, DIM, BATCHES, ROWS = "test-model", 24, 24, 40


def test_the_oldest_age_that_weighs_is_twenty_half_lives():
    assert max_weighing_age(1.0) == 20 and max_weighing_age(2.5) == 50 and max_weighing_age(0) == np.inf
    weights = recency_weights(np.array([20, 21]), 1.0).tolist()
    assert weights == [NEGLIGIBLE_RECENCY_WEIGHT, NEGLIGIBLE_RECENCY_WEIGHT / 2]


def _store(tmp_path) -> tuple[LabelledStore, UPath]:
    """BATCHES batches of ROWS rows (the label follows a word), their vectors cached."""
    store, cache = LabelledStore(UPath(tmp_path) / "labelled"), UPath(tmp_path) / "cache"
    rng = np.random.default_rng(2)
    for b in range(BATCHES):
        texts = [f"batch {b} tweet {i} is {('awful', 'bad', 'here', 'good', 'great')[i % 5]}" for i in range(ROWS)]
        hashes = [text_hash(t) for t in texts]
        store.write_batch(f"b{b:02d}", pd.DataFrame({
            "text": texts, "label": [LABELS[i % 5] for i in range(ROWS)], "tweet_at": "", "text_hash": hashes,
            "raw_text": texts, "source_file": "f.csv", "source_row": range(1, ROWS + 1), "batch_id": f"b{b:02d}",
            "ingested_at": f"2026-01-01T00:{b:02d}", "seq": range(ROWS), "recent_holdout": False, "annotator": "",
            "suggested_label": "", "review_id": "", "label_weight": 1.0}))
        VectorCache(cache, MODEL).put(hashes, rng.standard_normal((ROWS, DIM)).astype(np.float32))
    return store, cache


def test_a_refit_trains_on_the_batches_whose_rows_weigh(tmp_path):
    store, cache = _store(tmp_path)
    registry, client = local_registry(UPath(tmp_path) / "registry"), InfinityClient("http://127.0.0.1:9", MODEL)
    design = dataclasses.replace(current_schema(MODEL, DIM), embedding_components=4)
    options = RunOptions(boosting=BoostingParams(num_boost_round=3, min_data_in_leaf=2))
    card = refit(store, registry, client, cache, f"b{BATCHES - 1:02d}", options, design, None, seed=1)
    assert card["rows_trained"] == 21 * ROWS  # ages 0..20: b03..b23
    assert card["batches"] == {"count": 21, "first": "b03", "last": f"b{BATCHES - 1:02d}"}
    ageless = refit(store, registry, client, cache, f"b{BATCHES - 1:02d}",
                    dataclasses.replace(options, recency_half_life=0.0), design, None, seed=1)
    assert ageless["rows_trained"] == BATCHES * ROWS and ageless["batches"]["first"] == "b00"


def test_a_refit_under_a_tree_bound_holds_at_most_half_of_it(tmp_path):
    """A compacting refit as large as the bound would put its first continuation past it: another compaction."""
    store, cache = _store(tmp_path)
    registry, client = local_registry(UPath(tmp_path) / "registry"), InfinityClient("http://127.0.0.1:9", MODEL)
    design = dataclasses.replace(current_schema(MODEL, DIM), embedding_components=4)
    free = BoostingParams(num_boost_round=60, min_data_in_leaf=2, validation_fraction=0.0)  # no early stopping
    assert within_tree_bound(free, 0) == free  # 0: no bound
    batch = f"b{BATCHES - 1:02d}"
    unbounded = refit(store, registry, client, cache, batch, RunOptions(boosting=free), design, None, seed=1)
    bounded = refit(store, registry, client, cache, batch, RunOptions(boosting=within_tree_bound(free, 45)), design,
                    None, seed=1)
    assert unbounded["num_trees"] == 60 * len(LABELS)
    assert bounded["num_trees"] == 4 * len(LABELS) <= 45 / 2


# the team reads "great" tweets as bad news from batch b20 on: the older "great" rows labelled Extremely Positive
# contradict it (every eighth row of a batch: i % 5 == 4)
GREAT_IS_BAD = [{"word": "great", "direction": "towards negative", "since": "b20",
                 "moved_from": ["Extremely Positive", "Positive"], "found_in": "b20"}]


def _contradicted(rows: pd.DataFrame) -> int:
    """The rows GREAT_IS_BAD contradicts, counted here without the product's code."""
    return int((rows["text"].str.endswith(" great") & (rows["batch_id"] < "b20")
                & (rows["label"] == "Extremely Positive")).sum())


def test_the_older_rows_a_correction_contradicts_weigh_less_in_the_refit_and_the_continuations_replay(tmp_path):
    store, cache = _store(tmp_path)
    registry, client = local_registry(UPath(tmp_path) / "registry"), InfinityClient("http://127.0.0.1:9", MODEL)
    design = dataclasses.replace(current_schema(MODEL, DIM), embedding_components=4)
    options = RunOptions(boosting=BoostingParams(num_boost_round=3, min_data_in_leaf=2))
    plain = refit(store, registry, client, cache, "b23", options, design, None, seed=1)
    fitted = refit(store, registry, client, cache, "b23", options, design, None, seed=1, corrections=GREAT_IS_BAD)
    assert plain["rows_outdated"] == 0
    assert fitted["rows_outdated"] == 17 * (ROWS // 5)  # b03 … b19: the batches that weigh, before b20
    champion = Champion(fitted["version"], registry.load(fitted["version"]), registry.card(fitted["version"]))
    continued = train_challenger(store, registry, client, cache, "b23", dataclasses.replace(options,
                                 strategy="continue"), design, champion, seed=1, corrections=GREAT_IS_BAD)
    replayed, _ = training_rows(store, "b23", options.replay_rows, 1)
    assert continued["strategy"] == "continue" and continued["rows_outdated"] == _contradicted(replayed) > 0


def test_the_corrections_terms_fill_the_schemas_slots_and_keep_them_through_continuations(tmp_path):
    """A refit puts the known corrections' terms in its term slots; a continuation keeps them where they are and
    fills an empty slot with a term found since; the saved model is fed exactly its schema's width."""
    store, cache = _store(tmp_path)
    registry, client = local_registry(UPath(tmp_path) / "registry"), InfinityClient("http://127.0.0.1:9", MODEL)
    design = dataclasses.replace(current_schema(MODEL, DIM), embedding_components=4)
    options = RunOptions(boosting=BoostingParams(num_boost_round=3, min_data_in_leaf=2))
    fitted = refit(store, registry, client, cache, "b23", options, design, None, seed=1, corrections=GREAT_IS_BAD)
    assert fitted["feature_schema"]["terms"] == ["great"]
    champion = Champion(fitted["version"], registry.load(fitted["version"]), registry.card(fitted["version"]))
    found_since = [*GREAT_IS_BAD, {"word": "tweet awful", "direction": "towards positive", "since": "b22",
                                   "moved_from": ["Extremely Negative"], "found_in": "b23"}]
    continued = train_challenger(store, registry, client, cache, "b23", dataclasses.replace(options,
                                 strategy="continue"), design, champion, seed=1, corrections=found_since)
    assert continued["strategy"] == "continue"
    assert continued["feature_schema"]["terms"] == ["great", "tweet awful"]
    assert registry.load(continued["version"]).num_feature() == champion.schema.width == design.width
