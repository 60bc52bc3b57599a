"""Tables that grow with history: Delta Lake tables (``deltalake``) at a UPath, local or ``s3://``, read by DuckDB.

Writers commit through delta-rs: an append, a delete or an overwrite of the rows matching a predicate is one
commit, all or nothing; on S3 delta-rs 1.x commits with conditional writes, so writers on several hosts are safe
without a lock service. Every commit is a table version, which lineage can name. Readers ask DuckDB SQL over the
Parquet files of one version of the table (read through fsspec, so no DuckDB extension is needed on S3), and
DuckDB reads only the columns the query names and skips row groups by their statistics.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from upath import UPath

from tweet_sentiment.storage.fs import is_local, list_dir

# Rows per Parquet row group (delta-rs's default, 1Mi, made one group of a compacted file's 700k rows): DuckDB reads
# a file's row groups in parallel and skips them by their statistics, neither of which a single group allows.
ROW_GROUP_ROWS = 131_072
# zstd, as the compaction writes by default: about a third smaller than snappy
_WRITER = WriterProperties(compression="ZSTD", max_row_group_size=ROW_GROUP_ROWS)
VIEW = "rows"  # the name a query gives the table
COMMIT_RETRIES = 5  # a commit that lost a race with another writer's is tried again this often
Span = tuple[str, Any, Any]  # (column, low, high): the rows a reader needs lie within [low, high] of the column


def sql_literal(value: str) -> str:
    """``value`` as a SQL string literal (for predicates, which delta-rs takes as SQL text)."""
    return "'" + value.replace("'", "''") + "'"


def _storage_options(location: UPath) -> dict[str, str]:
    """delta-rs's options for ``location``: on S3 it reads credentials and AWS_ENDPOINT_URL from the environment
    itself and needs only to be told that a plain-HTTP endpoint (a local S3 server) is allowed."""
    if is_local(location):
        return {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}


class DeltaRows:
    """One Delta table of rows with a fixed Arrow ``schema`` (columns added later are read as nulls)."""

    def __init__(self, location: UPath, schema: pa.Schema | None) -> None:
        self.location = location
        self.schema = schema
        self.uri = str(location) if not is_local(location) else os.fspath(location)
        self.options = _storage_options(location)
        self.read_version: int | None = None  # what reads see unless told: None, the newest

    def at(self, version: int | None) -> DeltaRows:
        """The same table whose reads see ``version`` (a snapshot: later commits are not seen)."""
        pinned = DeltaRows(self.location, self.schema)
        pinned.read_version = version
        return pinned

    def table(self, version: int | None = None) -> DeltaTable | None:
        """The table (at ``version``, else the newest), or None before its first commit."""
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.options or None)
        except TableNotFoundError:
            if version is not None and self.table() is not None:
                raise ValueError(f"version {version} of {self.uri} is no longer kept (expired)") from None
            return None

    def version(self) -> int | None:
        """The newest version (a number that grows by one per commit), or None before the first."""
        table = self.table()
        return None if table is None else table.version()

    def _commit(self, write: Any) -> int:
        """Run ``write`` (one delta-rs commit), again if another writer's commit won the race; the new version."""
        for attempt in range(COMMIT_RETRIES):
            try:
                write()
                break
            except CommitFailedError:
                if attempt == COMMIT_RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return self.version()  # type: ignore[return-value]

    def _as_arrow(self, rows: pa.Table) -> pa.Table:
        return rows.select(self.schema.names).cast(self.schema)

    def append(self, rows: pa.Table) -> int:
        """Add ``rows`` in one commit (the table is made by the first); the new version."""
        data = self._as_arrow(rows)
        return self._commit(lambda: write_deltalake(self.uri, data, mode="append", writer_properties=_WRITER,
                                                    storage_options=self.options or None))

    def replace(self, predicate: str, rows: pa.Table) -> int:
        """In one commit, drop the rows matching ``predicate`` and add ``rows`` (which must match it too)."""
        if self.table() is None:
            return self.append(rows)
        data = self._as_arrow(rows)
        return self._commit(lambda: write_deltalake(self.uri, data, mode="overwrite", predicate=predicate,
                                                    writer_properties=_WRITER, storage_options=self.options or None))

    def delete(self, predicate: str) -> int | None:
        """Drop the rows matching ``predicate`` in one commit; the new version (None: no table yet)."""
        if self.table() is None:
            return None
        return self._commit(lambda: self.table().delete(predicate))

    def files(self, version: int | None = None, prune: tuple[str, Sequence[str]] | None = None,
              span: Span | None = None) -> list[str]:
        """The URIs of the table's data files (at ``version``); ``prune`` = (column, values): only the files whose
        statistics (the column's min and max, kept by Delta per file) admit one of the values; ``span`` = (column,
        low, high): only the files whose statistics overlap [low, high] (both given: both hold)."""
        table = self.table(self.read_version if version is None else version)
        if table is None:
            return []
        if prune is None and span is None:
            return table.file_uris()
        paths = self._file_stats(table, (prune or span)[0])[0]  # type: ignore[index]
        keep = [True] * len(paths)
        if prune is not None:
            wanted = sorted(prune[1])
            keep = [k and (low is None or high is None or _any_between(wanted, low, high))
                    for k, low, high in zip(keep, *self._file_stats(table, prune[0])[1:], strict=True)]
        if span is not None:
            keep = [k and (low is None or high is None or (low <= span[2] and high >= span[1]))
                    for k, low, high in zip(keep, *self._file_stats(table, span[0])[1:], strict=True)]
        base = self.uri.rstrip("/")
        return [f"{base}/{path}" for path, kept in zip(paths, keep, strict=True) if kept]

    @staticmethod
    def _file_stats(table: DeltaTable, column: str) -> tuple[list, list, list]:
        """(paths, min, max of ``column``) of the table's data files, from the Delta log (no data file read)."""
        actions = table.get_add_actions(flatten=True)
        return tuple(actions.column(name).to_pylist() for name in ("path", f"min.{column}", f"max.{column}"))

    def bounds(self, column: str) -> tuple[Any, Any] | None:
        """(the smallest, the largest value of ``column``) over the newest version's files, from the Delta log's
        file statistics (no data file read); None for an empty table or a file without statistics."""
        table = self.table(self.read_version)
        if table is None:
            return None
        _, lows, highs = self._file_stats(table, column)
        if not lows or None in lows or None in highs:
            return None
        return min(lows), max(highs)

    def query(self, sql: str, params: list | dict | None = None, version: int | None = None,
              tables: dict[str, pa.Table] | None = None, prune: tuple[str, Sequence[str]] | None = None) -> pa.Table:
        """Run ``sql`` over the table (at ``version``, else the newest) named :data:`VIEW`, beside the Arrow
        ``tables`` under their names; ``prune`` reads only the files that may hold those values (see
        :meth:`files`). The answer as Arrow."""
        with self._connection(self.files(version, prune), tables) as connection:
            return connection.sql(sql, params=params).to_arrow_table()

    def batches(self, sql: str, params: list | dict | None = None, rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """The answer of ``sql`` (over the newest version) in record batches of about ``rows`` rows, streamed:
        a reader that needs every row (a refit) never holds the answer twice."""
        with self._connection(self.files(), None) as connection:
            yield from connection.sql(sql, params=params).to_arrow_reader(rows)

    @contextlib.contextmanager
    def _connection(self, files: list[str], tables: dict[str, pa.Table] | None) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = duckdb.connect()
        try:
            _create_view(connection, VIEW, self, files, set())
            for name, table in (tables or {}).items():
                connection.register(name, table)
            yield connection
        finally:
            connection.close()

    # Maintenance (the housekeeping DAG, never a cycle step)

    def compact(self, order_by: list[str] | None = None, target_bytes: int | None = None) -> dict[str, Any]:
        """Rewrite small files into larger ones (row groups of :data:`ROW_GROUP_ROWS`) in one commit; ``order_by``:
        Z-ordered (one column: sorted) by those columns, so that a filter on them skips whole files by their
        statistics. delta-rs's metrics."""
        table = self.table()
        if table is None:
            return {}
        if order_by:
            return table.optimize.z_order(order_by, target_size=target_bytes, writer_properties=_WRITER)
        return table.optimize.compact(target_size=target_bytes, writer_properties=_WRITER)

    def expire(self, keep: timedelta) -> list[str]:
        """Delete the data files no version younger than ``keep`` needs (vacuum) and the log entries older than
        ``keep`` (those versions can no longer be read); the files deleted."""
        table = self.table()
        if table is None:
            return []
        hours = max(int(keep.total_seconds() // 3600), 0)
        deleted = table.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False)
        table.alter.set_table_properties({"delta.logRetentionDuration": f"interval {hours} hours",
                                          "delta.deletedFileRetentionDuration": f"interval {hours} hours"})
        table.create_checkpoint()
        table.cleanup_metadata()
        return deleted

    def restore(self, version: int) -> int:
        """Make the table read as at ``version`` again, in one new commit (history kept); the new version."""
        table = self.table()
        if table is None:
            raise ValueError(f"no Delta table at {self.uri}")
        return self._commit(lambda: self.table().restore(version))

    def maintain(self, retention_hours: float = 168.0) -> dict:
        """Housekeeping: compact small files into larger ones, then delete the files no version newer than
        ``retention_hours`` reads (deleted rows leave the disk here); what was done."""
        compacted = self.compact()
        vacuumed = self.expire(timedelta(hours=retention_hours))
        return {"files_added": compacted.get("numFilesAdded", 0), "files_removed": compacted.get("numFilesRemoved", 0),
                "vacuumed": len(vacuumed)}


def _create_view(connection: duckdb.DuckDBPyConnection, name: str, rows: DeltaRows, files: list[str],
                 registered: set[int]) -> None:
    """Make ``name`` a view of ``rows``' data ``files`` (its empty schema when there is none yet), registering
    the table's object store with DuckDB once per connection (``registered``: the file systems done)."""
    if not files:
        connection.register(name, rows.schema.empty_table())
        return
    if not is_local(rows.location) and id(rows.location.fs) not in registered:
        connection.register_filesystem(rows.location.fs)
        registered.add(id(rows.location.fs))
    listed = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({listed}, union_by_name=true)")


def query_tables(sql: str, tables: dict[str, tuple[DeltaRows, int | None]], params: list | dict | None = None,
                 extra: dict[str, pa.Table] | None = None, spans: dict[str, Span] | None = None,
                 prunes: dict[str, tuple[str, Sequence[str]]] | None = None) -> pa.Table:
    """Run ``sql`` over several tables, each a view named by its key (its table at a version, None: the newest),
    and over the Arrow tables ``extra`` (e.g. the keys looked up), each by its name; ``spans`` and ``prunes``:
    per view, only the files whose statistics admit (column, low, high), or one of (column, values) (see
    :meth:`DeltaRows.files`)."""
    connection, registered = duckdb.connect(), set()
    try:
        for name, (rows, version) in tables.items():
            files = rows.files(version, prune=(prunes or {}).get(name), span=(spans or {}).get(name))
            _create_view(connection, name, rows, files, registered)
        for name, table in (extra or {}).items():
            connection.register(name, table)
        return connection.sql(sql, params=params).to_arrow_table()
    finally:
        connection.close()


def delete_batch(location: UPath, batch_id: str) -> None:
    """Delete ``batch_id``'s rows from the Delta table at ``location`` in one commit (no table yet: nothing)."""
    DeltaRows(location, None).delete(f"batch_id = {sql_literal(batch_id)}")


def drop_batch_rows(folder: UPath, batch_id: str) -> None:
    """Delete ``batch_id``'s rows from every Delta table in ``folder`` that has a ``batch_id`` column (a dead
    run's batch taken over by another: its rows come again with that one)."""
    for path in list_dir(folder):
        delta = DeltaRows(path, None).table()
        if delta is not None and "batch_id" in [f.name for f in delta.schema().fields]:
            delete_batch(path, batch_id)


def _any_between(wanted: list[str], low: str, high: str) -> bool:
    """Whether the sorted ``wanted`` holds a value within [low, high]."""
    at = bisect.bisect_left(wanted, low)
    return at < len(wanted) and wanted[at] <= high
