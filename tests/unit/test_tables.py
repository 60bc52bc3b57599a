"""Delta tables read by DuckDB (storage/tables.py): commits, versions, predicates, racing writers."""

from __future__ import annotations

import multiprocessing

import pyarrow as pa
from upath import UPath

from tweet_sentiment.storage.tables import DeltaRows, sql_literal

SCHEMA = pa.schema([("text_hash", pa.string()), ("batch_id", pa.string()), ("seq", pa.int64())])


def _rows(batch_id: str, n: int) -> pa.Table:
    return pa.table({"seq": list(range(n)), "batch_id": [batch_id] * n,
                     "text_hash": [f"{batch_id}-{i}" for i in range(n)]})


def test_a_table_answers_before_its_first_commit_and_versions_each_commit(tmp_path):
    table = DeltaRows(UPath(tmp_path) / "t", SCHEMA)
    assert table.version() is None
    assert table.query("SELECT count(*) AS n FROM rows").to_pylist() == [{"n": 0}]
    assert table.delete("batch_id = 'x'") is None
    assert table.append(_rows("a", 3)) == 0
    assert table.append(_rows("b", 2)) == 1
    assert table.replace("batch_id = 'a'", _rows("a", 1)) == 2
    counts = table.query("SELECT batch_id, count(*) AS n FROM rows GROUP BY 1 ORDER BY 1").to_pylist()
    assert counts == [{"batch_id": "a", "n": 1}, {"batch_id": "b", "n": 2}]
    assert table.query("SELECT count(*) AS n FROM rows", version=1).to_pylist() == [{"n": 5}]
    assert table.delete(f"batch_id = {sql_literal('b')}") == 3
    assert table.query("SELECT text_hash FROM rows WHERE batch_id = ?", ["a"]).column(0).to_pylist() == ["a-0"]


def test_a_quote_in_a_literal_cannot_end_the_string(tmp_path):
    table = DeltaRows(UPath(tmp_path) / "t", SCHEMA)
    table.append(_rows("o'x", 2))
    table.delete(f"batch_id = {sql_literal(chr(39) + ' OR 1=1 --')}")
    assert table.query("SELECT count(*) AS n FROM rows").to_pylist() == [{"n": 2}]


def _append_many(location: str, writer: int) -> None:
    table = DeltaRows(UPath(location), SCHEMA)
    for k in range(5):
        table.append(_rows(f"w{writer}-{k}", 10))


def test_writers_in_several_processes_lose_no_commit(tmp_path):
    location = str(tmp_path / "t")
    DeltaRows(UPath(location), SCHEMA).append(_rows("first", 1))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(location, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    table = DeltaRows(UPath(location), SCHEMA)
    assert table.query("SELECT count(DISTINCT batch_id) AS b, count(*) AS n FROM rows").to_pylist() == [
        {"b": 16, "n": 151}]
    assert table.version() == 15
