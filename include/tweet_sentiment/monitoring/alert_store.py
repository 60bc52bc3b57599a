"""Alerts kept in the state database (storage/database.py), grouped into episodes.

- ``alert_raised``: every alert a check raised (kind, episode key, its extra as JSON, when);
- ``alert_episodes``: one row per episode (a key raised in consecutive checks of its kind): when it began and
  ended, its latest alert, and whether its start and end were notified (``sent``, ``muted``, or not yet);
- ``alert_acks``: who acknowledged an episode, when; ``alert_mutes``: an episode key muted by whom, when, until.

A check is one transaction (:func:`record_check`): :func:`episode_change` against the open episodes of the same
kind decides which begin, go on and end. Notices are marked sent only after the notifier returned
(:func:`mark_notified`), so a notice that failed is sent by the next check (:func:`pending_notices`).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.monitoring.alert_types import Alert, EpisodeChange, episode_change
from tweet_sentiment.storage.database import METADATA, read_connection, write_transaction

_JSON = sa.JSON(none_as_null=True)
SENT, MUTED = "sent", "muted"  # a notice's state (None: not sent yet)

RAISED = sa.Table(
    "alert_raised", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("episode_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("episode_key", sa.String(200), nullable=False),
    sa.Column("extra", _JSON, nullable=False),
    sa.Column("raised_at", sa.String(40), nullable=False),
    sa.Index("ix_alert_raised_kind", "kind", "id"),
)
EPISODES = sa.Table(
    "alert_episodes", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("episode_key", sa.String(200), nullable=False),
    sa.Column("began_at", sa.String(40), nullable=False),
    sa.Column("ended_at", sa.String(40)),
    sa.Column("last_extra", _JSON, nullable=False),  # the episode's latest alert
    sa.Column("alerts", sa.Integer, nullable=False),  # how many checks raised it
    sa.Column("began_notice", sa.String(8)),  # sent | muted | None (not yet)
    sa.Column("ended_notice", sa.String(8)),
    sa.Index("ix_alert_episodes_open", "kind", "ended_at"),
    sa.Index("ix_alert_episodes_newest", "began_at", "id"),
)
ACKS = sa.Table(
    "alert_acks", METADATA,
    sa.Column("episode_id", sa.Integer, primary_key=True),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)
MUTES = sa.Table(
    "alert_mutes", METADATA,
    sa.Column("episode_key", sa.String(200), primary_key=True),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("until", sa.String(40), nullable=False),
)


@dataclasses.dataclass(frozen=True)
class Notice:
    """A notice to send: an episode began (its alert's extra) or ended (its last alert's extra)."""

    episode_id: int
    event: str  # began | ended
    extra: dict


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _muted_keys(conn: Connection, at: datetime) -> set[str]:
    return set(conn.scalars(sa.select(MUTES.c.episode_key).where(MUTES.c.until > _stamp(at))))


def record_check(url: str, kind: str, alerts: list[Alert], at: datetime) -> EpisodeChange:
    """Keep one check's ``alerts`` of ``kind`` (mood or health) and move its episodes, in one transaction; a
    muted key's start or end is marked muted (never notified)."""
    now, by_key = _stamp(at), {a.episode_key: a for a in alerts}
    with write_transaction(url) as conn:
        open_rows = dict(conn.execute(sa.select(EPISODES.c.episode_key, EPISODES.c.id).where(
            EPISODES.c.kind == kind, EPISODES.c.ended_at.is_(None))).all())
        change, muted = episode_change(open_rows, alerts), _muted_keys(conn, at)
        for key in change.began:
            open_rows[key] = conn.execute(EPISODES.insert().values(
                kind=kind, episode_key=key, began_at=now, last_extra=by_key[key].to_extra(), alerts=0,
                began_notice=MUTED if key in muted else None)).inserted_primary_key[0]
        for key in change.ongoing + change.began:
            conn.execute(EPISODES.update().where(EPISODES.c.id == open_rows[key]).values(
                last_extra=by_key[key].to_extra(), alerts=EPISODES.c.alerts + 1))
            conn.execute(RAISED.insert().values(episode_id=open_rows[key], kind=kind, episode_key=key,
                                                extra=by_key[key].to_extra(), raised_at=now))
        for key in change.ended:
            conn.execute(EPISODES.update().where(EPISODES.c.id == open_rows[key]).values(
                ended_at=now, ended_notice=MUTED if key in muted else None))
    return change


