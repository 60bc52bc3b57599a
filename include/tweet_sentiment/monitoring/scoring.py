"""The unlabelled stream scored by one champion: per-tweet results naming its version, re-scored when it changes.

``scores/<batch_id>.parquet`` holds each accepted row of ``scoring/rows/<batch_id>.parquet`` with the champion's
label, confidence (top-class probability), class probabilities, version and time. A run pins one champion and
scores with it alone: batches not scored yet, and batches scored by another version (a promotion, a rollback), so
at the end of a run every batch names that one version. Features come from the vector cache: re-scoring embeds
nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tweet_sentiment.intake.unlabelled import UNLABELLED_COLUMNS
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.prediction import class_probabilities
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.batch_store import BatchStore
from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic

PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{label}" for label in LABELS)
SCORE_COLUMNS: tuple[str, ...] = (*UNLABELLED_COLUMNS, "label", "confidence", *PROBABILITY_COLUMNS,
                                  "champion_version", "scored_at")
_LOG_KEEP = 200


def score_rows(rows: pd.DataFrame, champion: Champion, client: InfinityClient, layout: DataLayout) -> pd.DataFrame:
    """``rows`` (of the unlabelled store, at least one) with the champion's answer for each, in SCORE_COLUMNS."""
    probabilities = class_probabilities(champion, rows["text"].tolist(), client, layout.embeddings, num_threads=0)
    out = rows.loc[:, list(UNLABELLED_COLUMNS)].copy()
    out["label"] = np.asarray(LABELS, dtype=object)[probabilities.argmax(axis=1)]
    out["confidence"] = probabilities.max(axis=1).astype(np.float32)
    for i, column in enumerate(PROBABILITY_COLUMNS):
        out[column] = probabilities[:, i].astype(np.float32)
    out["champion_version"] = champion.version
    out["scored_at"] = datetime.now(UTC)
    return out


def scored_version(layout: DataLayout, batch_id: str) -> str | None:
    """The champion version a batch's scores name (None when it is not scored)."""
    store = BatchStore(layout.scores)
    if not store.has_batch(batch_id):
        return None
    versions = store.read_batch(batch_id, ["champion_version"])["champion_version"].unique()
    return str(versions[0]) if len(versions) == 1 else "mixed"


def stale_batches(layout: DataLayout, version: str) -> tuple[list[str], list[str]]:
    """(batches never scored, batches scored by a version other than ``version``)."""
    unscored, stale = [], []
    for batch_id in BatchStore(layout.unlabelled_rows).batch_ids():
        scored = scored_version(layout, batch_id)
        if scored is None:
            unscored.append(batch_id)
        elif scored != version:
            stale.append(batch_id)
    return unscored, stale


def score_stream(layout: DataLayout, champion: Champion, client: InfinityClient, rescore_all: bool = False) -> dict:
    """Score the unscored batches and re-score the stale ones (every scored one with ``rescore_all``) with
    ``champion``; a record of the run is appended to ``mood/scoring_log.json`` (where the stream stood when a
    version took over: the marks of the mood chart)."""
    rows_store, scores = BatchStore(layout.unlabelled_rows), BatchStore(layout.scores)
    unscored, stale = stale_batches(layout, champion.version)
    if rescore_all:
        stale = [b for b in rows_store.batch_ids() if b not in unscored]
    frontier = _frontier(scores)
    done: dict[str, dict] = {}
    for kind, batches in (("scored", unscored), ("rescored", stale)):
        start, rows = time.perf_counter(), 0
        for batch_id in batches:
            result = score_rows(rows_store.read_batch(batch_id), champion, client, layout)
            scores.write_batch(batch_id, result)
            rows += len(result)
        done[kind] = {"batches": batches, "rows": rows, "seconds": round(time.perf_counter() - start, 3)}
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "version": champion.version,
              "frontier": frontier, **{f"{k}_{f}": v[f] for k, v in done.items() for f in ("batches", "rows")}}
    if unscored or stale:
        _append_log(layout, record)
    return {**record, "scored_s": done["scored"]["seconds"], "rescored_s": done["rescored"]["seconds"]}


def _frontier(scores: BatchStore) -> str | None:
    """The latest tweet time scored so far (ISO), None before the first batch."""
    times = scores.read_all(columns=["tweet_at"], empty_columns=("tweet_at",))["tweet_at"]
    return None if times.empty else pd.Timestamp(times.max()).isoformat()


def scoring_log(layout: DataLayout) -> list[dict]:
    """Every scoring run that scored or re-scored something, oldest first."""
    path = layout.mood / "scoring_log.json"
    return read_json(path) if path.exists() else []


def _append_log(layout: DataLayout, record: dict) -> None:
    write_json_atomic(layout.mood / "scoring_log.json", [*scoring_log(layout), record][-_LOG_KEEP:])


def read_scores(layout: DataLayout, columns: list[str] | None = None) -> pd.DataFrame:
    """Every scored row (all batches, in batch order), the columns asked for."""
    return BatchStore(layout.scores).read_all(columns=columns, empty_columns=tuple(columns or SCORE_COLUMNS))
