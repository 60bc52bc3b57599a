"""The scored stream's Delta tables (``<data root>/stream/``), each written by one commit per step and read by
filter, never whole:

- ``rows``: the accepted unlabelled rows (texts and their stamps), one append per batch;
- ``vectors``: each scored text's embedding and lexicon features (float32 bytes), kept only here (never in the
  training side's feature cache), so re-scoring embeds nothing;
- ``seen``: every stored text's hash (its first 128 bits as two int64: a collision is out of reach at any stream's
  size) and batch, kept for ever: the duplicate check joins a file's hashes to it (two integer columns scanned);
- ``scores``: each row's answer by the champion that last scored its batch;
- ``counts`` and ``words``: the mood's counts per batch × champion version × hour × class (with the sum of the
  top-class probability), and per batch × version × hour × class × word (tweets using it), kept for ever;
- the small manifests: ``batches`` (stored batches with their row count and times), ``scored`` (batch ×
  version: what each champion has scored), ``expired`` (batches whose texts and vectors retention removed),
  ``attempts`` (batch × version a run started to score: where none is recorded, the tables hold no row of it, so
  its rows are appended; else they replace the batch's rows, which costs a scan of the files that may hold it).

A batch's rows count once it is marked stored in ``batches``; a batch is scored by a version once ``scored``
names it (written last, after its scores and counts, each written idempotently by batch and version).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from upath import UPath

from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.tables import DeltaRows, Span, query_tables, sql_literal

TS = pa.timestamp("us", tz="UTC")
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{label}" for label in LABELS)
SCHEMAS: dict[str, pa.Schema] = {
    "rows": pa.schema([("batch_id", pa.string()), ("seq", pa.int64()), ("text", pa.string()),
                       ("text_hash", pa.string()), ("raw_text", pa.string()), ("tweet_at", TS),
                       ("dated_by", pa.string()), ("annotated", pa.string()), ("arrived_at", TS),
                       ("source_file", pa.string()), ("source_row", pa.int64())]),
    "vectors": pa.schema([("batch_id", pa.string()), ("seq", pa.int64()), ("embedding", pa.binary()),
                          ("lexicon", pa.binary()), ("lexicon_set", pa.string())]),
    "seen": pa.schema([("batch_id", pa.string()), ("hi", pa.int64()), ("lo", pa.int64())]),
    "scores": pa.schema([("batch_id", pa.string()), ("seq", pa.int64()), ("champion_version", pa.string()),
                         ("label", pa.string()), ("confidence", pa.float32()),
                         *[(c, pa.float32()) for c in PROBABILITY_COLUMNS], ("scored_at", TS)]),
    "counts": pa.schema([("batch_id", pa.string()), ("champion_version", pa.string()), ("hour", TS),
                         ("dated_by", pa.string()), ("label", pa.string()), ("annotated", pa.string()),
                         ("n", pa.int64()), ("confidence_sum", pa.float64())]),
    "words": pa.schema([("batch_id", pa.string()), ("champion_version", pa.string()), ("hour", TS),
                        ("label", pa.string()), ("word", pa.string()), ("n", pa.int64())]),
    "batches": pa.schema([("batch_id", pa.string()), ("rows", pa.int64()), ("arrived_at", TS),
                          ("first_tweet_at", TS), ("last_tweet_at", TS), ("stored", pa.bool_()),
                          ("registered_at", TS)]),
    "scored": pa.schema([("batch_id", pa.string()), ("champion_version", pa.string()), ("rows", pa.int64()),
                         ("scored_at", TS)]),
    "expired": pa.schema([("batch_id", pa.string()), ("rows", pa.int64()), ("expired_at", TS)]),
    "attempts": pa.schema([("batch_id", pa.string()), ("champion_version", pa.string()), ("started_at", TS)]),
}
PART_MARK = ".p"  # a part's batch id: the batch's, this mark and the part's number
LIVE_BATCHES = "SELECT * FROM batches WHERE stored AND batch_id NOT IN (SELECT batch_id FROM expired)"


def batch_predicate(batch_ids: Sequence[str], version: str | None = None) -> str:
    """A delta-rs predicate naming these batches (and one champion version)."""
    where = f"batch_id IN ({', '.join(sql_literal(b) for b in batch_ids)})"
    return where if version is None else f"{where} AND champion_version = {sql_literal(version)}"


def _arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(frame.loc[:, schema.names], preserve_index=False).cast(schema)


class ScoredStream:
    """The stream's tables under ``root`` (see the module's docstring)."""

    def __init__(self, root: UPath, part_rows: int | None = None) -> None:
        self.root = root
        self.part_rows = part_rows  # a batch written with more rows is stored in parts of this many (None: whole)
        self.tables = {name: DeltaRows(root / name, schema) for name, schema in SCHEMAS.items()}

    def query(self, sql: str, names: Sequence[str], params: list | None = None, spans: dict[str, Span] | None = None,
              prunes: dict[str, tuple[str, Sequence[str]]] | None = None) -> pd.DataFrame:
        """``sql`` over the tables ``names`` (each a view of that name; ``spans``, ``prunes``: of those named there,
        only the files whose statistics admit (column, low, high), or one of (column, values)); as pandas."""
        return query_tables(sql, {n: (self.tables[n], None) for n in names}, params, spans=spans,
                            prunes=prunes).to_pandas()

    # --- intake -----------------------------------------------------------------------------------------------
    def known_labels(self, hashes: Sequence[str], exclude: Iterable[str] = ()) -> dict[str, tuple[str, str]]:
        """Of ``hashes``, those stored by a batch not in ``exclude``: hash → ("", "batch <id>") (scored tweets
        have no label), for the ingest's duplicate check."""
        if not hashes:
            return {}
        distinct = sorted(set(hashes))
        wanted = pa.table({"h": distinct, **seen_keys(distinct)})
        # only the key columns are scanned: the batches are read for the matches alone (a filter on the batch in
        # the query is pushed into the scan, which then reads every stored tweet's batch id too)
        found = query_tables("SELECT w.h, s.batch_id AS b FROM wanted w JOIN seen s ON s.hi = w.hi AND s.lo = w.lo",
                             {"seen": (self.tables["seen"], None)}, extra={"wanted": wanted}).to_pandas()
        found = found[~found["b"].isin(set(exclude))].groupby("h")["b"].min()
        return {h: ("", f"batch {b}") for h, b in found.items()}

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> None:
        """Store a batch's accepted rows: registered, its rows and hashes appended, then marked stored (a retry
        after a failure in between deletes what the failed try wrote first). Past ``part_rows`` rows the batch is
        stored as parts ``<batch_id>.p000``, ``.p001``, … (each a batch of the manifests: the unit a scoring
        partition takes); the hashes keep the batch's own id."""
        parts = part_ids(batch_id, len(rows), self.part_rows)
        found = self.query("SELECT batch_id FROM batches WHERE batch_id = ? OR starts_with(batch_id, ?)",
                           ["batches"], [batch_id, f"{batch_id}{PART_MARK}"])["batch_id"].tolist()
        if found:
            for name in ("rows", "vectors", "scores", "counts", "words", "scored", "attempts"):
                self.tables[name].delete(batch_predicate(found))
            self.tables["seen"].delete(batch_predicate([batch_id]))
        size = self.part_rows or max(len(rows), 1)
        frame = rows.reset_index(drop=True)
        frame = frame.assign(batch_id=[parts[i // size] for i in range(len(frame))],
                             seq=np.arange(len(frame)) % size)
        entries = frame.groupby("batch_id", sort=True).agg(
            rows=("seq", "size"), arrived_at=("arrived_at", "min"), first_tweet_at=("tweet_at", "min"),
            last_tweet_at=("tweet_at", "max")).reset_index().assign(registered_at=datetime.now(UTC))
        batches, pred = self.tables["batches"], batch_predicate(sorted(set(found) | set(parts)))
        batches.replace(pred, _arrow(entries.assign(stored=False), SCHEMAS["batches"]))
        self.tables["rows"].append(_arrow(frame, SCHEMAS["rows"]))
        seen = pd.DataFrame({"batch_id": batch_id, **seen_keys(frame["text_hash"].tolist())})
        self.tables["seen"].append(_arrow(seen, SCHEMAS["seen"]))
        batches.replace(pred, _arrow(entries.assign(stored=True), SCHEMAS["batches"]))

    # --- what to score ----------------------------------------------------------------------------------------
    def live_batches(self) -> pd.DataFrame:
        """Stored batches whose texts are kept (not expired), oldest arrival first."""
        return self.query(f"{LIVE_BATCHES} ORDER BY arrived_at, batch_id", ["batches", "expired"])

    def to_score(self, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(live batches no version scored, live batches another version scored last), each newest first, with
        their ``rows``: one query over the manifests."""
        found = self.query(
            f"WITH live AS ({LIVE_BATCHES}), last AS (SELECT batch_id, arg_max(champion_version, scored_at) AS v "
            "FROM scored GROUP BY batch_id) SELECT live.batch_id, live.rows, last.v FROM live LEFT JOIN last "
            "USING (batch_id) WHERE last.v IS NULL OR last.v <> ? ORDER BY live.arrived_at DESC, live.batch_id DESC",
            ["batches", "expired", "scored"], [version])
        return (found[found["v"].isna()].drop(columns="v").reset_index(drop=True),
                found[found["v"].notna()].drop(columns="v").reset_index(drop=True))

    def read_rows(self, batch_ids: Sequence[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of these batches in arrival order (file arrival, batch, row)."""
        cols = ", ".join(columns) if columns else "*"
        return self.query(f"SELECT {cols} FROM rows WHERE {batch_predicate(batch_ids)} "
                          "ORDER BY arrived_at, batch_id, seq", ["rows"]) if batch_ids else \
            SCHEMAS["rows"].empty_table().to_pandas().loc[:, list(columns or SCHEMAS["rows"].names)]

    def read_vectors(self, batch_ids: Sequence[str]) -> pd.DataFrame:
        """``batch_id, seq, embedding, lexicon, lexicon_set`` of these batches' scored rows."""
        return self.query(f"SELECT * FROM vectors WHERE {batch_predicate(batch_ids)}", ["vectors"])

    # --- scores -----------------------------------------------------------------------------------------------
    def _written_before(self, batch_ids: Sequence[str]) -> pd.DataFrame:
        """(batch_id, champion_version) of these batches that a run scored or started to score."""
        return self.query(f"SELECT DISTINCT batch_id, champion_version FROM (SELECT batch_id, champion_version FROM "
                          f"scored UNION ALL SELECT batch_id, champion_version FROM attempts) WHERE "
                          f"{batch_predicate(batch_ids)}", ["scored", "attempts"])

    def _put(self, name: str, predicate: str, rows: pd.DataFrame, replace: bool) -> None:
        table = self.tables[name]
        data = _arrow(rows, SCHEMAS[name])
        table.replace(predicate, data) if replace else table.append(data)

    def write_scores(self, batch_ids: Sequence[str], version: str, parts: dict[str, pd.DataFrame]) -> None:
        """Record ``version``'s answer for these batches: ``parts`` holds ``scores``, ``counts``, ``words`` and
        ``vectors`` (new texts' only: empty on a re-scoring); each written by batch (and version), then the
        manifest ``scored``, last. Appended where no run wrote these batches (and version) before, else replaced."""
        before = self._written_before(batch_ids)
        again, again_v = len(before) > 0, bool((before["champion_version"] == version).any())
        now = datetime.now(UTC)
        self.tables["attempts"].append(_arrow(pd.DataFrame({"batch_id": list(batch_ids), "champion_version": version,
                                                            "started_at": now}), SCHEMAS["attempts"]))
        pred = batch_predicate(batch_ids)
        if len(parts.get("vectors", ())):
            self._put("vectors", pred, parts["vectors"], again)
        self._put("scores", pred, parts["scores"], again)
        for name in ("counts", "words"):
            self._put(name, batch_predicate(batch_ids, version), parts[name], again_v)
        done = parts["scores"].groupby("batch_id").size()
        manifest = pd.DataFrame({"batch_id": list(batch_ids), "champion_version": version,
                                 "rows": [int(done.get(b, 0)) for b in batch_ids], "scored_at": now})
        self.tables["scored"].append(_arrow(manifest, SCHEMAS["scored"]))

    # --- retention and housekeeping ---------------------------------------------------------------------------
    def expire(self, batch_ids: Sequence[str]) -> int:
        """Delete these batches' texts, vectors and per-row scores (their counts and hashes stay); rows removed."""
        if not batch_ids:
            return 0
        live = self.live_batches()
        rows = live[live["batch_id"].isin(batch_ids)]
        pred = batch_predicate(list(batch_ids))
        for name in ("vectors", "scores", "rows"):
            self.tables[name].delete(pred)
        self.tables["expired"].append(_arrow(rows.assign(expired_at=datetime.now(UTC)), SCHEMAS["expired"]))
        return int(rows["rows"].sum())

    def maintain(self, retention_hours: float) -> dict:
        """Compact, checkpoint and vacuum every table (files older than ``retention_hours`` no version reads)."""
        return {name: table.maintain(retention_hours) for name, table in self.tables.items()}

    def disk_bytes(self) -> dict[str, int]:
        """Bytes on disk of each table (local tables only)."""
        return {name: sum(p.stat().st_size for p in (self.root / name).rglob("*") if p.is_file())
                for name in self.tables if (self.root / name).exists()}


def part_ids(batch_id: str, rows: int, part_rows: int | None) -> list[str]:
    """The batch ids a batch of ``rows`` rows is stored under: its own, or its parts' past ``part_rows``."""
    if not part_rows or rows <= part_rows:
        return [batch_id]
    return [f"{batch_id}{PART_MARK}{k:03d}" for k in range(-(-rows // part_rows))]


def seen_keys(hex_hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``seen`` table's key columns of text hashes (hex SHA-256): ``hi`` and ``lo``, their first 128 bits."""
    keys = np.frombuffer(b"".join(bytes.fromhex(h[:32]) for h in hex_hashes), dtype=">i8").reshape(-1, 2)
    return {"hi": keys[:, 0].astype(np.int64), "lo": keys[:, 1].astype(np.int64)}


def vector_bytes(matrix: np.ndarray) -> list[bytes]:
    """Each row of a float matrix as float32 bytes (the ``vectors`` table's cells)."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return [row.tobytes() for row in matrix]


def vector_matrix(cells: Sequence[bytes], width: int = 0) -> np.ndarray:
    """The float32 matrix of cells written by :func:`vector_bytes` (``width`` columns when there is none)."""
    if not len(cells):
        return np.zeros((0, width), dtype=np.float32)
    return np.frombuffer(b"".join(cells), dtype=np.float32).reshape(len(cells), -1)
