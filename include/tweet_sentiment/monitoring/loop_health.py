"""The loop watching itself: four checks, each a :class:`HealthAlert` when its limit (config.py) is passed.

Each reads what does not grow with history: the two inboxes' waiting files (a listing of the inbox, which the
loop keeps small), the newest model version and the oldest waiting approval (indexed queries of the registry
index), and the rows quarantined in the last hour (``quarantine_counts``, one row per batch, read by its time
index). The intake tasks record each batch's quarantined rows there (:func:`record_quarantined`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import inbox_files
from tweet_sentiment.model.registry_index import AWAITING, VERSIONS
from tweet_sentiment.monitoring.alert_types import HealthAlert
from tweet_sentiment.storage.database import METADATA, read_connection, write_transaction
from tweet_sentiment.storage.fs import is_hidden, list_dir

QUARANTINE_COUNTS = sa.Table(
    "quarantine_counts", METADATA,
    sa.Column("batch_id", sa.String(250), primary_key=True),
    sa.Column("stream", sa.String(16), nullable=False),  # labelled | unlabelled
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Index("ix_quarantine_counts_at", "at"),
)
QUARANTINE_WINDOW = timedelta(hours=1)


def record_quarantined(url: str, stream: str, ledger: dict, at: datetime) -> None:
    """Keep how many rows ``ledger``'s batch quarantined (once per batch: a retried run's ledger replaces it)."""
    with write_transaction(url) as conn:
        conn.execute(QUARANTINE_COUNTS.delete().where(QUARANTINE_COUNTS.c.batch_id == ledger["batch_id"]))
        conn.execute(QUARANTINE_COUNTS.insert().values(batch_id=ledger["batch_id"], stream=stream,
                                                       rows=int(ledger.get("rows_quarantined", 0)),
                                                       at=at.isoformat(timespec="seconds")))


def _oldest_waiting(folders: list) -> datetime | None:
    """When the oldest file in these folders (an inbox, a claimed batch's folder) last changed; None if none."""
    times = [p.stat().st_mtime for folder in folders for p in list_dir(folder) if not is_hidden(p) and p.is_file()]
    return datetime.fromtimestamp(min(times), UTC) if times else None


def _limit_alert(check: str, since: datetime | None, limit_min: float, now: datetime, what: str) -> HealthAlert | None:
    """An alert when ``since`` lies more than ``limit_min`` minutes before ``now``."""
    if since is None or (waited := (now - since).total_seconds()) <= limit_min * 60:
        return None
    return HealthAlert(check, round(waited / 60, 1), limit_min, f"{what} for {waited / 60:.0f} min (since "
                                                                f"{since.isoformat(timespec='seconds')})", now)


def retrain_stalled(settings: Settings, now: datetime) -> HealthAlert | None:
    """Labelled files wait in the inbox and no retrain trained a version since: minutes since the later of the
    newest version and the oldest waiting file."""
    ready, _ = inbox_files(settings.layout().inbox, settings.file_settle_s)
    oldest = _oldest_waiting([settings.layout().inbox]) if ready else None
    if oldest is None:
        return None
    with read_connection(settings.state_db) as conn:
        newest = conn.scalar(sa.select(VERSIONS.c.created_at).order_by(VERSIONS.c.created_at.desc()).limit(1))
    since = max(oldest, datetime.fromisoformat(newest)) if newest else oldest
    return _limit_alert("retrain_stalled", since, settings.retrain_stall_min, now,
                        f"{len(ready)} labelled file(s) wait in the inbox with no retrain")


def scoring_behind(settings: Settings, now: datetime) -> HealthAlert | None:
    """The oldest unscored tweet: the oldest file in the unlabelled inbox or in a claimed batch not finished."""
    stream = settings.layout().unlabelled_stream
    return _limit_alert("scoring_behind", _oldest_waiting([stream.inbox, *list_dir(stream.processing)]),
                        settings.scoring_behind_min, now, "the oldest unscored tweet has waited")


def quarantine_growing(settings: Settings, now: datetime) -> HealthAlert | None:
    """Rows quarantined in the last hour (both inboxes) beyond ``quarantine_rows_per_hour``."""
    since = (now - QUARANTINE_WINDOW).isoformat(timespec="seconds")
    with read_connection(settings.state_db) as conn:
        rows, batches = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(QUARANTINE_COUNTS.c.rows), 0),
                                               sa.func.count()).where(QUARANTINE_COUNTS.c.at >= since)).one()
    if rows <= settings.quarantine_rows_per_hour:
        return None
    return HealthAlert("quarantine_growing", float(rows), settings.quarantine_rows_per_hour,
                       f"{rows} rows quarantined in the last hour by {batches} batch(es)", now)


def approval_waiting(settings: Settings, now: datetime) -> HealthAlert | None:
    """The oldest challenger waiting for a person's approval, past ``approval_wait_min``."""
    with read_connection(settings.state_db) as conn:
        oldest = conn.execute(sa.select(VERSIONS.c.decided_at, VERSIONS.c.version).where(
            VERSIONS.c.status == AWAITING).order_by(VERSIONS.c.decided_at).limit(1)).one_or_none()
    if oldest is None or not oldest.decided_at:
        return None
    return _limit_alert("approval_waiting", datetime.fromisoformat(oldest.decided_at), settings.approval_wait_min,
                        now, f"challenger {oldest.version} has waited for an approval")


CHECKS: tuple[Callable[[Settings, datetime], HealthAlert | None], ...] = (
    retrain_stalled, scoring_behind, quarantine_growing, approval_waiting)


def check_loop(settings: Settings, now: datetime) -> list[HealthAlert]:
    """The loop-health alerts standing at ``now``."""
    return [alert for check in CHECKS if (alert := check(settings, now)) is not None]
