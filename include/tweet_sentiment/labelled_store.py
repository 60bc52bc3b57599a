"""The labelled store: accepted rows, one parquet file per ingested batch (the replay pool and refit source).

Every row ever accepted is kept. The newest human label of a text wins: a later row with the same text and
another label supersedes the older one, which stays in its batch file (the history) but is no longer *current*.
Rows of the recent holdout slice are never trained on; they judge challengers (see :meth:`recent_window`).
"""

from __future__ import annotations

import io

import pandas as pd
from upath import UPath

from tweet_sentiment.datafs import is_hidden, list_dir, write_bytes_atomic
from tweet_sentiment.schema import STORE_COLUMN_DEFAULTS, STORE_COLUMNS

_ORDER = ["ingested_at", "batch_id", "seq"]  # the order in which rows were accepted, oldest first


class LabelledStore:
    """Accepted, cleaned rows, addressed by batch id."""

    def __init__(self, folder: UPath) -> None:
        self.folder = folder

    def _file(self, batch_id: str) -> UPath:
        return self.folder / f"{batch_id}.parquet"

    def batch_ids(self) -> list[str]:
        return sorted(p.stem for p in list_dir(self.folder) if p.suffix == ".parquet" and not is_hidden(p))

    def has_batch(self, batch_id: str) -> bool:
        return self._file(batch_id).exists()

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> None:
        """Store one batch atomically (re-writing the same batch id replaces it whole)."""
        buf = io.BytesIO()
        rows.loc[:, list(STORE_COLUMNS)].to_parquet(buf, index=False)
        write_bytes_atomic(self._file(batch_id), buf.getvalue())

    def drop_batch(self, batch_id: str) -> None:
        """Forget a batch (its run died before finishing; its files are ingested again by the next run)."""
        self._file(batch_id).unlink(missing_ok=True)

    def read_batch(self, batch_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One batch's rows; columns added to the store after the batch was written hold their defaults."""
        with self._file(batch_id).open("rb") as fh:
            frame = pd.read_parquet(fh)
        for column, default in STORE_COLUMN_DEFAULTS.items():
            if column not in frame:
                frame[column] = default
        return frame.loc[:, columns or list(STORE_COLUMNS)]

    def read_all(self, exclude: set[str] | frozenset[str] = frozenset(),
                 columns: list[str] | None = None) -> pd.DataFrame:
        """Every row ever accepted (superseded ones too) of all batches but ``exclude``, oldest first."""
        frames = [self.read_batch(b) for b in self.batch_ids() if b not in exclude]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in (columns or STORE_COLUMNS)})
        rows = pd.concat(frames, ignore_index=True).sort_values(_ORDER, kind="stable", ignore_index=True)
        return rows.loc[:, columns or list(STORE_COLUMNS)]

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
