"""Writers of a Delta table racing in processes (storage/tables.py), for the local and the S3 tests."""

from __future__ import annotations

import multiprocessing

import pyarrow as pa
from upath import UPath

from tweet_sentiment.storage.tables import DeltaRows

SCHEMA = pa.schema([("text_hash", pa.string()), ("batch_id", pa.string()), ("seq", pa.int64())])
WRITERS, COMMITS = 3, 5  # processes, and the commits each makes


def rows_of(batch_id: str, n: int) -> pa.Table:
    return pa.table({"seq": list(range(n)), "batch_id": [batch_id] * n,
                     "text_hash": [f"{batch_id}-{i}" for i in range(n)]})


def _append_many(location: str, writer: int) -> None:
    table = DeltaRows(UPath(location), SCHEMA)
    for k in range(COMMITS):
        table.append(rows_of(f"w{writer}-{k}", 10))


def race_appenders(location: str) -> DeltaRows:
    """A table with one batch, then WRITERS spawned processes appending COMMITS batches each at once (spawned:
    delta-rs cannot run in a forked child of a process that used it); the table, every writer exited cleanly."""
    DeltaRows(UPath(location), SCHEMA).append(rows_of("first", 1))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(location, w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0
    return DeltaRows(UPath(location), SCHEMA)


def assert_no_commit_lost(table: DeltaRows) -> None:
    """Every racer's batch is in the table, whole, and each commit made one version."""
    batches, rows = WRITERS * COMMITS + 1, WRITERS * COMMITS * 10 + 1
    assert table.query("SELECT count(DISTINCT batch_id) AS b, count(*) AS n FROM rows").to_pylist() == [
        {"b": batches, "n": rows}]
    assert table.version() == batches - 1
