"""The assets' names and the extras of their events; a promotion's event from the promote task's function."""

import lightgbm as lgb
import numpy as np
import pytest
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.assets import CHAMPION, INBOX, champion_event, inbox_event
from tweet_sentiment.pipeline.contracts import Evaluation
from tweet_sentiment.pipeline.retrain import keep_champion, promote_challenger

METRICS = {"macro_f1": 0.71, "accuracy": 0.73, "per_class_f1": {"Neutral": 0.8}}


@pytest.fixture
def booster():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                     lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 3)


@pytest.fixture
def settings(tmp_path):
    return Settings(data_root=str(tmp_path / "data"))


def test_the_two_assets_have_distinct_private_names_and_uris():
    assert INBOX.name != CHAMPION.name and INBOX.uri != CHAMPION.uri
    assert all(uri.startswith("x-tweet-sentiment://") for uri in (INBOX.uri, CHAMPION.uri))


def test_an_inbox_event_names_the_batch():
    batch = {"file": "feedback-1.csv", "rows": 3, "annotator": "ann", "correction_rate": 0.33,
             "sent_at": "2026-11-30T06:00:00+00:00", "champion_versions": ["v1"], "corrected": 1}
    assert inbox_event(batch) == {"file": "feedback-1.csv", "rows": 3, "annotator": "ann",
                                  "correction_rate": 0.33, "sent_at": "2026-11-30T06:00:00+00:00"}


def test_a_champion_event_holds_the_version_the_previous_one_and_the_metrics(tmp_path, booster):
    registry = local_registry(tmp_path / "registry")
    with pytest.raises(LookupError):
        champion_event(registry, "promote")
    first, second = registry.save(booster, {}), registry.save(booster, {"metrics": METRICS})
    registry.promote(first, "bootstrap", expected=registry.champion_version())
    registry.promote(second, "better by 0.02", expected=registry.champion_version())
    event = champion_event(registry, "promote")
    assert event["version"] == second and event["previous"] == first and event["reason"] == "better by 0.02"
    assert (event["macro_f1"], event["accuracy"], event["per_class_f1"]) == (0.71, 0.73, {"Neutral": 0.8})
    registry.rollback(first, "rollback by ann: worse on sarcasm", expected=registry.champion_version())
    back = champion_event(registry, "rollback")
    assert (back["version"], back["previous"], back["action"], back["macro_f1"]) == (first, second, "rollback", None)


def test_a_real_promotion_returns_its_event_a_refused_or_kept_one_none(settings, booster):
    registry = ModelRegistry.of(settings)
    champion, challenger, late = (registry.save(booster, {"metrics": METRICS}) for _ in range(3))
    registry.promote(champion, "bootstrap", expected=registry.champion_version())
    promoted = promote_challenger(settings, Evaluation(challenger, champion, promote=True, reason="better"))
    assert promoted.promoted and promoted.event["version"] == challenger
    assert promoted.event["previous"] == champion and promoted.event["macro_f1"] == 0.71

    refused = promote_challenger(settings, Evaluation(late, champion, promote=True, reason="better"))
    assert refused.promoted is False and "champion changed during the run" in refused.reason
    assert refused.event is None
    kept = keep_champion(settings, Evaluation(late, champion, promote=False, reason="not better"))
    assert kept.promoted is False and kept.event is None
