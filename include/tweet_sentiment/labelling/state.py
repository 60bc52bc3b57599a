"""The labelling queue's state in the state database (tables.py): a queue item as the rules of ``answers.py`` see
it (a dict) read from and written back to its rows, and the queries of the queue's views and figures.

Every change runs in one :func:`~tweet_sentiment.storage.database.write_transaction` (the database's lock: on
SQLite writers queue, on PostgreSQL rows are locked), so the API server's workers and the scoring DAG change the
queue at once without losing a write; a click reads and writes only its own tweet's rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.labelling.answers import UNSURE, status
from tweet_sentiment.labelling.counts import count_change
from tweet_sentiment.labelling.sources import OPTIONAL_COLUMNS, LoadReport
from tweet_sentiment.labelling.tables import ANSWERS, BATCHES, COUNTERS, CURSORS, ITEMS, SKIPS, STEPS

HISTORY_STEPS = 200  # the undo history kept per annotator
QUEUED = ITEMS.c.send_no.is_(None)
PENDING = QUEUED & ITEMS.c.status.in_(("open", "waiting"))


def _item(row: dict, answers: dict[str, dict], skipped_by: list[str]) -> dict:
    """The rules' dict of an item row (``sent``: a send took it out of the queue)."""
    item = {k: row[k] for k in ("id", "row", "source", "text")}
    item.update(row["fields"] or {})
    item.update({k: row[k] for k in ("suggested", "probabilities", "margin", "version", "adjudication", "label",
                                      "annotator", "batch")})
    item["pair"] = [row["pair_first"], row["pair_second"]] if row["pair_first"] else None
    item.update(answers=answers, skipped_by=skipped_by, sent=row["send_no"] is not None)
    return item


def _outcome(item: dict) -> dict:
    """The item's columns that the rules change."""
    first, second = item.get("pair") or (None, None)
    return {"pair_first": first, "pair_second": second, "adjudication": item.get("adjudication"),
            "label": item.get("label"), "annotator": item.get("annotator"), "status": status(item)}


def _suggestion(item: dict) -> dict:
    return {k: item.get(k) for k in ("suggested", "probabilities", "margin", "version")}


def load_items(connection: Connection, where: sa.ColumnElement, order_by: Iterable = (), limit: int | None = None,
               offset: int = 0, lock: bool = False) -> list[dict]:
    """The items matching ``where`` (in ``order_by``, one page of them), with their answers and skips; ``lock``:
    their rows locked until the transaction ends (PostgreSQL's FOR UPDATE: a second writer of the same tweet waits
    for the first; SQLite's writers are one at a time already)."""
    query = sa.select(ITEMS).where(where).order_by(*order_by).offset(offset).limit(limit)
    rows = connection.execute(query.with_for_update() if lock else query).mappings().all()
    ids = sa.select(query.with_only_columns(ITEMS.c.id).subquery().c.id)  # the same page, by its ids
    answers: dict[str, dict[str, dict]] = {}
    for a in connection.execute(sa.select(ANSWERS).where(ANSWERS.c.item_id.in_(ids))):
        answers.setdefault(a.item_id, {})[a.annotator] = {"label": a.label, "at": a.at}
    skips: dict[str, list[str]] = {}
    for s in connection.execute(sa.select(SKIPS).where(SKIPS.c.item_id.in_(ids)).order_by(SKIPS.c.annotator)):
        skips.setdefault(s.item_id, []).append(s.annotator)
    return [_item(r, answers.get(r["id"], {}), skips.get(r["id"], [])) for r in rows]


def load_item(connection: Connection, item_id: str, lock: bool = False) -> dict | None:
    found = load_items(connection, ITEMS.c.id == item_id, lock=lock)
    return found[0] if found else None


