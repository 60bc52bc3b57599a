"""The questions a cycle asks of the labelled rows and the vectors, each as one candidate engine answers it. Run one in
a process of its own (``python -m benchmarks.scale.engine_queries``): reads ``{"query", "folder", "repeat"}`` as
JSON on stdin; prints ``{"seconds": [...], "rows", "peak_rss_mb", "rss_before_mb"}`` last.

Candidates: DuckDB over Parquet (the history's labelled Delta table's files as the product reads them, one compacted
file sorted by hash, and the files of a Delta table written in one commit), Delta Lake (``deltalake``, its
DataFusion SQL; appending a batch), and for the vectors Parquet through DuckDB and Lance (a BTREE index on the hash;
appending a batch's vectors). The order of acceptance is ``(ingested_at, batch_id, seq)``; the newest row of a text
counts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.processes import peak_rss_mb

NEWEST = "ingested_at DESC, batch_id DESC, seq DESC"
_LATEST = f"row_number() OVER (PARTITION BY text_hash ORDER BY {NEWEST})"


def _in_list(hashes: list[str]) -> str:
    return ", ".join(f"'{h}'" for h in hashes)


def current_labels_sql(table: str, hashes: list[str]) -> str:
    """The current label of each of ``hashes`` (absent ones: no row)."""
    return (f"SELECT text_hash, label FROM (SELECT text_hash, label, {_LATEST} AS rn FROM {table} "
            f"WHERE text_hash IN ({_in_list(hashes)})) WHERE rn = 1")


def recent_window_sql(table: str, rows: int) -> str:
    """The newest ``rows`` current rows of the recent holdout (a text's rows share its flag, so the newest rows
    of the slice, de-duplicated, are current)."""
    return (f"SELECT text, label, text_hash FROM (SELECT *, {_LATEST} AS rn FROM (SELECT text, label, text_hash, "
            f"ingested_at, batch_id, seq FROM {table} WHERE recent_holdout ORDER BY {NEWEST} LIMIT {2 * rows})) "
            f"WHERE rn = 1 ORDER BY {NEWEST} LIMIT {rows}")


def replay_sql(table: str, sample: str, rows: int) -> str:
    """``rows`` trainable rows drawn at random (``sample``: the engine's parenthesised query drawing candidates,
    evaluated once), superseded ones dropped by a look-up of their texts' newest rows."""
    return (f"WITH s AS {sample}, newest AS (SELECT text_hash, batch_id, seq FROM (SELECT text_hash, batch_id, "
            f"seq, {_LATEST} AS rn FROM {table} WHERE text_hash IN (SELECT text_hash FROM s)) WHERE rn = 1) "
            f"SELECT s.text, s.label, s.text_hash, s.label_weight FROM s JOIN newest n ON s.text_hash = n.text_hash "
            f"AND s.batch_id = n.batch_id AND s.seq = n.seq LIMIT {rows}")


_SAMPLE_COLUMNS = "text, label, text_hash, batch_id, seq, label_weight"


def reservoir_sample(table: str, rows: int) -> str:
    """DuckDB's draw of ``rows`` trainable rows, evaluated once (USING SAMPLE applies before WHERE: the trainable
    rows first, then the draw)."""
    return (f"MATERIALIZED (SELECT * FROM (SELECT {_SAMPLE_COLUMNS} FROM {table} WHERE NOT recent_holdout) "
            f"USING SAMPLE reservoir({rows} ROWS) REPEATABLE (25))")


def hashed_sample(table: str, rows: int) -> str:
    """``rows`` trainable rows ordered by a salted hash, not random(): DataFusion evaluates a CTE once per use,
    each its own draw."""
    return (f"(SELECT {_SAMPLE_COLUMNS} FROM {table} WHERE NOT recent_holdout "
            f"ORDER BY md5(text_hash || '25') LIMIT {rows})")


def _duckdb(files: str | list[str]) -> Callable[[str, dict], int]:
    import duckdb

    table = f"read_parquet({files!r})"
    sample = reservoir_sample(table, 2400)

    def run(question: str, probe: dict) -> int:
        sql = {"current_labels": lambda: current_labels_sql(table, probe["hashes"]),
               "recent_window": lambda: recent_window_sql(table, 900),
               "replay_sample": lambda: replay_sql(table, sample, 2000)}[question]()
        return duckdb.sql(sql).to_arrow_table().num_rows
    return run


