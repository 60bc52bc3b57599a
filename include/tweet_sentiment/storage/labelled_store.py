"""The labelled store: accepted rows in one Delta table (tables.py), the replay pool and refit source.

Every row ever accepted is kept. The newest human label of a text wins: of a text's rows, the newest by
``(ingested_at, batch_id, seq)`` is *current*; older ones stay (the history). Rows of the recent holdout slice are
never trained on; they judge challengers (see :meth:`LabelledStore.recent_window`).

Each question of a cycle reads only the columns and rows it needs: the current label of a batch's texts
(:meth:`~LabelledStore.known_labels`, :meth:`~LabelledStore.newest_of`), the newest recent-holdout rows, a replay
sample, the rows of a few batches. A batch's write is one commit (replacing the batch's rows: a retry writes it
again), the label check's hold or down-weighting one replace commit, a dead batch's drop one delete commit. Each
batch's rows are written sorted by text hash; a compaction ordered by hash (``compact(order_by_hash=True)``) makes
a question about a few hashes read only the files whose hash range holds one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pandas as pd
import pyarrow as pa
from upath import UPath

from tweet_sentiment.schema import STORE_COLUMN_DEFAULTS, STORE_COLUMNS
from tweet_sentiment.storage.tables import DeltaRows, sql_literal

SCHEMA = pa.schema([
    ("text", pa.string()), ("label", pa.string()), ("tweet_at", pa.string()), ("text_hash", pa.string()),
    ("raw_text", pa.string()), ("source_file", pa.string()), ("source_row", pa.int64()), ("batch_id", pa.string()),
    ("ingested_at", pa.string()), ("seq", pa.int64()), ("recent_holdout", pa.bool_()), ("annotator", pa.string()),
    ("suggested_label", pa.string()), ("review_id", pa.string()), ("label_weight", pa.float64()),
])
ORDER = "ingested_at, batch_id, seq"  # the order in which rows were accepted, oldest first
NEWEST_FIRST = "ingested_at DESC, batch_id DESC, seq DESC"
_IS_NEWEST = f"row_number() OVER (PARTITION BY text_hash ORDER BY {NEWEST_FIRST}) = 1"
COMPACT_ORDER = ["text_hash"]  # what the housekeeping's compaction orders the table by


class LabelledStore:
    """Accepted, cleaned labelled rows in the store's columns, addressed by batch id."""

    def __init__(self, folder: UPath, rows: DeltaRows | None = None) -> None:
        self.folder = folder
        self.rows = rows or DeltaRows(folder, SCHEMA)

    def version(self) -> int | None:
        """The version reads see: the pinned one (:meth:`at`), else the newest (one more per commit; lineage
        names it); None before the first batch."""
        return self.rows.read_version if self.rows.read_version is not None else self.rows.version()

    def at(self, version: int | None) -> LabelledStore:
        """The store as at ``version``: every read sees that snapshot (what a challenger trained on)."""
        return LabelledStore(self.folder, self.rows.at(version))

    def batch_ids(self) -> list[str]:
        return self.rows.query("SELECT DISTINCT batch_id FROM rows ORDER BY 1").column(0).to_pylist()

    def has_batch(self, batch_id: str) -> bool:
        return self.rows.query("SELECT count(*) FROM rows WHERE batch_id = ?", [batch_id],
                               prune=("batch_id", [batch_id])).column(0)[0].as_py() > 0

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> int:
        """Store one batch (replacing any rows it had) in one commit, sorted by text hash; the new version. A column
        the rows lack holds its default."""
        frame = with_defaults(rows).loc[:, list(STORE_COLUMNS)].sort_values("text_hash", kind="stable")
        return self.rows.replace(f"batch_id = {sql_literal(batch_id)}", pa.Table.from_pandas(frame,
                                                                                           preserve_index=False))

    def append_batches(self, rows: pd.DataFrame) -> int:
        """Add the rows of several new batches (none of them stored yet) in one commit, each batch's rows sorted by
        text hash: a bulk load (the migration, the scale benchmark's history). The new version."""
        frame = with_defaults(rows).loc[:, list(STORE_COLUMNS)].sort_values(["batch_id", "text_hash"], kind="stable")
        return self.rows.append(pa.Table.from_pandas(frame, preserve_index=False))

    def compact(self, order_by_hash: bool = False) -> dict:
        """Rewrite the table's small files into large ones (housekeeping; files at the target size are left as
        they are, so a daily run rewrites about a day's rows); ``order_by_hash``: rewrite every file Z-ordered by
        text hash instead (files then hold disjoint hash ranges). delta-rs's metrics."""
        return self.rows.compact(COMPACT_ORDER if order_by_hash else None)

    def drop_batch(self, batch_id: str) -> None:
        """Forget a batch in one commit (its run died before finishing; its files are ingested again)."""
        self.rows.delete(f"batch_id = {sql_literal(batch_id)}")

    def read_batch(self, batch_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One batch's rows in their acceptance order."""
        return _frame(self.rows.query(f"SELECT {_columns(columns)} FROM rows WHERE batch_id = ? ORDER BY seq",
                                      [batch_id], prune=("batch_id", [batch_id])))

    def read_all(self, exclude: Iterable[str] = (), columns: list[str] | None = None) -> pd.DataFrame:
        """Every row ever accepted (superseded ones too) of all batches but ``exclude``, oldest first. O(store):
        for tests, the lab and exports, never a cycle step."""
        return _frame(self.rows.query(f"SELECT {_columns(columns)} FROM rows WHERE NOT list_contains(?, batch_id) "
                                      f"ORDER BY {ORDER}", [sorted(exclude)]))

    def current(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows whose label counts: for each text, its newest row. Oldest first. O(store)."""
        return _frame(self.rows.query(f"SELECT {_columns(columns)} FROM ({_CURRENT}) ORDER BY {ORDER}"))

    def trainable(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Current rows outside the recent holdout: what a refit trains on. Oldest first; streamed from the engine
        so that only one copy (in the columns asked) is ever held."""
        parts = list(self.trainable_chunks(columns))
        return pd.concat(parts, ignore_index=True) if parts else _frame(_empty(columns))

    def trainable_chunks(self, columns: list[str] | None = None, rows: int = 100_000,
                         batch_ids: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """:meth:`trainable`'s rows (only those of ``batch_ids``, when given), oldest first, in frames of about
        ``rows`` rows streamed from the engine (a refit builds its features one frame at a time)."""
        where, params = ("", None) if batch_ids is None else (" AND list_contains(?, batch_id)", [list(batch_ids)])
        sql = f"SELECT {_columns(columns)} FROM ({_CURRENT}) WHERE NOT recent_holdout{where} ORDER BY {ORDER}"
        for batch in self.rows.batches(sql, params, rows=rows):
            yield batch.to_pandas()

    def trainable_sample(self, rows: int, seed: int, columns: list[str] | None = None) -> pd.DataFrame:
        """``rows`` of :meth:`trainable`'s rows drawn by a seeded hash order (all of them when there are fewer):
        what a refit fits its embedding projection on."""
        sql = (f"SELECT {_columns(columns)} FROM ({_CURRENT}) WHERE NOT recent_holdout "
               "ORDER BY hash(text_hash, ?), text_hash LIMIT ?")
        return _frame(self.rows.query(sql, [seed, rows]))

    def recent_window(self, max_rows: int) -> pd.DataFrame:
        """The newest ``max_rows`` current rows of the recent holdout slice, oldest first. Reads the newest holdout
        rows (twice as many as asked, more only if too many of them were superseded) and their texts' rows, both
        only among the rows accepted since the oldest of those (a newer row of a text is never older): the history
        before it is skipped by its ``ingested_at`` statistics, its text hashes never decoded."""
        asked = 2 * max_rows
        while True:
            since = self._holdout_since(asked)
            newest = self.rows.query(f"SELECT text_hash FROM rows WHERE recent_holdout AND ingested_at >= ? "
                                     f"ORDER BY {NEWEST_FIRST} LIMIT ?", [since or "", asked]).column(0).to_pylist()
            current = self.newest_of(newest, since=since)
            window = current[current["recent_holdout"]].sort_values(["ingested_at", "batch_id", "seq"]).tail(max_rows)
            if len(window) >= max_rows or since is None:
                return window.reset_index(drop=True)
            asked *= 4

    def _holdout_since(self, rows: int) -> str | None:
        """The ``ingested_at`` of the ``rows``-th newest recent-holdout row (two columns read), None when fewer
        hold one."""
        found = self.rows.query("SELECT ingested_at FROM rows WHERE recent_holdout ORDER BY ingested_at DESC "
                                "NULLS LAST LIMIT 1 OFFSET ?", [rows - 1]).column(0).to_pylist()
        return found[0] if found else None

    def replay_sample(self, rows: int, seed: int, exclude: Iterable[str] = (),
                      columns: list[str] | None = None) -> pd.DataFrame:
        """``rows`` current trainable rows outside the batches ``exclude`` at random (fixed by ``seed``), in
        ``columns`` (default all): drawn by a seeded hash order over the candidate rows' three columns, then only
        those texts' rows are read, in those columns and the ones that order and filter them."""
        excluded, asked = sorted(exclude), 2 * rows + 100
        while True:
            drawn = self.rows.query(
                "SELECT text_hash FROM rows WHERE NOT recent_holdout AND NOT list_contains(?, batch_id) "
                "ORDER BY hash(text_hash, ?), text_hash LIMIT ?", [excluded, seed, asked]).column(0).to_pylist()
            current = self.newest_of(drawn, columns=_with_keys(columns))
            keep = current[~current["recent_holdout"] & ~current["batch_id"].isin(excluded)]
            if len(keep) >= rows or len(drawn) < asked:
                order = {h: k for k, h in enumerate(dict.fromkeys(drawn))}
                keep = keep.assign(_k=keep["text_hash"].map(order)).sort_values("_k").head(rows)
                keep = keep.sort_values(["ingested_at", "batch_id", "seq"]).reset_index(drop=True)
                return keep.loc[:, columns or list(STORE_COLUMNS)]
            asked *= 4

    def newest_of(self, hashes: Sequence[str], exclude: Iterable[str] = (), columns: list[str] | None = None,
                  since: str | None = None) -> pd.DataFrame:
        """For each of ``hashes`` stored in a batch other than ``exclude`` (and, given ``since``, accepted at or
        after it), its newest such row (texts never stored are absent). Reads only the files whose hash range
        holds one of them."""
        if not hashes:
            return _frame(_empty(columns))
        wanted = pa.table({"text_hash": pa.array(sorted(set(hashes)), pa.string())})
        sql = (f"SELECT {_columns(columns)} FROM rows WHERE text_hash IN (SELECT text_hash FROM wanted) "
               f"AND NOT list_contains(?, batch_id) AND (? IS NULL OR ingested_at >= ?) QUALIFY {_IS_NEWEST}")
        return _frame(self.rows.query(sql, [sorted(exclude), since, since], tables={"wanted": wanted},
                                      prune=("text_hash", wanted.column(0).to_pylist())))

    def known_labels(self, hashes: Sequence[str], exclude: Iterable[str] = ()) -> dict[str, tuple[str, str]]:
        """text hash → (current label, "batch <id>" holding that label) of those of ``hashes`` stored in a batch
        other than ``exclude``: the ingest's duplicate/supersession check."""
        rows = self.newest_of(hashes, exclude, ["text_hash", "label", "batch_id"])
        return {h: (label, f"batch {b}") for h, label, b in zip(rows["text_hash"], rows["label"], rows["batch_id"],
                                                                 strict=True)}

    def batch_order(self) -> list[str]:
        """The batches in the order they were accepted, oldest first (two columns read, one row per batch)."""
        sql = "SELECT batch_id FROM rows GROUP BY batch_id ORDER BY min(ingested_at), batch_id"
        return self.rows.query(sql).column(0).to_pylist()

    def batches_rows(self, batch_ids: Sequence[str]) -> pd.DataFrame:
        """The rows of ``batch_ids``, oldest first (only their files are read)."""
        ids = list(batch_ids)
        if not ids:
            return _frame(_empty(None))
        return _frame(self.rows.query(f"SELECT * FROM rows WHERE list_contains(?, batch_id) ORDER BY {ORDER}",
                                      [ids], prune=("batch_id", ids)))


_CURRENT = f"SELECT * FROM rows QUALIFY {_IS_NEWEST}"


def _columns(columns: list[str] | None) -> str:
    return ", ".join(f'"{c}"' for c in (columns or STORE_COLUMNS))


def _with_keys(columns: list[str] | None) -> list[str] | None:
    """``columns`` and those a sample's filter and order need (None: every column)."""
    keys = ["text_hash", "recent_holdout", "batch_id", "ingested_at", "seq"]
    return None if columns is None else list(dict.fromkeys([*columns, *keys]))


def _empty(columns: list[str] | None) -> pa.Table:
    return SCHEMA.empty_table().select(columns or list(STORE_COLUMNS))


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every store column it lacks holding that column's default."""
    missing = {c: d for c, d in STORE_COLUMN_DEFAULTS.items() if c not in frame}
    return frame.assign(**missing) if missing else frame
