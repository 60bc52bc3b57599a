"""Tables that grow with history: Delta Lake tables (``deltalake``) at a UPath, local or ``s3://``, read by DuckDB.

Writers commit through delta-rs: an append, a delete or an overwrite of the rows matching a predicate is one
commit, all or nothing; on S3 delta-rs 1.x commits with conditional writes, so writers on several hosts are safe
without a lock service. Every commit is a table version, which lineage can name. Readers ask DuckDB SQL over the
Parquet files of one version of the table (read through fsspec, so no DuckDB extension is needed on S3), and
DuckDB reads only the columns the query names and skips row groups by their statistics.
"""

from __future__ import annotations

import os
import time
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from upath import UPath

from tweet_sentiment.storage.fs import is_local, list_dir

VIEW = "rows"  # the name a query gives the table
COMMIT_RETRIES = 5  # a commit that lost a race with another writer's is tried again this often


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

    def __init__(self, location: UPath, schema: pa.Schema) -> None:
        self.location = location
        self.schema = schema
        self.uri = str(location) if not is_local(location) else os.fspath(location)
        self.options = _storage_options(location)

    def table(self, version: int | None = None) -> DeltaTable | None:
        """The table (at ``version``, else the newest), or None before its first commit."""
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.options or None)
        except TableNotFoundError:
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
        return self._commit(lambda: write_deltalake(self.uri, data, mode="append",
                                                    storage_options=self.options or None))

    def replace(self, predicate: str, rows: pa.Table) -> int:
        """In one commit, drop the rows matching ``predicate`` and add ``rows`` (which must match it too)."""
        if self.table() is None:
            return self.append(rows)
        data = self._as_arrow(rows)
        return self._commit(lambda: write_deltalake(self.uri, data, mode="overwrite", predicate=predicate,
                                                    storage_options=self.options or None))

    def delete(self, predicate: str) -> int | None:
        """Drop the rows matching ``predicate`` in one commit; the new version (None: no table yet)."""
        if self.table() is None:
            return None
        return self._commit(lambda: self.table().delete(predicate))

    def query(self, sql: str, params: list | dict | None = None, version: int | None = None) -> pa.Table:
        """Run ``sql`` over the table (at ``version``, else the newest) named :data:`VIEW`; the answer as Arrow."""
        return query_tables(sql, {VIEW: (self, version)}, params)

    def maintain(self, retention_hours: float = 168.0) -> dict:
        """Housekeeping: compact small files into larger ones, checkpoint the log, and delete the files no version
        newer than ``retention_hours`` reads (deleted rows leave the disk here); what was done."""
        table = self.table()
        if table is None:
            return {"files_added": 0, "files_removed": 0, "vacuumed": 0}
        metrics = table.optimize.compact()
        table = self.table()
        table.create_checkpoint()
        vacuumed = table.vacuum(retention_hours=int(retention_hours), enforce_retention_duration=False,
                                dry_run=False)
        table.cleanup_metadata()
        return {"files_added": metrics.get("numFilesAdded", 0), "files_removed": metrics.get("numFilesRemoved", 0),
                "vacuumed": len(vacuumed)}


def query_tables(sql: str, tables: dict[str, tuple[DeltaRows, int | None]], params: list | dict | None = None,
                 extra: dict[str, pa.Table] | None = None) -> pa.Table:
    """Run ``sql`` over several tables, each a view named by its key (its table at a version, None: the newest),
    and over the Arrow tables ``extra`` (e.g. the keys looked up), each by its name."""
    connection, registered = duckdb.connect(), set()
    try:
        for name, (rows, version) in tables.items():
            table = rows.table(version)
            files = table.file_uris() if table is not None else []
            if files:
                if not is_local(rows.location) and id(rows.location.fs) not in registered:
                    connection.register_filesystem(rows.location.fs)
                    registered.add(id(rows.location.fs))
                listed = "[" + ", ".join(sql_literal(f) for f in files) + "]"
                connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({listed}, union_by_name=true)")
            else:
                connection.register(name, rows.schema.empty_table())
        for name, table in (extra or {}).items():
            connection.register(name, table)
        return connection.sql(sql, params=params).to_arrow_table()
    finally:
        connection.close()


def drop_batch_rows(folder: UPath, batch_id: str) -> None:
    """Delete ``batch_id``'s rows from every Delta table in ``folder`` that has a ``batch_id`` column (a dead
    run's batch taken over by another: its rows come again with that one)."""
    for path in list_dir(folder):
        table = DeltaRows(path, pa.schema([])).table()
        if table is not None and "batch_id" in [f.name for f in table.schema().fields]:
            DeltaRows(path, pa.schema([])).delete(f"batch_id = {sql_literal(batch_id)}")