def _delta(folder: str) -> Callable[[str, dict], int]:
    from deltalake import DeltaTable, QueryBuilder, write_deltalake

    builder = QueryBuilder().register("t", DeltaTable(folder))
    sample = hashed_sample("t", 2400)
    batch = next(pq.ParquetFile(Path(folder).parent / "rows.parquet").iter_batches(batch_size=2000))  # not it all

    def run(question: str, probe: dict) -> int:
        if question == "append_batch":  # one commit of a cycle's 2,000 rows
            write_deltalake(folder, batch, mode="append")
            return len(batch)
        sql = {"current_labels": lambda: current_labels_sql("t", probe["hashes"]),
               "recent_window": lambda: recent_window_sql("t", 900),
               "replay_sample": lambda: replay_sql("t", sample, 2000)}[question]()
        return sum(batch.num_rows for batch in builder.execute(sql))
    return run


def _wanted(probe: dict) -> pa.Table:
    return pa.table({"hash": pa.array([bytes.fromhex(h) for h in probe["hashes"]], pa.binary(32))})


def _vectors_parquet(path: str) -> Callable[[str, dict], int]:
    import duckdb

    def run(question: str, probe: dict) -> int:
        wanted = _wanted(probe)  # noqa: F841 (DuckDB reads the local by its name)
        return len(duckdb.sql(f"SELECT v.hash, v.vector FROM read_parquet('{path}') v "
                              "SEMI JOIN wanted w ON v.hash = w.hash").to_arrow_table())
    return run


def _vectors_lance(path: str) -> Callable[[str, dict], int]:
    import lance
    import pyarrow.compute as pc

    dataset = lance.dataset(path)
    batch = dataset.head(2000)

    def run(question: str, probe: dict) -> int:
        if question == "append_vectors":  # a cycle's new texts (the hash index covers them after optimising)
            lance.write_dataset(batch, path, mode="append")
            return len(batch)
        return len(dataset.to_table(columns=["hash", "vector"], filter=pc.field("hash").isin(_wanted(probe)["hash"])))
    return run


def _delta_files(table: Path) -> list[str]:
    from deltalake import DeltaTable

    return DeltaTable(str(table)).file_uris()


_ROWS = ("current_labels", "recent_window", "replay_sample")
# engine → (its answering function on the prepared folder, the questions asked, in order: appends come last, and
# the Delta table is read through DuckDB before Delta's own appends grow it)
ENGINES: dict[str, tuple[Callable[[Path], Callable[[str, dict], int]], tuple[str, ...]]] = {
    "duckdb_over_store": (lambda folder: _duckdb(_delta_files(folder / "labelled")), _ROWS),
    "duckdb_parquet_compacted": (lambda folder: _duckdb(str(folder / "rows.parquet")), _ROWS),
    "duckdb_over_delta": (lambda folder: _duckdb(_delta_files(folder / "rows-delta")), _ROWS),
    "delta": (lambda folder: _delta(str(folder / "rows-delta")), (*_ROWS, "append_batch")),
    "vectors_parquet_duckdb": (lambda folder: _vectors_parquet(str(folder / "vectors.parquet")),
                               ("vectors_of_hashes",)),
    "vectors_lance": (lambda folder: _vectors_lance(str(folder / "vectors.lance")),
                      ("vectors_of_hashes", "append_vectors")),
}


def main() -> None:
    job = json.load(sys.stdin)
    folder = Path(job["folder"])
    probe = json.loads((folder / "probe.json").read_text())
    before = peak_rss_mb(os.getpid())
    run = ENGINES[job["engine"]][0](folder)
    seconds, rows = [], 0
    for _ in range(job["repeat"]):
        start = time.perf_counter()
        rows = run(job["query"], probe)
        seconds.append(round(time.perf_counter() - start, 3))
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": peak_rss_mb(os.getpid()),
                      "rss_before_mb": before}))


if __name__ == "__main__":
    main()
