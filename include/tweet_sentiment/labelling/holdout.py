"""The fixed holdout, versioned in the state database, and its re-annotation through the labelling queue.

Version 1 is the official test split as the dataset ships it (seeded on first use); a replaced file (another
content hash) becomes a new *base* version, from which the rows are read again. When the label check finds a
systematic correction (a team's new rule on a word), the holdout tweets holding that word go to the labelling
queue, shown with their current holdout label (:func:`queue_reannotation`); a person's answers on them come back,
at "Send batch", as the next holdout version (:func:`record_reannotations`), never as an inbox file: a
re-annotated holdout tweet is never a training row. The gate reads the newest version (:func:`newest`) and every
model card names the version its figures used.

Tables: ``fixed_holdout_rows`` (one row per holdout row and version it changed in: row number, cleaned text,
label, who) and ``fixed_holdout_versions`` (one per version: when, from what, how many labels changed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.labelling import state
from tweet_sentiment.labelling.tables import ITEMS
from tweet_sentiment.storage.database import METADATA, read_connection, write_transaction

HOLDOUT_SOURCE = "fixed-holdout"  # the queue items' source: their answers go to the holdout, not the inbox

ROWS = sa.Table(
    "fixed_holdout_rows", METADATA,
    sa.Column("row", sa.Integer, primary_key=True),  # the row's place in the holdout (0-based)
    sa.Column("version", sa.Integer, primary_key=True),  # the version this label was given in
    sa.Column("text", sa.Text, nullable=False),  # cleaned, as the models read it
    sa.Column("label", sa.String(32), nullable=False),
    sa.Column("annotator", sa.String(256), nullable=False),  # "" for the dataset's own labels
)

VERSIONS = sa.Table(
    "fixed_holdout_versions", METADATA,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("source", sa.String, nullable=False),  # the dataset file (a base version) or who re-annotated
    sa.Column("digest", sa.String(64)),  # a base version: the sha256 of the file it was read from (else None)
    sa.Column("rows", sa.Integer, nullable=False),  # rows given a label in this version
    sa.Column("rows_changed", sa.Integer, nullable=False),  # of which a label other than the one before
)


@dataclass(frozen=True)
class VersionedHoldout:
    """One version of the fixed holdout: row numbers, cleaned texts and labels, in row order."""

    version: int
    rows: list[int]
    texts: list[str]
    labels: list[str]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def seed(db: str, texts: list[str], labels: list[str], source: str, digest: str) -> None:
    """A new *base* version from the dataset's holdout file whose content hash is ``digest``: the first, or when
    the file was replaced since the newest base (every row as the file has it; re-annotations of the replaced file
    no longer apply). Nothing happens when the newest base has this digest."""
    try:
        with write_transaction(db) as connection:
            if _base(connection)[1] == digest:
                return
            version = (connection.execute(sa.select(sa.func.max(VERSIONS.c.version))).scalar_one() or 0) + 1
            connection.execute(sa.insert(VERSIONS), [{"version": version, "at": _now(), "source": source,
                                                      "digest": digest, "rows": len(texts),
                                                      "rows_changed": 0}])
            connection.execute(sa.insert(ROWS), [{"row": i, "version": version, "text": t, "label": label,
                                                  "annotator": ""}
                                                 for i, (t, label) in enumerate(zip(texts, labels, strict=True))])
    except sa.exc.IntegrityError:  # another process seeded it meanwhile (PostgreSQL: both saw it empty)
        return


def base_digest(db: str) -> str | None:
    """The content hash of the file the newest base version was read from (None before the first)."""
    with read_connection(db) as connection:
        return _base(connection)[1]


def _base(connection: Connection, upto: int | None = None) -> tuple[int, str | None]:
    """The newest base version (read from the file) at ``upto`` at most, and its file's digest ((0, None): none)."""
    query = sa.select(VERSIONS.c.version, VERSIONS.c.digest).where(VERSIONS.c.digest.is_not(None))
    if upto is not None:
        query = query.where(VERSIONS.c.version <= upto)
    found = connection.execute(query.order_by(VERSIONS.c.version.desc()).limit(1)).first()
    return (found.version, found.digest) if found else (0, None)