def insert_items(connection: Connection, items: list[dict], loaded_from: int, send_no: int | None = None) -> None:
    """New queue items (``send_no``: items that already left, e.g. migrated from the answer log)."""
    if not items:
        return
    connection.execute(sa.insert(ITEMS), [
        {"id": i["id"], "loaded_no": loaded_from + n, "source": i.get("source", ""), "row": i.get("row", 0),
         "text": i.get("text", ""), "fields": {c: i.get(c, "") for c in OPTIONAL_COLUMNS}, **_suggestion(i),
         **_outcome(i), "send_no": send_no, "batch": i.get("batch")} for n, i in enumerate(items)])
    answers = [{"item_id": i["id"], "annotator": name, "label": a["label"], "at": a.get("at", "")}
               for i in items for name, a in i.get("answers", {}).items()]
    skips = [{"item_id": i["id"], "annotator": name} for i in items for name in i.get("skipped_by", [])]
    for table, rows in ((ANSWERS, answers), (SKIPS, skips)):
        if rows:
            connection.execute(sa.insert(table), rows)
    count_change(connection, [], items)


def save_item(connection: Connection, before: dict, item: dict) -> None:
    """Write back what a rule changed on an item read as ``before`` (a copy): its outcome, answers and skips."""
    connection.execute(sa.update(ITEMS).where(ITEMS.c.id == item["id"]).values(**_outcome(item)))
    count_change(connection, [before], [item])
    old, new = before["answers"], item.get("answers", {})
    for name in old.keys() - new.keys() | {n for n in new if n in old and old[n] != new[n]}:
        connection.execute(sa.delete(ANSWERS).where((ANSWERS.c.item_id == item["id"]) & (ANSWERS.c.annotator == name)))
    added = [{"item_id": item["id"], "annotator": n, "label": a["label"], "at": a["at"]}
             for n, a in new.items() if old.get(n) != a]
    if added:
        connection.execute(sa.insert(ANSWERS), added)
    old_skips, new_skips = set(before["skipped_by"]), set(item.get("skipped_by", []))
    for name in old_skips - new_skips:
        connection.execute(sa.delete(SKIPS).where((SKIPS.c.item_id == item["id"]) & (SKIPS.c.annotator == name)))
    if new_skips - old_skips:
        connection.execute(sa.insert(SKIPS), [{"item_id": item["id"], "annotator": n} for n in new_skips - old_skips])


def set_suggestion(connection: Connection, item: dict) -> int:
    """A new suggestion for a pending item nobody has answered yet (1), or nothing (0: answered or sent since)."""
    unanswered = ~sa.exists().where(ANSWERS.c.item_id == item["id"])
    return connection.execute(sa.update(ITEMS).where((ITEMS.c.id == item["id"]) & QUEUED & unanswered)
                              .values(**_suggestion(item))).rowcount


def is_known(connection: Connection, item_id: str) -> bool:
    """Whether a tweet was ever queued (pending or sent)."""
    return connection.execute(sa.select(ITEMS.c.id).where(ITEMS.c.id == item_id)).first() is not None


class KnownIds:
    """The ids a load passes over: every tweet ever queued (asked of the database id by id, not read whole) and
    the ones this load took."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.taken: set[str] = set()

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.taken or is_known(self.connection, str(item_id))

    def add(self, item_id: str) -> None:
        self.taken.add(item_id)


def drop_known(connection: Connection, items: list[dict], report: LoadReport) -> list[dict]:
    """The items not queued yet (another load may have queued some since they were read); the rest reported."""
    new = []
    for item in items:
        if is_known(connection, item["id"]):
            report.skipped.append({"row": item["row"], "reason": "already queued or sent"})
        else:
            new.append(item)
    return new


def decided_by(annotator: str) -> sa.ColumnElement:
    """The queued items the annotator's answer (or adjudication) decided: their next batch."""
    return QUEUED & (ITEMS.c.annotator == annotator) & ITEMS.c.label.is_not(None)