def pending_notices(url: str, kind: str) -> list[Notice]:
    """The starts and ends of ``kind``'s episodes not notified yet (this check's, and any a failed send left)."""
    with read_connection(url) as conn:
        began = conn.execute(sa.select(EPISODES.c.id, EPISODES.c.last_extra).where(
            EPISODES.c.kind == kind, EPISODES.c.began_notice.is_(None)).order_by(EPISODES.c.id)).all()
        ended = conn.execute(sa.select(EPISODES.c.id, EPISODES.c.last_extra).where(
            EPISODES.c.kind == kind, EPISODES.c.ended_at.is_not(None), EPISODES.c.ended_notice.is_(None),
            EPISODES.c.began_notice == SENT).order_by(EPISODES.c.id)).all()
    return [Notice(i, "began", extra) for i, extra in began] + [Notice(i, "ended", extra) for i, extra in ended]


def mark_notified(url: str, notice: Notice) -> None:
    """Record that ``notice`` was sent."""
    column = EPISODES.c.began_notice if notice.event == "began" else EPISODES.c.ended_notice
    with write_transaction(url) as conn:
        conn.execute(EPISODES.update().where(EPISODES.c.id == notice.episode_id).values({column: SENT}))


def acknowledge(url: str, episode_id: int, by: str, at: datetime) -> dict:
    """``by`` acknowledged the episode (the first acknowledgement is kept); KeyError if there is no such episode."""
    with write_transaction(url) as conn:
        if conn.scalar(sa.select(EPISODES.c.id).where(EPISODES.c.id == episode_id)) is None:
            raise KeyError(f"no alert episode {episode_id}")
        if conn.scalar(sa.select(ACKS.c.by).where(ACKS.c.episode_id == episode_id)) is None:
            conn.execute(ACKS.insert().values(episode_id=episode_id, by=by, at=_stamp(at)))
        return dict(conn.execute(sa.select(ACKS).where(ACKS.c.episode_id == episode_id)).mappings().one())


def mute(url: str, episode_key: str, by: str, at: datetime, until: datetime) -> dict:
    """Mute ``episode_key`` until ``until``: its episodes' starts and ends in that time are not notified."""
    row = {"episode_key": episode_key, "by": by, "at": _stamp(at), "until": _stamp(until)}
    with write_transaction(url) as conn:
        conn.execute(MUTES.delete().where(MUTES.c.episode_key == episode_key))
        conn.execute(MUTES.insert().values(**row))
    return row


def episodes(url: str, limit: int, before_id: int | None = None) -> list[dict]:
    """A page of episodes, newest first (those older than ``before_id`` when given), with who acknowledged each
    and the key's mute."""
    query = (sa.select(EPISODES, ACKS.c.by.label("acked_by"), ACKS.c.at.label("acked_at"),
                       MUTES.c.by.label("muted_by"), MUTES.c.until.label("muted_until"))
             .outerjoin(ACKS, ACKS.c.episode_id == EPISODES.c.id)
             .outerjoin(MUTES, MUTES.c.episode_key == EPISODES.c.episode_key)
             .order_by(EPISODES.c.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(EPISODES.c.id < before_id)
    with read_connection(url) as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def recent_raised(url: str, kind: str, limit: int) -> list[dict]:
    """The newest ``limit`` alerts of ``kind`` raised (their extras), newest first."""
    with read_connection(url) as conn:
        return list(conn.scalars(sa.select(RAISED.c.extra).where(RAISED.c.kind == kind)
                                 .order_by(RAISED.c.id.desc()).limit(limit)))
