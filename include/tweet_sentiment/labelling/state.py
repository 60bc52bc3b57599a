"""Where the labelling queue's state lives, and the lock every change of it takes.

Under ``<data root>/labelling/``: ``queue.json`` (pending and answered-but-unsent tweets, each annotator's undo
history, how far each source file was read), ``batches.json`` (every batch sent, with its correction rate) and
``answers/<send>.json`` (the tweets each send took out of the queue with all their answers, which the agreement
figures read). The API server and the scoring DAG both write it: every change is a read-modify-write under a lock
that holds across processes.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from tweet_sentiment.labelling.answers import upgrade
from tweet_sentiment.storage.fs import DataLayout, file_lock, list_dir, read_json, write_json_atomic


class QueueState:
    """The queue's files under one data root; one instance per process (its lock orders this process's threads)."""

    def __init__(self, layout: DataLayout) -> None:
        self.folder = layout.labelling
        self.queue_file = layout.labelling / "queue.json"
        self.batches_file = layout.labelling / "batches.json"
        self.answers_dir = layout.labelling / "answers"
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The queue's lock: this process's threads, then every process (the API server, a DAG task) by an flock
        beside the queue file (local data roots; on object storage the process lock alone)."""
        with self._lock, file_lock(self.folder / ".queue.lock"):
            yield

    def read(self) -> dict:
        """The queue now (its items upgraded to the current shape)."""
        if self.queue_file.exists():
            state = read_json(self.queue_file)
            state["items"] = [upgrade(i) for i in state["items"]]
            return state
        return {"items": [], "cursors": {}, "sent_ids": [], "history": {}, "overlap_counts": {}}

    def save(self, state: dict) -> None:
        write_json_atomic(self.queue_file, state)

    def batches(self) -> list[dict]:
        """Every batch sent so far, oldest first, with its correction rate."""
        return read_json(self.batches_file) if self.batches_file.exists() else []

    def add_batch(self, record: dict) -> None:
        write_json_atomic(self.batches_file, [*self.batches(), record])

    def answer_log(self) -> list[dict]:
        """Every tweet that left the queue, oldest send first (one file per send, so a send writes only its own)."""
        return [record for path in list_dir(self.answers_dir) for record in read_json(path)]

    def add_answers(self, records: list[dict]) -> None:
        write_json_atomic(self.answers_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:4]}.json",
                          records)
