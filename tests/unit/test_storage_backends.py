"""The data path on two filesystems: a local folder and fsspec's in-memory filesystem (``memory://``).

The same tests run on both, so nothing between the inbox and the archive assumes a local disk: atomic writes,
moves, the claim of inbox files (and of a dead run's batch), the labelled store, quarantine, the ledger, the
embedding cache, the model registry, the feed and the archive.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import pytest
from upath import UPath

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim, ready_files
from tweet_sentiment.intake.feed import next_batch
from tweet_sentiment.intake.labelled import ingest_batch
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.contracts import ChallengerResult, Embedded, Evaluation, RunReport
from tweet_sentiment.pipeline.retrain import archive_batch
from tweet_sentiment.storage.archive import read_archived
from tweet_sentiment.storage.fs import (
    DataLayout,
    as_path,
    is_local,
    list_dir,
    move,
    read_json,
    remove_empty_dir,
    write_bytes_atomic,
    write_json_atomic,
)
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import text_hash

HEADER = "UserName,ScreenName,Location,TweetAt,OriginalTweet,Sentiment\n"


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


@pytest.fixture(params=["local", "memory"])
def data_root(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty data root on the parametrised filesystem."""
    if request.param == "local":
        yield str(tmp_path / "data")
        return
    root = f"memory://storage-test-{uuid.uuid4().hex}/data"
    yield root
    fs = as_path(root).fs
    fs.rm(as_path(root).parent.path, recursive=True)


@pytest.fixture
def layout(data_root: str) -> DataLayout:
    lay = DataLayout(data_root)
    lay.ensure()
    return lay


def labelled_store_on(layout: DataLayout) -> None:
    """The labelled store is a Delta table: on a local folder or on S3 (tests/reliability run it on a local S3
    server), not on fsspec's memory filesystem, which delta-rs cannot reach."""
    if not is_local(layout.root):
        pytest.skip("the labelled store (a Delta table) runs on local folders and s3://, tested on S3 elsewhere")


def names(folder: UPath) -> list[str]:
    return [p.name for p in list_dir(folder)]


def test_the_layout_is_on_the_filesystem_the_url_names(data_root, layout):
    assert is_local(layout.inbox) == (not data_root.startswith("memory://"))
    assert layout.inbox.exists() and layout.registry.exists()


def test_atomic_writes_moves_and_folders(layout):
    target = layout.reports / "a" / "b.json"
    write_json_atomic(target, {"n": 1})
    write_json_atomic(target, {"n": 2})
    assert read_json(target) == {"n": 2}
    assert names(target.parent) == ["b.json"]  # no temporary sibling left behind

    write_bytes_atomic(layout.inbox / "x.csv", b"payload")
    moved = move(layout.inbox / "x.csv", layout.processing / "run1" / "x.csv")
    assert moved.read_bytes() == b"payload" and not (layout.inbox / "x.csv").exists()

    assert list_dir(layout.root / "never-made") == []
    with pytest.raises(OSError):
        remove_empty_dir(layout.processing / "run1")  # never recursive: it still holds x.csv
    assert (layout.processing / "run1" / "x.csv").exists()
    moved.unlink()
    remove_empty_dir(layout.processing / "run1")
    assert names(layout.processing) == []


