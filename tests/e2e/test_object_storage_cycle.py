"""The whole loop with its data root and feature cache on a non-local filesystem (fsspec's ``memory://``),
with a real infinity server and a small real slice of the data: bootstrap, then one more batch with a bad file.

This is what Celery workers on several hosts do with ``TWEET_SENTIMENT_DATA_ROOT=s3://bucket/prefix``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support import local_registry
from upath import UPath

from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import next_batch
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import list_dir, read_json

pytestmark = pytest.mark.e2e


@pytest.fixture
def object_store(pipeline_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[UPath]:
    """Point the data root and the feature cache at an empty ``memory://`` bucket."""
    bucket = UPath(f"memory://tweets-{uuid.uuid4().hex}")
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(bucket / "data"))
    monkeypatch.setenv("TWEET_SENTIMENT_CACHE_ROOT", str(bucket / "features"))
    yield bucket
    bucket.fs.rm(bucket.path, recursive=True)


def test_bootstrap_and_a_cycle_run_entirely_on_object_storage(object_store, pipeline_env):
    settings = Settings.from_env()
    layout = settings.layout()
    registry = local_registry(layout.registry)

    bootstrap(settings, refit=False)
    first = registry.champion_version()
    assert first is not None and registry.card(first)["rows_trained"] > 800  # the recent holdout slice set aside

    feed_file = next_batch(layout, settings.train_file, 300, settings.bootstrap_rows)
    (layout.inbox / "garbage.csv").write_bytes(b"\x00\x01\x02")
    report = run_cycle(settings, "batch_1", RunOptions(force_promote=True))

    ledger = read_json(layout.ledger / "batch_1.json")
    assert ledger["rows_in"] == 300 and ledger["files_rejected"] == 1
    assert ledger["rows_in"] == ledger["rows_accepted"] + ledger["rows_quarantined"] + ledger["rows_held"]
    second = registry.champion_version()
    assert report.decision.promoted and second != first
    assert registry.card(second)["parent"] == first and registry.card(first)["status"] == "retired"
    archived = [p for day in list_dir(layout.archive) for p in list_dir(day / "batch_1")]
    assert sorted(p.name for p in archived) == sorted([feed_file.name, "garbage.csv"])
    assert "binary data" in read_json(layout.quarantine / "batch_1" / "garbage.csv.reason.json")["reason"]
    assert list_dir(layout.inbox) == [] and list_dir(layout.processing) == []

    features = object_store / "features"
    assert {p.name for p in list_dir(features)} >= {settings.embedding_model}
    assert all(list_dir(ns) for ns in list_dir(features))
    assert not pipeline_env.exists()  # the local data root the fixture named was never written
