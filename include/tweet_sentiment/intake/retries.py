"""Claimed files that were in the batch of a run that died or failed: which runs, so that a file that makes every
run fail is set aside (quarantined unread) after a bounded number of them instead of wedging the loop.

One small JSON file per claimed file name, ``processing/.failed_runs/<name>.json`` (the batch ids of the runs
that failed with it), written by the claim that takes a dead batch over and removed when the file is archived.
One file per name: no shared state to read, modify and write.
"""

from __future__ import annotations

import contextlib

from tweet_sentiment.storage.fs import Stream, read_json, remove_empty_dir, write_json_atomic

_FOLDER = ".failed_runs"


def failed_runs(stream: Stream, name: str) -> list[str]:
    """The batch ids of the runs that died or failed with the claimed file ``name`` in their batch."""
    path = stream.processing / _FOLDER / f"{name}.json"
    return read_json(path) if path.exists() else []


def record_failure(stream: Stream, dead_batch: str, name: str, new_name: str) -> list[str]:
    """Count one more failed run (``dead_batch``) for the file ``name``, moving on as ``new_name``; its runs."""
    runs = [*failed_runs(stream, name), dead_batch]
    write_json_atomic(stream.processing / _FOLDER / f"{new_name}.json", runs)
    if new_name != name:
        forget_failures(stream, name)
    return runs


def forget_failures(stream: Stream, name: str) -> None:
    """Drop the count of a file that left the processing folder (archived, or released from quarantine)."""
    folder = stream.processing / _FOLDER
    (folder / f"{name}.json").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty, or gone already
        remove_empty_dir(folder)