def mark_sent(connection: Connection, annotator: str, batch: str | None) -> None:
    """Take the annotator's decided items out of the queue: the next send's number, ``batch`` the inbox file of
    those decided as a class (those decided as unsure are set aside, in no batch)."""
    sends = counters(connection, lock=True).get("sends", 0) + 1
    connection.execute(sa.update(ITEMS).where(decided_by(annotator) & (ITEMS.c.label != UNSURE))
                       .values(send_no=sends, batch=batch))
    connection.execute(sa.update(ITEMS).where(decided_by(annotator)).values(send_no=sends, batch=None))
    set_counters(connection, {"sends": sends})


# -- each annotator's undo history -----------------------------------------------------------------------
def push_steps(connection: Connection, annotator: str, steps: list[dict]) -> None:
    """Add the steps a rule recorded; the history keeps the newest HISTORY_STEPS."""
    if not steps:
        return
    connection.execute(sa.insert(STEPS), [{"annotator": annotator, "item_id": s["id"], "kind": s["kind"],
                                           "before": s.get("previous", s.get("pair"))} for s in steps])
    oldest_kept = (sa.select(STEPS.c.step).where(STEPS.c.annotator == annotator).order_by(STEPS.c.step.desc())
                   .offset(HISTORY_STEPS - 1).limit(1).scalar_subquery())
    connection.execute(sa.delete(STEPS).where((STEPS.c.annotator == annotator) & (STEPS.c.step < oldest_kept)))


def pop_step(connection: Connection, annotator: str) -> dict | None:
    """Take the annotator's newest step off their history (None: nothing to undo)."""
    row = connection.execute(sa.select(STEPS).where(STEPS.c.annotator == annotator)
                             .order_by(STEPS.c.step.desc()).limit(1).with_for_update()).first()
    if row is None:
        return None
    connection.execute(sa.delete(STEPS).where(STEPS.c.step == row.step))
    key = "previous" if row.kind == "answer" else "pair"
    return {"id": row.item_id, "kind": row.kind, key: row.before}


def clear_steps(connection: Connection, annotator: str) -> None:
    connection.execute(sa.delete(STEPS).where(STEPS.c.annotator == annotator))


# -- counters, cursors, batches ----------------------------------------------------------------------------
def counters(connection: Connection, lock: bool = False) -> dict[str, int]:
    """The counters (``lock``: until the transaction ends, for a read-modify-write)."""
    query = sa.select(COUNTERS)
    return {r.name: r.value for r in connection.execute(query.with_for_update() if lock else query)}


def set_counters(connection: Connection, values: dict[str, int]) -> None:
    for name, value in values.items():
        if connection.execute(sa.update(COUNTERS).where(COUNTERS.c.name == name).values(value=value)).rowcount == 0:
            connection.execute(sa.insert(COUNTERS).values(name=name, value=value))


def cursor(connection: Connection, source: str) -> int:
    found = connection.execute(sa.select(CURSORS.c.last_row).where(CURSORS.c.source == source)).scalar()
    return found or 0


def set_cursor(connection: Connection, source: str, last_row: int) -> None:
    if connection.execute(sa.update(CURSORS).where(CURSORS.c.source == source)
                          .values(last_row=last_row)).rowcount == 0:
        connection.execute(sa.insert(CURSORS).values(source=source, last_row=last_row))


def add_batch(connection: Connection, record: dict) -> None:
    connection.execute(sa.insert(BATCHES).values(file=record["file"], annotator=record["annotator"],
                                                 rows=record["rows"], record=record))


def batches(connection: Connection) -> list[dict]:
    return [r.record for r in connection.execute(sa.select(BATCHES.c.record).order_by(BATCHES.c.batch_no))]


def rows_sent(connection: Connection, annotator: str) -> int:
    return connection.execute(sa.select(sa.func.coalesce(sa.func.sum(BATCHES.c.rows), 0))
                              .where(BATCHES.c.annotator == annotator)).scalar_one()
