"""The refit DAG's policy: due when asked, or when the champion's trees pass the bound (a compacting refit), and
neither for a champion that is a fresh fit nor again against a champion a refit was already judged against."""

from __future__ import annotations

import dataclasses

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit import refit_due, train_refit
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import text_hash


@pytest.fixture
def settings(tmp_path) -> Settings:
    return dataclasses.replace(Settings(), data_root=str(tmp_path / "data"), max_champion_trees=20)


@pytest.fixture
def booster() -> lgb.Booster:  # 3 classes x 10 rounds: 30 trees
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    return lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
                     lgb.Dataset(x, rng.integers(0, 3, 300)), 10)


def _store_batch(settings: Settings, batch: str) -> None:
    texts = [f"tweet {batch} {i}" for i in range(5)]
    LabelledStore(settings.layout().labelled).write_batch(batch, pd.DataFrame({
        "text": texts, "label": "Neutral", "tweet_at": "", "text_hash": [text_hash(t) for t in texts],
        "raw_text": texts, "source_file": "f.csv", "source_row": range(5), "batch_id": batch,
        "ingested_at": batch, "seq": range(5)}))


def test_nothing_to_refit_before_any_labelled_row_even_when_asked(settings):
    answer = refit_due(settings, force=True)
    assert not answer.due and answer.reason == "no labelled rows yet"
    skipped = train_refit(settings, answer, RunOptions())
    assert skipped.version is None and skipped.reason == answer.reason


def test_due_when_asked_or_past_the_tree_bound_and_not_twice_against_one_champion(settings, booster):
    for batch in ("b1", "b2"):
        _store_batch(settings, batch)
    assert refit_due(settings, force=True).to_json() == {"due": True, "reason": "asked for", "batch_id": "b2"}
    assert not refit_due(settings, force=False).due  # no champion: the cycle trains the first
    registry = local_registry(settings.layout().registry)
    champion = registry.save(booster, {"strategy": "continue", "num_trees": booster.num_trees()})
    registry.promote(champion, "bootstrap", expected=None)
    answer = refit_due(settings, force=False)
    assert answer.due and answer.batch_id == "b2" and "30 trees, more than 20" in answer.reason
    assert not refit_due(dataclasses.replace(settings, max_champion_trees=30), force=False).due
    assert not refit_due(dataclasses.replace(settings, max_champion_trees=0), force=False).due  # 0: off
    tried = registry.save(booster, {"strategy": "refit", "champion_at_training": champion})
    registry.reject(tried, "not better")
    again = refit_due(settings, force=False)
    assert not again.due and f"refit {tried} was already judged against champion {champion}" == again.reason
    assert refit_due(settings, force=True).due  # asking still refits
    fresh = registry.save(booster, {"strategy": "refit", "num_trees": booster.num_trees()})
    registry.promote(fresh, "a refit", expected=champion)
    assert "is a fresh fit (30 trees): nothing to compact" in refit_due(settings, force=False).reason
