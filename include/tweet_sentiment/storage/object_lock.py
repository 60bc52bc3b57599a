"""An exclusive lock on S3 object storage, where ``flock`` does not exist: a lock object written with a conditional
PUT.

S3 refuses ``PUT`` with ``If-None-Match: *`` when the key exists (HTTP 412), atomically: of two processes on any
hosts creating the lock object at once, exactly one succeeds. The object names its holder and the end of its
lease. A holder that died leaves it behind; once the lease has passed a waiter takes it over with a PUT conditional
on the stale object's ETag (``If-Match``), which again only one waiter wins. The holder releases it with a DELETE
conditional on its own ETag, so a holder whose lease ran out never deletes its successor's lock. Needs S3's
conditional writes (AWS since 2024; moto, MinIO) and s3fs's ``mode="create"``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
from collections.abc import Iterator

from upath import UPath

log = logging.getLogger(__name__)
# A claim + ingest holds the lock for seconds; a holder that died blocks the others this long at most.
LEASE_S = 600.0
# Waiters wait out a whole lease, so a dead holder's lock is always taken over, never a time-out.
WAIT_S = LEASE_S + 60.0


class LockTimeoutError(TimeoutError):
    """The lock stayed held by another process for longer than the caller waits."""


@contextlib.contextmanager
def object_lock(path: UPath, lease_s: float = LEASE_S, wait_s: float = WAIT_S, poll_s: float = 0.5) -> Iterator[None]:
    """Hold the lock object ``path`` (an ``s3://`` UPath) for the block; wait up to ``wait_s`` for it."""
    etag = _acquire(path, lease_s, wait_s, poll_s)
    try:
        yield
    finally:
        _release(path, etag)


def _acquire(path: UPath, lease_s: float, wait_s: float, poll_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        body = json.dumps({"holder": f"{socket.gethostname()}:{os.getpid()}", "expires": time.time() + lease_s})
        try:
            return _put(path, body, mode="create")
        except FileExistsError:
            pass
        held = _held(path)
        if held is not None and held[1]["expires"] < time.time():
            with contextlib.suppress(_LostRace):
                etag = _put(path, body, IfMatch=held[0])
                log.warning("took over %s: the lease of %s ended", path, held[1]["holder"])
                return etag
        if time.monotonic() > deadline:
            holder = held[1]["holder"] if held else "?"
            raise LockTimeoutError(f"{path} is held by {holder}; waited {wait_s:.0f} s")
        time.sleep(poll_s)


class _LostRace(Exception):
    pass


def _put(path: UPath, body: str, **condition: str) -> str:
    """One conditional PUT; the new object's ETag. A refused ``If-Match``: _LostRace."""
    try:
        out = path.fs.pipe_file(path.path, body.encode(), **condition)
    except OSError as exc:
        if exc.errno == errno.EINVAL and "IfMatch" in condition:  # s3fs's mapping of 412 PreconditionFailed
            raise _LostRace from exc
        raise
    return out["ETag"]


def _held(path: UPath) -> tuple[str, dict] | None:
    """(ETag, holder and lease) of the lock object; None if it was released meanwhile. The ETag is read first:
    a takeover conditional on it fails if the object changed after."""
    try:
        etag = path.fs.info(path.path, refresh=True)["ETag"]
        return etag, json.loads(path.fs.cat_file(path.path))
    except FileNotFoundError:
        return None


def _release(path: UPath, etag: str) -> None:
    bucket, key, _ = path.fs.split_path(path.path)
    try:
        path.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
    except OSError as exc:  # 412: our lease ran out and another holder took the lock; it is theirs now
        log.warning("lock %s was taken over before release (%s)", path, exc)
    path.fs.invalidate_cache(path.path)
