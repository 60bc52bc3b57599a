"""The whole loop with its data root and feature cache on S3 (moto's S3 API, started here: the labelled store's
Delta table commits there as on AWS), with a real infinity server and a small real slice of the data: bootstrap,
then one more batch with a bad file.

This is what Celery workers on several hosts do with ``TWEET_SENTIMENT_DATA_ROOT=s3://bucket/prefix``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from native_services import s3_with_bucket
from upath import UPath

from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import next_batch
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.housekeeping import run_maintenance
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import list_dir, read_json
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache, dataset_name, namespaces

pytestmark = pytest.mark.e2e


@pytest.fixture
def object_store(pipeline_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UPath]:
    """Point the data root and the feature cache at an empty S3 bucket."""
    name = f"tweets-{uuid.uuid4().hex[:12]}"
    with s3_with_bucket(tmp_path / "s3", name):
        bucket = UPath(f"s3://{name}")
        monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(bucket / "data"))
        monkeypatch.setenv("TWEET_SENTIMENT_CACHE_ROOT", str(bucket / "features"))
        # SQLite cannot live in a bucket: the state database is named, as on the hosts of a deployment
        monkeypatch.setenv("TWEET_SENTIMENT_STATE_DB_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
        yield bucket


def test_bootstrap_and_a_cycle_run_entirely_on_object_storage(object_store, pipeline_env):
    settings = Settings.from_env()
    layout = settings.layout()
    registry = ModelRegistry(layout.registry, settings.state_db)

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
    assert sorted(p.name for p in archived) == sorted([f"{feed_file.name}.gz", "garbage.csv.gz"])
    assert "binary data" in read_json(layout.quarantine / "batch_1" / "garbage.csv.reason.json")["reason"]
    assert list_dir(layout.inbox) == [] and list_dir(layout.processing) == []
    store = LabelledStore(layout.labelled)  # the Delta table on S3: lineage, then the housekeeping there
    assert registry.card(second)["labelled_version"] == store.version() >= 1
    rows = store.read_all()
    assert run_maintenance(dataclasses.replace(settings, table_retention_hours=0), "labelled_rows")["files"] == 1
    pd.testing.assert_frame_equal(store.read_all(), rows)

    features = object_store / "features"
    assert {p.name for p in list_dir(features)} >= {dataset_name(settings.embedding_model)}
    assert all(len(VectorCache(features, name)) for name in namespaces(features))
    assert not pipeline_env.exists()  # the local data root the fixture named was never written