def test_claim_and_ingest_fill_store_quarantine_and_ledger(layout):
    labelled_store_on(layout)
    write_bytes_atomic(layout.inbox / "good.csv", csv_bytes(
        '1,2,UK,16-03-2020,"Shelves empty again",Negative',
        '3,4,,16-03-2020,"what a fine day",Positive',
        '5,6,,16-03-2020,"hello there",Meh',
        '7,8,,17-03-2020,"what a fine day",Neutral',
        '9,9,,17-03-2020,"Shelves  empty again",Negative',
    ))
    write_bytes_atomic(layout.inbox / "notes.txt", b"not a csv")
    write_bytes_atomic(layout.inbox / ".upload.csv.tmp", b"half a file")

    assert claim(layout, "b1", settle_s=0) == ["good.csv", "notes.txt"]
    assert names(layout.inbox) == [".upload.csv.tmp"]  # a file being written is nobody's input yet
    entry = ingest_batch(layout, "b1", max_text_chars=1000)

    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_superseding"], entry["rows_quarantined"]) == (
        5, 2, 1, 2)
    assert entry["files_rejected"] == 1
    assert read_json(layout.ledger / "b1.json") == entry
    assert ingest_batch(layout, "b1", max_text_chars=1000) == entry  # a retried task reads the ledger
    stored = LabelledStore(layout.labelled).read_batch("b1")
    assert stored["text"].tolist() == ["Shelves empty again", "what a fine day", "what a fine day"]
    assert LabelledStore(layout.labelled).current()["label"].tolist() == ["Negative", "Neutral"]
    assert set(stored["batch_id"]) == {"b1"}
    quarantine = layout.quarantine / "b1"
    assert names(quarantine) == ["good.csv.rejected.csv", "notes.txt", "notes.txt.reason.json"]
    rejected = (quarantine / "good.csv.rejected.csv").read_text()
    assert "unknown label 'Meh'" in rejected and "duplicate text" in rejected
    assert "not a .csv file" in read_json(quarantine / "notes.txt.reason.json")["reason"]


def test_a_dead_runs_batch_is_taken_over_alone_and_new_files_wait(layout):
    labelled_store_on(layout)
    write_bytes_atomic(layout.inbox / "a.csv", csv_bytes('1,2,,16-03-2020,"first tweet",Positive'))
    claim(layout, "dead", settle_s=0)
    ingest_batch(layout, "dead", max_text_chars=1000)  # the run then died before archiving

    write_bytes_atomic(layout.inbox / "b.csv", csv_bytes('1,2,,17-03-2020,"second tweet",Negative'))
    assert claim(layout, "next", settle_s=0) == ["a.csv"]  # a take-over never grows the dead batch
    assert [n for n in names(layout.processing) if not n.startswith(".")] == ["next"]
    assert names(layout.inbox) == ["b.csv"]
    assert LabelledStore(layout.labelled).batch_ids() == []
    assert read_json(layout.ledger / "dead.json")["superseded_by"] == "next"
    entry = ingest_batch(layout, "next", max_text_chars=1000)
    archive_claimed(layout.labelled_stream, "next")
    assert claim(layout, "later", settle_s=0) == ["b.csv"]
    entry["rows_accepted"] += ingest_batch(layout, "later", max_text_chars=1000)["rows_accepted"]
    assert entry["rows_accepted"] == 2  # "first tweet" is not a duplicate of the dropped batch


def test_settle_time_applies_to_local_files_only(layout):
    write_bytes_atomic(layout.inbox / "fresh.csv", csv_bytes('1,2,,16-03-2020,"just written",Positive'))
    ready = [p.name for p in ready_files(layout.inbox, settle_s=3600)]
    # A local file may still be growing; an object store's single PUT is whole the moment it is listed.
    assert ready == ([] if is_local(layout.inbox) else ["fresh.csv"])
    assert [p.name for p in ready_files(layout.inbox, settle_s=0)] == ["fresh.csv"]


def test_embedding_cache_is_written_and_read_back(layout):
    if not is_local(layout.embeddings):  # on S3: tests/reliability/test_reliability_s3_vectors.py
        with pytest.raises(ValueError, match="memory:// dataset only in the object that wrote it"):
            VectorCache(layout.embeddings, "some/model")
        return
    cache = VectorCache(layout.embeddings, "some/model")
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    hashes = [text_hash(f"h{i}") for i in range(4)]
    for i in range(4):
        cache.put(hashes[i:i + 1], vectors[i:i + 1])
    reread = VectorCache(layout.embeddings, "some/model")
    assert len(reread) == 4 and reread.missing([hashes[0], text_hash("h9")]) == [text_hash("h9")]
    np.testing.assert_array_equal(reread.get([hashes[3], hashes[0]]), vectors[[3, 0]])
    assert names(layout.embeddings) == ["some_model.lance"]


