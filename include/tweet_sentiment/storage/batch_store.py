"""A folder of parquet files, one per batch: the labelled store, the unlabelled rows and their scores."""

from __future__ import annotations

import io

import pandas as pd
from upath import UPath

from tweet_sentiment.storage.fs import is_hidden, list_dir, write_bytes_atomic
from tweet_sentiment.storage.tables import DeltaRows, sql_literal


def drop_batch(folder: UPath, batch_id: str) -> None:
    """Forget a batch of the store at ``folder``, whichever it is: a Delta table's rows of the batch (one delete
    commit) or the batch's parquet file."""
    table = DeltaRows(folder, None)
    if table.table() is not None:
        table.delete(f"batch_id = {sql_literal(batch_id)}")
    else:
        BatchStore(folder).drop_batch(batch_id)


class BatchStore:
    """Rows addressed by batch id: ``<folder>/<batch_id>.parquet``, each written atomically."""

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
        rows.to_parquet(buf, index=False)
        write_bytes_atomic(self._file(batch_id), buf.getvalue())

    def drop_batch(self, batch_id: str) -> None:
        """Forget a batch (its run died before finishing; its files are ingested again by the next run)."""
        self._file(batch_id).unlink(missing_ok=True)

    def read_batch(self, batch_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        with self._file(batch_id).open("rb") as fh:
            return pd.read_parquet(fh, columns=columns)

    def read_all(self, exclude: set[str] | frozenset[str] = frozenset(), columns: list[str] | None = None,
                 empty_columns: tuple[str, ...] = ()) -> pd.DataFrame:
        """All batches but ``exclude``, in batch-id order (``empty_columns`` name the columns when there is none)."""
        frames = [self.read_batch(b, columns) for b in self.batch_ids() if b not in exclude]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in (columns or empty_columns)})
        return pd.concat(frames, ignore_index=True)

    def known_labels(self, hashes: list[str], exclude: set[str] | frozenset[str] = frozenset()
                     ) -> dict[str, tuple[str, str]]:
        """text hash → ("", "batch <id>" that holds it) of those of ``hashes`` stored, for the duplicate check
        across batches: rows of a plain batch store have no label (the labelled store answers with each text's
        current label)."""
        wanted, known = set(hashes), {}
        for batch_id in self.batch_ids():
            if batch_id in exclude:
                continue
            for h in self.read_batch(batch_id, ["text_hash"])["text_hash"]:
                if h in wanted:
                    known.setdefault(h, ("", f"batch {batch_id}"))
        return known
