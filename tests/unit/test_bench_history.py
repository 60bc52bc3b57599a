"""The scale bench reuses a built history only while its champion is of the design the code builds: a cycle on a
champion of another design is a refit, not the cycle the bench means to time."""

from __future__ import annotations

import dataclasses

import lightgbm as lgb
import numpy as np

from benchmarks.scale.build import champion_design_is_current, history_settings
from benchmarks.scale.standin import DIM
from tweet_sentiment.config import Settings
from tweet_sentiment.model.features import current_schema
from tweet_sentiment.model.registry import ModelRegistry


def test_a_history_is_reused_only_while_its_champion_has_the_codes_design(tmp_path):
    base = Settings.from_env()
    registry = ModelRegistry.of(history_settings(base, tmp_path, base.infinity_url))
    x = np.random.default_rng(0).normal(size=(50, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 2)
    assert not champion_design_is_current(base, tmp_path)  # no champion: build
    design = current_schema(base.embedding_model, DIM)
    older = dataclasses.replace(design, term_slots=0)  # a design from before the term slots
    old = registry.save(booster, {"strategy": "refit", "feature_schema": older.to_dict()})
    registry.promote(old, "built before", expected=None)
    assert not champion_design_is_current(base, tmp_path)
    fitted = dataclasses.replace(design, projection="p", terms=("sanitizer",))  # fitted state is not the design
    current = registry.save(booster, {"strategy": "refit", "feature_schema": fitted.to_dict()})
    registry.promote(current, "built now", expected=old)
    assert champion_design_is_current(base, tmp_path)
