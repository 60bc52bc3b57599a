"""Keeping the scored stream's tables for months: retention of texts and vectors, and the tables' housekeeping.

After ``stream_retention_days`` a scored batch's texts, vectors and per-tweet scores are deleted; its share of the
mood's counts and word counts and its texts' hashes (the duplicate check) stay. The batches holding the drift
check's stream reference (the first ``drift_window_rows`` tweets) are kept, and a batch no version has scored is
never expired (its counts would be lost). :func:`maintain_scored_stream` is the housekeeping DAG's task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.drift_check import first_batches
from tweet_sentiment.storage.scored_stream import ScoredStream

VACUUM_AFTER_HOURS = 1.0  # files no table version newer than this reads are deleted (readers finish by then)


def expired_batches(tables: ScoredStream, retention_days: float, reference_rows: int,
                    now: datetime | None = None) -> list[str]:
    """Live batches scored by some version that arrived more than ``retention_days`` ago, but for the first
    batches holding ``reference_rows`` tweets (the drift reference)."""
    live = tables.live_batches()
    scored = set(tables.query("SELECT DISTINCT batch_id FROM scored", ["scored"])["batch_id"])
    cutoff = pd.Timestamp((now or datetime.now(UTC)) - timedelta(days=retention_days))
    keep = set(first_batches(live, reference_rows))
    old = live[(live["arrived_at"] < cutoff) & live["batch_id"].isin(scored) & ~live["batch_id"].isin(keep)]
    return old["batch_id"].tolist()


def expire_stream(settings: Settings, now: datetime | None = None) -> dict:
    """Apply the retention setting: the batches expired and their rows."""
    tables = ScoredStream(settings.layout().stream)
    batches = expired_batches(tables, settings.stream_retention_days, settings.drift_window_rows, now)
    return {"expired_batches": len(batches), "expired_rows": tables.expire(batches)}


def maintain_scored_stream(settings: Settings, vacuum_after_hours: float = VACUUM_AFTER_HOURS) -> dict:
    """The housekeeping of the scored stream: retention, then every table compacted, checkpointed and vacuumed."""
    expired = expire_stream(settings)
    return {**expired, "tables": ScoredStream(settings.layout().stream).maintain(vacuum_after_hours)}