def test_registry_switches_the_champion_and_loads_it_back(layout, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 5)
    registry = ModelRegistry(layout.registry, f"sqlite:///{tmp_path}/state.sqlite")  # model files on the data root
    first = registry.save(booster, {"strategy": "refit"})
    second = registry.save(booster, {"strategy": "continue"})
    registry.promote(first, "bootstrap", expected=registry.champion_version())
    registry.promote(second, "better", expected=registry.champion_version())
    third = registry.save(booster, {"strategy": "continue"})
    registry.reject(third, "worse")
    registry.rollback(first, "second misbehaved", expected=registry.champion_version())

    version, model, card = registry.champion()
    assert version == first and card["status"] == "champion"
    np.testing.assert_allclose(model.predict(x), booster.predict(x))
    statuses = {c["version"]: c["status"] for c in registry.versions()}
    assert statuses == {first: "champion", second: "retired", third: "rejected"}
    assert [e["action"] for e in registry.history()] == ["promote", "promote", "rollback"]


def test_feed_drops_the_next_batch_into_the_inbox(layout, tmp_path):
    train = tmp_path / "train.csv"
    train.write_bytes(csv_bytes(*(f'{i},{i},,{10 + i % 5:02d}-03-2020,"tweet {i}",Neutral' for i in range(10))))
    first = next_batch(layout, train, batch_rows=4, start_at=2)
    second = next_batch(layout, train, batch_rows=4, start_at=2)
    assert (first.name, second.name) == ("feed-00002-00006.csv", "feed-00006-00010.csv")
    assert names(layout.inbox) == [first.name, second.name]
    assert read_json(layout.feed_state) == {"offset": 10, "total": 10}
    assert next_batch(layout, train, batch_rows=4, start_at=2) is None


def test_archive_moves_the_claimed_files_and_writes_the_run_report(data_root, layout, tmp_path):
    write_bytes_atomic(layout.inbox / "a.csv", csv_bytes('1,2,,16-03-2020,"a tweet",Positive'))
    claim(layout, "b1", settle_s=0)
    settings = dataclasses.replace(Settings(), data_root=data_root, state_db_url=f"sqlite:///{tmp_path}/state.sqlite")
    ledger, embedded = {"batch_id": "b1", "seconds": 1.5}, Embedded("b1", 1, seconds=2.0)
    challenger = ChallengerResult(None, reason="no accepted rows in this batch", seconds=0.1)
    evaluation = Evaluation(None, None, promote=False, reason="no challenger", seconds=0.2)
    checked = {"rows_flagged": 0, "seconds": 0.3}
    day_before = f"{datetime.now(UTC):%Y-%m-%d}"
    report = archive_batch(settings, ledger, embedded, challenger, evaluation, checked)
    day_after = f"{datetime.now(UTC):%Y-%m-%d}"

    (day,) = names(layout.archive)  # the date archive_batch took, once: the day it ran (UTC midnight may pass)
    assert day in {day_before, day_after}
    archived = layout.archive / day / "b1"
    assert report.archived == ["a.csv.gz"] and names(archived) == ["a.csv.gz"]
    assert read_archived(archived / "a.csv.gz") == csv_bytes('1,2,,16-03-2020,"a tweet",Positive')
    assert names(layout.processing) == []
    written = json.loads((layout.reports / "runs" / "b1.json").read_text())
    assert written == {
        "batch_id": "b1", "ledger": ledger, "embedded": embedded.to_json(), "label_check": checked,
        "challenger": challenger.to_json(), "evaluation": evaluation.to_json(), "decision": None,
        "archived": ["a.csv.gz"],
        "timings_s": {"claim_and_ingest": 1.5, "embed": 2.0, "check_labels": 0.3, "train": 0.1, "evaluate": 0.2}}
    assert RunReport.from_json(written) == report  # the report reads back as the contract it was written from
