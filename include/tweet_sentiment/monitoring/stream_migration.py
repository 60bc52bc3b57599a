"""From the per-batch parquet files of the scoring stream (``scoring/rows/<batch>.parquet`` and
``scores/<batch>.parquet``, the layout before the stream's tables) to the stream's Delta tables.

Idempotent: a batch already stored in the tables is not stored again, a batch whose scores the ``scored``
manifest names (same version) is not scored again, so a migration that died is simply run again. The old files
are left in place (delete them once the migration has been checked). Vectors of the migrated texts are copied
from the training side's feature cache where it holds them (the old scoring put them there), so re-scoring and
the drift check need not embed them again; texts without one are embedded when first needed.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tweet_sentiment.intake.unlabelled import UNLABELLED_COLUMNS
from tweet_sentiment.model.features import LEXICON_FEATURES, lexicon_namespace
from tweet_sentiment.monitoring.mood import count_rows, count_words
from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.storage.batch_store import BatchStore
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import SCHEMAS, ScoredStream, vector_bytes
from tweet_sentiment.storage.vector_cache import VectorCache

log = logging.getLogger(__name__)


def _old_caches(layout: DataLayout, embedding_model: str | None) -> tuple[VectorCache, VectorCache, str] | None:
    """(the old feature cache's embeddings, its lexicon features, their lexicon set), None: copy no vectors."""
    if embedding_model is None or not layout.embeddings.exists():
        return None
    lexicon_set = lexicon_namespace(FeatureSchema(embedding_model, 0, LEXICON_FEATURES))
    return VectorCache(layout.embeddings, embedding_model), VectorCache(layout.embeddings, lexicon_set), lexicon_set


def _old_vectors(caches: tuple[VectorCache, VectorCache, str] | None, rows: pd.DataFrame) -> pd.DataFrame:
    """The ``vectors`` rows of ``rows`` whose embedding and lexicon features the old feature cache holds."""
    if caches is None:
        return pd.DataFrame()
    embeddings, lexicon, lexicon_set = caches
    hashes = rows["text_hash"].tolist()
    held = rows[~rows["text_hash"].isin(set(embeddings.missing(hashes)) | set(lexicon.missing(hashes)))]
    if held.empty:
        return pd.DataFrame()
    return pd.DataFrame({"batch_id": held["batch_id"].to_numpy(), "seq": held["seq"].to_numpy(),
                         "embedding": vector_bytes(embeddings.get(held["text_hash"].tolist())),
                         "lexicon": vector_bytes(lexicon.get(held["text_hash"].tolist())),
                         "lexicon_set": lexicon_set})


def _migrate_scores(tables: ScoredStream, batch_id: str, old: pd.DataFrame, vectors: pd.DataFrame) -> int:
    """One old scores file → the tables, per version it names (a file scored by one version: one write)."""
    done = 0
    scored = tables.query("SELECT DISTINCT champion_version FROM scored WHERE batch_id = ?", ["scored"], [batch_id])
    for version, part in old.groupby("champion_version", sort=False):
        if version in set(scored["champion_version"]):
            continue
        scores = part.assign(scored_at=pd.to_datetime(part["scored_at"], utc=True)).loc[:, SCHEMAS["scores"].names]
        tables.write_scores([batch_id], str(version), {"scores": scores, "vectors": vectors,
                                                       "counts": count_rows(part, part),
                                                       "words": count_words(part, part)})
        done += len(part)
    return done


def migrate_scored_stream(layout: DataLayout, embedding_model: str | None = "all-MiniLM-L6-v2") -> dict:
    """Move the old per-batch rows and scores into the stream's tables (see the module's docstring); counts."""
    tables = ScoredStream(layout.stream)
    stored = set(tables.query("SELECT batch_id FROM batches WHERE stored", ["batches"])["batch_id"])
    old_rows, old_scores = BatchStore(layout.unlabelled_rows), BatchStore(layout.scores)
    counts = {"batches": 0, "rows": 0, "scored_rows": 0, "vectors": 0}
    ids, caches = old_rows.batch_ids(), _old_caches(layout, embedding_model)
    for i, batch_id in enumerate(ids, 1):
        rows = old_rows.read_batch(batch_id).reset_index(drop=True).assign(seq=lambda f: np.arange(len(f)))
        if batch_id not in stored:
            tables.write_batch(batch_id, rows.loc[:, list(UNLABELLED_COLUMNS)])
            counts["batches"] += 1
            counts["rows"] += len(rows)
        if old_scores.has_batch(batch_id):
            old = old_scores.read_batch(batch_id).reset_index(drop=True).assign(seq=rows["seq"])
            vectors = _old_vectors(caches, rows)
            scored = _migrate_scores(tables, batch_id, old, vectors)
            counts["scored_rows"] += scored
            counts["vectors"] += len(vectors) if scored else 0
        if i % 50 == 0 or i == len(ids):
            log.info("migrated %d/%d batches of the scored stream", i, len(ids))
    return counts
