"""The labelled store: accepted rows, one parquet file per ingested batch (the replay pool and refit source).

Every row ever accepted is kept. The newest human label of a text wins: a later row with the same text and
another label supersedes the older one, which stays in its batch file (the history) but is no longer *current*.
Rows of the recent holdout slice are never trained on; they judge challengers (see :meth:`recent_window`).
The folder, batch ids and atomic writes are :class:`~tweet_sentiment.storage.batch_store.BatchStore`'s.
"""

from __future__ import annotations

import pandas as pd

from tweet_sentiment.schema import STORE_COLUMN_DEFAULTS, STORE_COLUMNS
from tweet_sentiment.storage.batch_store import BatchStore

_ORDER = ["ingested_at", "batch_id", "seq"]  # the order in which rows were accepted, oldest first


class LabelledStore(BatchStore):
    """Accepted, cleaned labelled rows, addressed by batch id, in the store's columns."""

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> None:
        """Store one batch in the store's columns (a column the rows lack holds its default)."""
        super().write_batch(batch_id, _with_defaults(rows).loc[:, list(STORE_COLUMNS)])

    def read_batch(self, batch_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One batch's rows; columns added to the store after the batch was written hold their defaults."""
        return _with_defaults(super().read_batch(batch_id)).loc[:, columns or list(STORE_COLUMNS)]

    def read_all(self, exclude: set[str] | frozenset[str] = frozenset(), columns: list[str] | None = None,
                 empty_columns: tuple[str, ...] = STORE_COLUMNS) -> pd.DataFrame:
        """Every row ever accepted (superseded ones too) of all batches but ``exclude``, oldest first."""
        rows = super().read_all(exclude, None, empty_columns)
        if not rows.empty:
            rows = rows.sort_values(_ORDER, kind="stable", ignore_index=True)
        return rows.loc[:, columns or list(empty_columns)]

    def current(self) -> pd.DataFrame:
        """The rows whose label counts: for each text, its newest row. Oldest first."""
        rows = self.read_all()
        return rows[~rows["text_hash"].duplicated(keep="last")].reset_index(drop=True)

    def trainable(self) -> pd.DataFrame:
        """Current rows outside the recent holdout: what any strategy may train on. Oldest first."""
        rows = self.current()
        return rows[~rows["recent_holdout"].astype(bool)].reset_index(drop=True)

    def recent_window(self, max_rows: int) -> pd.DataFrame:
        """The newest ``max_rows`` current rows of the recent holdout slice, oldest first."""
        rows = self.current()
        return rows[rows["recent_holdout"].astype(bool)].tail(max_rows).reset_index(drop=True)

    def known_labels(self, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, tuple[str, str]]:
        """text hash → (current label, "batch <id>" holding that label), for the duplicate/supersession check."""
        rows = self.read_all(exclude, ["text_hash", "label", "batch_id"])
        return {h: (label, f"batch {b}") for h, label, b in zip(rows["text_hash"], rows["label"], rows["batch_id"],
                                                                 strict=True)}


def _with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every store column it lacks holding that column's default."""
    missing = {c: d for c, d in STORE_COLUMN_DEFAULTS.items() if c not in frame}
    return frame.assign(**missing) if missing else frame
