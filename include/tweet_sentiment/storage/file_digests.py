"""The sha256 of every file a live batch ingested, so the same file sent twice is recognised as a duplicate batch.

One JSON index (digest → file name and batch id), written by the ingest under the claim lock before the batch's
ledger entry. An entry counts only while its batch is live: its ledger entry exists (the ingest finished) and no
later run took the batch over (``superseded_by``: its rows were dropped and ingested again elsewhere), so a run
that died, or a retry of the same batch, never makes a file the duplicate of itself.
"""

from __future__ import annotations

import hashlib

from upath import UPath

from tweet_sentiment.storage.fs import read_json, write_json_atomic


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileDigests:
    """The index at ``index``; ``ledger`` is the stream's ledger folder (which batches are live)."""

    def __init__(self, index: UPath, ledger: UPath) -> None:
        self.index = index
        self.ledger = ledger

    def _entries(self) -> dict[str, dict]:
        return read_json(self.index) if self.index.exists() else {}

    def live(self, batch_id: str) -> dict[str, str]:
        """digest → "<file>, ingested in batch <id>" for the files of live batches other than ``batch_id``."""
        entries = self._entries()
        live = {b for b in {e["batch_id"] for e in entries.values()} - {batch_id} if self._is_live(b)}
        return {key: f"{e['file']}, ingested in batch {e['batch_id']}"
                for key, e in entries.items() if e["batch_id"] in live}

    def _is_live(self, batch_id: str) -> bool:
        ledger = self.ledger / f"{batch_id}.json"
        return ledger.exists() and "superseded_by" not in read_json(ledger)

    def record(self, batch_id: str, files: dict[str, str]) -> None:
        """Add ``files`` (digest → file name) of ``batch_id``; an entry of a batch no longer live is replaced."""
        if files:
            write_json_atomic(self.index, {**self._entries(), **{key: {"file": name, "batch_id": batch_id}
                                                                  for key, name in files.items()}})