def _current(connection: Connection, upto: int | None = None) -> sa.Select:
    """Each row's newest label since the newest base version (at version ``upto`` at most)."""
    base = _base(connection, upto)[0]
    newest = sa.select(ROWS.c.row, sa.func.max(ROWS.c.version).label("version")).where(ROWS.c.version >= base)
    if upto is not None:
        newest = newest.where(ROWS.c.version <= upto)
    newest = newest.group_by(ROWS.c.row).subquery()
    return (sa.select(ROWS.c.row, ROWS.c.text, ROWS.c.label)
            .join(newest, (ROWS.c.row == newest.c.row) & (ROWS.c.version == newest.c.version))
            .order_by(ROWS.c.row))


def newest(db: str, upto: int | None = None) -> VersionedHoldout | None:
    """The newest version of the holdout (or version ``upto``); None before it is seeded."""
    with read_connection(db) as connection:
        version = connection.execute(sa.select(sa.func.max(VERSIONS.c.version))).scalar_one()
        if version is None:
            return None
        version = min(version, upto) if upto else version
        found = connection.execute(_current(connection, version)).all()
    return VersionedHoldout(version, [r.row for r in found], [r.text for r in found], [r.label for r in found])


def versions(db: str) -> list[dict]:
    """Every version, oldest first: when, from what, rows labelled, labels changed."""
    with read_connection(db) as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(VERSIONS).order_by(VERSIONS.c.version))]


def queue_reannotation(db: str, holdout: VersionedHoldout, touched: dict[str, np.ndarray]) -> int:
    """Queue the rows of ``holdout`` each correction touches (``touched``: a correction's key, "word: direction",
    → its rows) for re-annotation, most uncertain first (margin 0), each shown with its current label. A row is
    queued once per correction, and not while it waits in the queue already. The number queued."""
    items = {}
    for key, mask in touched.items():
        tag = hashlib.sha256(key.encode()).hexdigest()[:8]
        for row, text, label, hit in zip(holdout.rows, holdout.texts, holdout.labels, mask, strict=True):
            if hit and row not in items:
                items[row] = {"id": f"holdout-{row}-{tag}", "row": row, "source": HOLDOUT_SOURCE, "text": text,
                              "suggested": label, "probabilities": None, "margin": 0.0,
                              "version": f"holdout v{holdout.version}", "label": None, "annotator": None,
                              "answers": {}}
    with write_transaction(db) as connection:
        queued = connection.execute(sa.select(ITEMS.c.id, ITEMS.c.row, ITEMS.c.send_no)
                                    .where(ITEMS.c.source == HOLDOUT_SOURCE)).all()
        known, waiting = {q.id for q in queued}, {q.row for q in queued if q.send_no is None}
        new = [i for i in items.values() if i["id"] not in known and i["row"] not in waiting]
        tally = state.counters(connection, lock=True)
        state.insert_items(connection, new, loaded_from=tally.get("loaded", 0))
        state.set_counters(connection, {**tally, "loaded": tally.get("loaded", 0) + len(new)})
    return len(new)


def is_holdout_item(item: dict) -> bool:
    return item.get("source") == HOLDOUT_SOURCE


def record_reannotations(connection: Connection, items: list[dict], annotator: str) -> int | None:
    """The decided holdout ``items`` (inside the send's transaction) as the next holdout version; that version
    (None: no items). Each item's row gets the person's label; a row answered twice keeps the newest answer."""
    if not items:
        return None
    version = connection.execute(sa.select(sa.func.max(VERSIONS.c.version))).scalar_one() + 1
    before = {r.row: r.label for r in connection.execute(_current(connection))}
    answered = {int(i["row"]): (i["text"], i["label"]) for i in items}
    connection.execute(sa.insert(ROWS), [{"row": row, "version": version, "text": text, "label": label,
                                          "annotator": annotator} for row, (text, label) in answered.items()])
    connection.execute(sa.insert(VERSIONS), [{
        "version": version, "at": _now(), "source": f"re-annotated by {annotator}", "rows": len(answered),
        "rows_changed": sum(before.get(row) != label for row, (_, label) in answered.items())}])
    connection.execute(sa.update(ITEMS).where(ITEMS.c.id.in_([i["id"] for i in items]))
                       .values(batch=f"fixed holdout v{version}"))
    return version
