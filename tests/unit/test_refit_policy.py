"""The refit DAG's policy: due when asked, or when the champion's trees pass the bound (a compacting refit), and
neither for a champion that is a fresh fit nor again against a champion a refit was already judged against; or when
a refit pays (every K batches since a fresh fit, or a systematic correction first found), then judged, like the
cycle's challenger of that batch, at half the significance, which keeps the chance of a false promotion per batch
as it was with one challenger."""

from __future__ import annotations

import dataclasses

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.label_check.known_corrections import remember_corrections
from tweet_sentiment.model.gate import GateRules, paired_bootstrap, promotion_decision
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit import refit_due, train_refit
from tweet_sentiment.pipeline.refit_policy import gate_options, refit_pays
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
    assert refit_due(settings, force=True).to_json() == {"due": True, "reason": "asked for", "batch_id": "b2",
                                                         "shares_batch": False}
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
    assert not again.due and f"refit {tried} was already judged against champion {champion}" in again.reason
    assert refit_due(settings, force=True).due  # asking still refits
    fresh = registry.save(booster, {"strategy": "refit", "num_trees": booster.num_trees()})
    registry.promote(fresh, "a refit", expected=champion)
    assert "is a fresh fit (30 trees): nothing to compact" in refit_due(settings, force=False).reason


def _fresh_champion(settings: Settings, booster: lgb.Booster, every: int,
                    fitted_at: str) -> tuple[Settings, ModelRegistry, str]:
    """Batches b1–b3 stored, a refit every ``every`` batches (no tree bound), and a champion freshly fitted at
    ``fitted_at``: the settings, the registry and the champion's version."""
    settings = dataclasses.replace(settings, max_champion_trees=0, refit_every_batches=every)
    for batch in ("b1", "b2", "b3"):
        _store_batch(settings, batch)
    registry = local_registry(settings.layout().registry)
    champion = registry.save(booster, {"strategy": "refit", "batch_id": fitted_at, "num_trees": 30})
    registry.promote(champion, "bootstrap", expected=None)
    return settings, registry, champion


def test_a_refit_pays_every_k_batches_since_the_last_fresh_fit_once_per_champion_and_batch(settings, booster):
    settings, registry, champion = _fresh_champion(settings, booster, every=2, fitted_at="b1")
    answer = refit_due(settings, force=False)
    assert answer.due and answer.shares_batch and answer.batch_id == "b3"
    assert "a refit pays: 2 batches since the last fresh fit (every 2)" in answer.reason
    assert gate_options(settings, None, RunOptions()).significance == 0.01  # no challenger: nothing to split
    continued = registry.save(booster, {"strategy": "continue", "champion_at_training": champion, "batch_id": "b3"})
    assert gate_options(settings, continued, RunOptions()).significance == 0.005  # the cycle's, when a refit pays
    tried = registry.save(booster, {"strategy": "refit", "champion_at_training": champion, "batch_id": "b3",
                                    "shares_batch": True})
    assert gate_options(settings, tried, RunOptions()).significance == 0.005
    registry.reject(tried, "not better")
    assert not refit_pays(settings).pays and f"judged against {champion} for b3" in refit_pays(settings).reason
    _store_batch(settings, "b4")  # one batch after that refit: not yet again
    assert not refit_pays(settings).pays and "1 batches since a fresh fit" in refit_pays(settings).reason
    asked = registry.save(booster, {"strategy": "refit", "champion_at_training": champion, "batch_id": "b4"})
    assert gate_options(settings, asked, RunOptions()).significance == 0.01  # a refit asked for: one test
    assert not refit_due(dataclasses.replace(settings, refit_every_batches=0), force=False).due  # 0: never


def test_a_refit_pays_as_soon_as_a_systematic_correction_is_first_found_once(settings, booster):
    settings, _, _ = _fresh_champion(settings, booster, every=0, fitted_at="b3")
    assert not refit_due(settings, force=False).due
    found = pd.DataFrame([{"word": "sanitizer", "direction": "towards negative", "since": "b3",
                           "moved_from": ["Positive"]}])
    remember_corrections(settings.layout(), "b3", found)  # what the check of b3 does when it finds it
    answer = refit_due(settings, force=False)
    assert answer.due and answer.shares_batch and answer.batch_id == "b3"
    assert "a systematic correction first found in b3: sanitizer (towards negative)" in answer.reason
    _store_batch(settings, "b4")
    remember_corrections(settings.layout(), "b4", found)  # found again: not new, and b4's check record has none
    assert not refit_pays(settings).pays


def _null_challenger(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Predictions of a model exactly as good as the champion: right on 90 % of the rows, else another class."""
    wrong = rng.random(len(labels)) < 0.1
    return np.where(wrong, (labels + rng.integers(1, 5, len(labels))) % 5, labels)


def _promoted(rng: np.random.Generator, labels: dict[str, np.ndarray], champion: dict[str, np.ndarray],
              rules: GateRules) -> bool:
    challenger = {name: _null_challenger(rng, y) for name, y in labels.items()}
    paired = {name: paired_bootstrap(y, champion[name], challenger[name], resamples=400, seed=int(rng.integers(1e6)))
              for name, y in labels.items()}
    return promotion_decision(paired["fixed"], paired["recent"], 1.0, rules).promote


def test_two_challengers_at_half_the_significance_keep_the_false_promotion_rate_of_one():
    rng = np.random.default_rng(7)
    rules = GateRules(significance=0.1, min_improvement=0.0, min_recent_rows=50)
    half = dataclasses.replace(rules, significance=0.05)
    one, two_split, two_unsplit, trials = 0, 0, 0, 300
    for _ in range(trials):
        labels = {"fixed": rng.integers(0, 5, 300), "recent": rng.integers(0, 5, 200)}
        champion = {name: _null_challenger(rng, y) for name, y in labels.items()}
        one += _promoted(rng, labels, champion, rules)
        two_split += _promoted(rng, labels, champion, half) | _promoted(rng, labels, champion, half)
        two_unsplit += _promoted(rng, labels, champion, rules) | _promoted(rng, labels, champion, rules)
    # no challenger is better: every promotion is false. Two at half the significance: no more often than one
    # (within the simulation's noise, about 0.02); two at the full significance: clearly more often
    assert two_split / trials <= one / trials + 0.03
    assert two_unsplit / trials > one / trials + 0.05
