"""Claimed files that were in the batch of a run that died or failed: which runs, and how many with the file alone
in its batch, so that a file that makes every run fail is set aside (quarantined unread) after a bounded number
of them instead of wedging the loop, and a file that only shared a batch with it is not.

One small JSON file per claimed file name, ``processing/.failed_runs/<name>.json`` (``runs``: the batch ids of
the runs that failed with it; ``alone``: how many of them held it alone), written by the claim that takes a dead
batch over and removed when the file is archived. One file per name: no shared state to read, modify and write.
"""

from __future__ import annotations

import contextlib
from typing import TypedDict

from tweet_sentiment.storage.fs import Stream, read_json, remove_empty_dir, write_json_atomic

_FOLDER = ".failed_runs"


class Failures(TypedDict):
    runs: list[str]
    alone: int


def failures(stream: Stream, name: str) -> Failures:
    """The runs that died or failed with the claimed file ``name`` in their batch, and how many held it alone."""
    path = stream.processing / _FOLDER / f"{name}.json"
    return read_json(path) if path.exists() else Failures(runs=[], alone=0)


def record_failure(stream: Stream, dead_batch: str, name: str, new_name: str, alone: bool) -> Failures:
    """Count one more failed run (``dead_batch``; ``alone``: the file was all it held) for the file ``name``,
    moving on as ``new_name``; its count."""
    before = failures(stream, name)
    after = Failures(runs=[*before["runs"], dead_batch], alone=before["alone"] + alone)
    write_json_atomic(stream.processing / _FOLDER / f"{new_name}.json", after)
    if new_name != name:
        forget_failures(stream, name)
    return after


def forget_failures(stream: Stream, name: str) -> None:
    """Drop the count of a file that left the processing folder (archived)."""
    folder = stream.processing / _FOLDER
    (folder / f"{name}.json").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty, or gone already
        remove_empty_dir(folder)
