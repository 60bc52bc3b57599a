"""The labelled store: accepted rows, one parquet file per ingested batch (the replay pool and refit source)."""

from __future__ import annotations

import io

import pandas as pd
from upath import UPath

from tweet_sentiment.datafs import is_hidden, list_dir, write_bytes_atomic
from tweet_sentiment.schema import STORE_COLUMNS


class LabelledStore:
    """Accepted, cleaned, de-duplicated rows, addressed by batch id."""

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
        with self._file(batch_id).open("rb") as fh:
            return pd.read_parquet(fh, columns=columns)

    def read_all(self, exclude: set[str] | frozenset[str] = frozenset(),
                 columns: list[str] | None = None) -> pd.DataFrame:
        """All batches but ``exclude``, oldest batch first."""
        frames = [self.read_batch(b, columns) for b in self.batch_ids() if b not in exclude]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in (columns or STORE_COLUMNS)})
        return pd.concat(frames, ignore_index=True)

    def known_hashes(self, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
        """text hash → "batch <id>" that holds it, for the duplicate check across batches."""
        known: dict[str, str] = {}
        for batch_id in self.batch_ids():
            if batch_id in exclude:
                continue
            for h in self.read_batch(batch_id, ["text_hash"])["text_hash"]:
                known.setdefault(h, f"batch {batch_id}")
        return known
