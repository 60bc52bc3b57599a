"""Move the labelling state of the JSON-file era into the state database (tables.py).

Before the database, ``<data root>/labelling/`` held ``queue.json`` (pending and unsent tweets, every sent id,
undo histories, source cursors, overlap counts), ``batches.json`` and ``answers/<send>.json`` (each send's
tweets with all their answers). :func:`migrate_labelling` writes all of it in one transaction, then renames the
files to ``*.migrated`` and removes their lock file (only after the commit: a crash in between leaves the files,
and a second run passes over what the first wrote). Running it again, or on a data root without such files,
changes nothing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.labelling import state
from tweet_sentiment.labelling.answers import upgrade
from tweet_sentiment.labelling.tables import BATCHES, ITEMS, STEPS
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, list_dir, read_json

MIGRATED_SUFFIX = ".migrated"
log = logging.getLogger(__name__)


def _logged_item(record: dict) -> dict:
    """A queue item from an answer-log record (its text and source columns were never logged)."""
    return {"id": record["id"], "suggested": record.get("suggested"), "pair": record.get("pair"),
            "answers": {name: {"label": label, "at": ""} for name, label in record.get("answers", {}).items()},
            "skipped_by": record.get("skipped_by", []), "adjudication": record.get("adjudication"),
            "label": record.get("final"), "annotator": record.get("decided_by"), "batch": record.get("batch")}


def _insert_new(connection: Connection, items: list[dict], known: set[str], send_no: int | None) -> int:
    """Insert the items the database lacks (a second run passes over the first's); how many."""
    new = [i for i in items if i["id"] not in known]
    known.update(i["id"] for i in new)
    state.insert_items(connection, new, loaded_from=0, send_no=send_no)
    return len(new)


def _write(connection: Connection, queue: dict, logs: list[list[dict]], batches: list[dict]) -> dict:
    known = set(connection.execute(sa.select(ITEMS.c.id)).scalars())
    counts = state.counters(connection)
    sends = counts.get("sends", 0)
    sent = sum(_insert_new(connection, [_logged_item(r) for r in log], known, sends + n)
               for n, log in enumerate(logs, start=1))
    sent += _insert_new(connection, [{"id": i, "label": None} for i in queue.get("sent_ids", [])], known, sends)
    queued = _insert_new(connection, [upgrade(i) for i in queue.get("items", [])], known, None)
    for annotator, steps in queue.get("history", {}).items():
        if connection.execute(sa.select(STEPS.c.step).where(STEPS.c.annotator == annotator)).first() is None:
            state.push_steps(connection, annotator, steps)
    for source, last_row in queue.get("cursors", {}).items():
        state.set_cursor(connection, source, max(last_row, state.cursor(connection, source)))
    old_counts = queue.get("overlap_counts", {})
    state.set_counters(connection, {"sends": sends + len(logs) if sent else sends,
                                    **{k: max(counts.get(k, 0), old_counts.get(k, 0)) for k in ("loaded", "overlap")}})
    have = set(connection.execute(sa.select(BATCHES.c.file)).scalars())
    new_batches = [b for b in batches if b["file"] not in have]
    for record in new_batches:
        state.add_batch(connection, record)
    return {"queued": queued, "sent": sent, "batches": len(new_batches)}


def migrate_labelling(layout: DataLayout, db_url: str) -> dict:
    """Write the JSON-file labelling state under ``layout`` into the state database ``db_url``, then rename the
    files; what was written (tweets queued, tweets sent, batches)."""
    folder = layout.labelling
    queue_file, batches_file, answers_dir = folder / "queue.json", folder / "batches.json", folder / "answers"
    log_files = [p for p in list_dir(answers_dir) if p.suffix == ".json"]
    if not (queue_file.exists() or batches_file.exists() or log_files):
        return {"queued": 0, "sent": 0, "batches": 0}
    queue = read_json(queue_file) if queue_file.exists() else {}
    batches = read_json(batches_file) if batches_file.exists() else []
    log.info("labelling: moving %d queued tweets, %d sends and %d batches into the state database",
             len(queue.get("items", [])), len(log_files), len(batches))
    with write_transaction(db_url) as connection:
        written = _write(connection, queue, [read_json(p) for p in log_files], batches)
    for path in (queue_file, batches_file, answers_dir):
        if path.exists():
            path.rename(path.with_name(path.name + MIGRATED_SUFFIX))
    lock_file = folder / ".queue.lock"  # the files' lock: the database's transactions replace it
    if lock_file.exists():
        lock_file.unlink()
    log.info("labelling: written %s; the old files renamed *%s", written, MIGRATED_SUFFIX)
    return written
