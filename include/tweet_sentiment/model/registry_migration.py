"""Migration of a registry written before the state database: ``champion.json`` (pointer and whole history) and
the versions' card files become the index and pointer tables (model/registry_index.py). Idempotent: versions
already indexed are left alone, and the pointer and history are copied only while the database has no pointer.
``champion.json`` is left in place (nothing reads it any more)."""

from __future__ import annotations

import sqlalchemy as sa

from tweet_sentiment.model.registry_index import CHAMPION, HISTORY, HISTORY_FIELDS, VERSIONS, index_row
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, list_dir, read_json

LEGACY_POINTER = "champion.json"


def migrate_registry(layout: DataLayout, db_url: str) -> dict:
    """Index every complete version (a card file) and copy the legacy pointer and history; what was added."""
    pointer_file = layout.registry / LEGACY_POINTER
    pointer = read_json(pointer_file) if pointer_file.exists() else {"history": []}
    cards = [legacy_status(read_json(folder / "card.json"), pointer)
             for folder in list_dir(layout.registry / "versions") if (folder / "card.json").exists()]
    with write_transaction(db_url) as connection:
        known = set(connection.execute(sa.select(VERSIONS.c.version)).scalars())
        new = [index_row(card) for card in cards if card["version"] not in known]
        if new:
            connection.execute(sa.insert(VERSIONS), new)
        has_pointer = connection.execute(sa.select(CHAMPION.c.version)).first() is not None
        history = [] if has_pointer else pointer["history"]
        if history:
            connection.execute(sa.insert(HISTORY), [{f: e.get(f) for f in HISTORY_FIELDS} for e in history])
        if not has_pointer and pointer.get("version"):
            connection.execute(sa.insert(CHAMPION).values(id=1, version=pointer["version"],
                                                          since=pointer.get("since") or history[-1]["at"]))
    return {"versions_indexed": len(new), "history_entries": len(history),
            "champion": pointer.get("version") if not has_pointer else None}


def legacy_status(card: dict, pointer: dict) -> dict:
    """``card`` with the status the legacy pointer gave it: ``champion`` (with the decision's time and reason) for
    the version it names, ``retired`` for one it named before (the card files were written after the pointer, so
    a crash in between left them behind it); other cards as written."""
    version = card.get("version")
    history = pointer.get("history", [])
    if version is not None and version == pointer.get("version"):
        decided = next((e for e in reversed(history) if e["version"] == version), {})
        return {**card, "status": "champion", "decided_at": decided.get("at", card.get("decided_at")),
                "reason": decided.get("reason", card.get("reason"))}
    if card.get("status") == "champion" or any(e["version"] == version for e in history):
        return {**card, "status": "retired"}
    return card
