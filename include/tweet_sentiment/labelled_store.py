"""The labelled store: accepted rows, one parquet file per ingested batch (the replay pool and refit source)."""

from __future__ import annotations

import pandas as pd

from tweet_sentiment.batch_store import BatchStore
from tweet_sentiment.schema import STORE_COLUMNS


class LabelledStore(BatchStore):
    """Accepted, cleaned, de-duplicated labelled rows, addressed by batch id, in the store's columns."""

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> None:
        super().write_batch(batch_id, rows.loc[:, list(STORE_COLUMNS)])

    def read_all(self, exclude: set[str] | frozenset[str] = frozenset(), columns: list[str] | None = None,
                 empty_columns: tuple[str, ...] = STORE_COLUMNS) -> pd.DataFrame:
        """All batches but ``exclude``, oldest batch first."""
        return super().read_all(exclude, columns, empty_columns)
