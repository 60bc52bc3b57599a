"""The model registry's index and champion pointer in the state database (storage/database.py).

Three tables: ``model_versions`` (one row per complete version: when, strategy, status and the decision, the key
holdout metrics; what the Model page lists, a page at a time), ``champion`` (one row: the version in use) and
``champion_history`` (every promotion and rollback). The pointer changes by a compare-and-swap: the row is updated
only where it still names the version the caller decided against, and the history row and the two versions'
statuses change in the same transaction; a caller that lost the race gets :class:`ChampionMovedError` and nothing
is written.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.storage.database import METADATA, read_connection, write_transaction

AWAITING = "awaiting_approval"  # a version waiting for a person's decision
CHAMPION_STATUSES = ("champion", "retired")  # the statuses a pointer change gives; decisions never overwrite them

VERSIONS = sa.Table(
    "model_versions", METADATA,
    sa.Column("version", sa.String(40), primary_key=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("strategy", sa.String(20)),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("decided_at", sa.String(40)),
    sa.Column("reason", sa.Text),
    sa.Column("approval", sa.String(20)),  # the approval's decision, when a person (or the timeout) answered
    sa.Column("macro_f1", sa.Float),
    sa.Column("accuracy", sa.Float),
    sa.Column("recent_macro_f1", sa.Float),
    sa.Column("table_version", sa.BigInteger),  # the labelled table's version it trained on, when the card says
    sa.Column("model_dropped_at", sa.String(40)),  # retention removed its model file (a rejected challenger)
    sa.Index("model_versions_newest", "created_at", "version"),
    sa.Index("model_versions_status", "status", "decided_at"),  # the oldest waiting approval (loop health)
)
CHAMPION = sa.Table(
    "champion", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1: the one pointer
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("since", sa.String(40), nullable=False),
)
HISTORY = sa.Table(
    "champion_history", METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(40), nullable=False, index=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("previous", sa.String(40)),
)
HISTORY_FIELDS = ("version", "at", "action", "reason", "previous")


class ChampionMovedError(RuntimeError):
    """The pointer no longer names the version the caller decided against: another promotion, approval or rollback
    changed it first. Nothing was written."""

    def __init__(self, expected: str | None, actual: str | None, version: str) -> None:
        super().__init__(f"the champion changed ({expected} → {actual}) before {version} could replace it; "
                         "nothing was switched")
        self.expected, self.actual, self.version = expected, actual, version


def index_row(card: dict) -> dict:
    """The index row of a card: its identity, decision and key metrics."""
    return {"version": card["version"], "created_at": card["created_at"], "strategy": card.get("strategy"),
            "status": card.get("status") or "candidate", "decided_at": card.get("decided_at"),
            "reason": card.get("reason"), **metric_columns(card)}


def metric_columns(fields: dict) -> dict:
    """The index columns a card's fields set (only those present in ``fields``)."""
    columns = {}
    if "metrics" in fields:
        columns.update(macro_f1=(fields["metrics"] or {}).get("macro_f1"),
                       accuracy=(fields["metrics"] or {}).get("accuracy"))
    if "recent_metrics" in fields:
        columns["recent_macro_f1"] = (fields["recent_metrics"] or {}).get("macro_f1")
    if "approval" in fields:
        columns["approval"] = (fields["approval"] or {}).get("decision")
    if fields.get("table_version") is not None:
        columns["table_version"] = int(fields["table_version"])
    return columns


def add_version(url: str, card: dict) -> None:
    with write_transaction(url) as connection:
        connection.execute(sa.insert(VERSIONS).values(**index_row(card)))


def set_columns(url: str, version: str, **columns: object) -> None:
    if columns:
        with write_transaction(url) as connection:
            connection.execute(sa.update(VERSIONS).where(VERSIONS.c.version == version).values(**columns))


def decide(url: str, version: str, status: str, decided_at: str, reason: str) -> bool:
    """Record a decision that is not a pointer change (rejected, awaiting approval) on a version the pointer never
    named; False (nothing written) when it is or was champion."""
    with write_transaction(url) as connection:
        done = connection.execute(sa.update(VERSIONS).where(
            VERSIONS.c.version == version, VERSIONS.c.status.not_in(CHAMPION_STATUSES)).values(
            status=status, decided_at=decided_at, reason=reason))
        return done.rowcount == 1


