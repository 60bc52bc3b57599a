"""The stores' layout before the Delta tables: a folder of ``<batch_id>.parquet`` files, one per batch (the
labelled rows, the unlabelled rows, their scores), read by the migrations to the tables."""

from __future__ import annotations

import pandas as pd
from upath import UPath

from tweet_sentiment.storage.fs import is_hidden, list_dir


class BatchStore:
    """Rows addressed by batch id: ``<folder>/<batch_id>.parquet``, as earlier code wrote them."""

    def __init__(self, folder: UPath) -> None:
        self.folder = folder

    def batch_ids(self) -> list[str]:
        return sorted(p.stem for p in list_dir(self.folder) if p.suffix == ".parquet" and not is_hidden(p))

    def has_batch(self, batch_id: str) -> bool:
        return (self.folder / f"{batch_id}.parquet").exists()

    def read_batch(self, batch_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        with (self.folder / f"{batch_id}.parquet").open("rb") as fh:
            return pd.read_parquet(fh, columns=columns)
