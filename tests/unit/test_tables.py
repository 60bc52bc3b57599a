"""Delta tables read by DuckDB (storage/tables.py): commits, versions, predicates, racing writers."""

from __future__ import annotations

from table_support import SCHEMA, assert_no_commit_lost, race_appenders
from table_support import rows_of as _rows
from upath import UPath

from tweet_sentiment.storage.tables import DeltaRows, sql_literal


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


def test_writers_in_several_processes_lose_no_commit(tmp_path):
    assert_no_commit_lost(race_appenders(str(tmp_path / "t")))