def switch_champion(url: str, version: str, expected: str | None, event: dict) -> None:
    """Make ``version`` champion if the pointer still names ``expected`` (None: there is no champion yet), in one
    transaction with its history row and both versions' statuses; ChampionMovedError otherwise."""
    try:
        with write_transaction(url) as connection:
            if not _swap(connection, version, expected, event["at"]):
                raise ChampionMovedError(expected, _pointer(connection), version)
            connection.execute(sa.insert(HISTORY).values(**{**event, "version": version, "previous": expected}))
            connection.execute(sa.update(VERSIONS).where(VERSIONS.c.version == version).values(
                status="champion", decided_at=event["at"], reason=event["reason"]))
            if expected is not None and expected != version:
                connection.execute(sa.update(VERSIONS).where(VERSIONS.c.version == expected).values(
                    status="retired"))
    except sa.exc.IntegrityError:  # two first promotions at once where writers do not queue: the other inserted
        raise ChampionMovedError(expected, champion_version(url), version) from None


def _swap(connection: Connection, version: str, expected: str | None, at: str) -> bool:
    """The compare-and-swap of the pointer row; False when it does not name ``expected``."""
    if expected is None:
        if _pointer(connection) is not None:
            return False
        connection.execute(sa.insert(CHAMPION).values(id=1, version=version, since=at))
        return True
    return connection.execute(sa.update(CHAMPION).where(CHAMPION.c.id == 1, CHAMPION.c.version == expected).values(
        version=version, since=at)).rowcount == 1


def _pointer(connection: Connection) -> str | None:
    return connection.execute(sa.select(CHAMPION.c.version).where(CHAMPION.c.id == 1)).scalar_one_or_none()


def champion_version(url: str) -> str | None:
    with read_connection(url) as connection:
        return _pointer(connection)


def history(url: str, newest: int | None = None) -> list[dict]:
    """Promotions and rollbacks, oldest first; only the ``newest`` ones when given."""
    query = sa.select(*(HISTORY.c[f] for f in HISTORY_FIELDS)).order_by(HISTORY.c.seq.desc()).limit(newest)
    with read_connection(url) as connection:
        return [dict(row._mapping) for row in reversed(connection.execute(query).all())]


def was_champion(url: str, version: str) -> bool:
    with read_connection(url) as connection:
        return connection.execute(sa.select(HISTORY.c.seq).where(HISTORY.c.version == version).limit(1)).first() \
            is not None


def rows(url: str, versions: Iterable[str] | None = None, status: str | None = None, asked: bool = False,
         once_champion: bool = False, newest_first: bool = False, limit: int | None = None,
         offset: int = 0, strategy: str | None = None) -> list[dict]:
    """Index rows oldest first (or newest first), a page of them with ``limit`` and ``offset``: all, or those of
    ``versions``, of one ``status``, put to a person (awaiting or answered), once champion, or of one
    ``strategy``."""
    order = (VERSIONS.c.created_at, VERSIONS.c.version)
    query = sa.select(VERSIONS).order_by(*(c.desc() for c in order) if newest_first else order)
    if versions is not None:
        query = query.where(VERSIONS.c.version.in_(list(versions)))
    if status is not None:
        query = query.where(VERSIONS.c.status == status)
    if asked:
        query = query.where(sa.or_(VERSIONS.c.status == AWAITING, VERSIONS.c.approval.is_not(None)))
    if once_champion:
        query = query.where(VERSIONS.c.status.in_(CHAMPION_STATUSES))
    if strategy is not None:
        query = query.where(VERSIONS.c.strategy == strategy)
    with read_connection(url) as connection:
        return [dict(row._mapping) for row in connection.execute(query.limit(limit).offset(offset)).all()]


def count(url: str) -> int:
    with read_connection(url) as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(VERSIONS)).scalar_one()


def expired_rejections(url: str, decided_before: str) -> list[dict]:
    """Rejected versions decided before ``decided_before`` whose model file is still kept."""
    query = sa.select(VERSIONS.c.version).where(VERSIONS.c.status == "rejected",
                                                VERSIONS.c.decided_at < decided_before,
                                                VERSIONS.c.model_dropped_at.is_(None))
    with read_connection(url) as connection:
        return [dict(row._mapping) for row in connection.execute(query).all()]
