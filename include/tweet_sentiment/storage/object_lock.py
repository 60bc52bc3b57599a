"""An exclusive lock on S3 object storage, where ``flock`` does not exist: a lock object written with a conditional
PUT.

S3 refuses ``PUT`` with ``If-None-Match: *`` when the key exists (HTTP 412), atomically: of two processes on any
hosts creating the lock object at once, exactly one succeeds. The object names its holder and the end of its
lease. A holder that died leaves it behind; once the lease has passed a waiter takes it over with a PUT conditional
on the stale object's ETag (``If-Match``), which again only one waiter wins. The holder releases it with a DELETE
conditional on its own ETag, so a holder whose lease ran out never deletes its successor's lock. Needs S3's
conditional writes (AWS since 2024; moto, MinIO) and s3fs's ``mode="create"``.

While the lock is held a heartbeat thread renews the lease (a PUT conditional on the holder's own ETag, every
third of the lease), so slow work under the lock keeps it for as long as it runs, and a dead holder blocks the
others for one short lease at most. A renewal refused (another process took the lock over: this holder was
stalled or cut off from S3 for a whole lease) or a release refused means the lock was lost while held: the block
ends in :class:`LockLostError` and its caller must not report its work as done (a retry redoes it under the lock).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from upath import UPath

log = logging.getLogger(__name__)
# A holder that died blocks the others this long at most; a live one renews it every third of it.
LEASE_S = 60.0
# How long a waiter waits for a live holder's slow work (a claim + ingest at a large history takes minutes).
WAIT_S = 660.0


class LockTimeoutError(TimeoutError):
    """The lock stayed held by another process for longer than the caller waits."""


class LockLostError(RuntimeError):
    """The lock was taken over by another process while this one held it (its lease could not be renewed)."""


@contextlib.contextmanager
def object_lock(path: UPath, lease_s: float = LEASE_S, wait_s: float = WAIT_S, poll_s: float = 0.5,
                renew_s: float | None = None) -> Iterator[None]:
    """Hold the lock object ``path`` (an ``s3://`` UPath) for the block, its lease renewed every ``renew_s``
    (default a third of the lease); wait up to ``wait_s`` for it. LockLostError at the end if it was lost."""
    heartbeat = _Heartbeat(path, _acquire(path, lease_s, wait_s, poll_s), lease_s, renew_s or lease_s / 3)
    heartbeat.start()
    try:
        yield
    finally:
        etag = heartbeat.stop()
        released = etag is not None and _release(path, etag)
    if not released:
        raise LockLostError(f"{path} was taken over by another holder while this one held it (its lease could not "
                            "be renewed in time); the work done under it is not reported as done")


class _Heartbeat(threading.Thread):
    """Renews the lease of a held lock until stopped; ``etag`` None once a renewal was refused (lost)."""

    def __init__(self, path: UPath, etag: str, lease_s: float, every_s: float) -> None:
        super().__init__(name=f"lease-{path.name}", daemon=True)
        self.path, self.etag, self.lease_s, self.every_s = path, etag, lease_s, every_s
        self._halt = threading.Event()
        self._renewing = threading.Lock()

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            with self._renewing:
                if self.etag is None or self._halt.is_set():
                    return
                try:
                    self.etag = _put(self.path, _body(self.lease_s), IfMatch=self.etag)
                except _LostRace:
                    log.error("lost the lock %s: another holder took it over", self.path)
                    self.etag = None
                except OSError as exc:  # S3 unreachable for now: the next beat tries again within the lease
                    log.warning("could not renew the lease of %s (%s)", self.path, exc)

    def stop(self) -> str | None:
        """Stop renewing (waiting for a renewal under way); the ETag the lock object has, None if lost."""
        self._halt.set()
        with self._renewing:
            return self.etag


def _body(lease_s: float) -> str:
    return json.dumps({"holder": f"{socket.gethostname()}:{os.getpid()}", "expires": time.time() + lease_s})


def _acquire(path: UPath, lease_s: float, wait_s: float, poll_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        body = _body(lease_s)
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


def _release(path: UPath, etag: str) -> bool:
    """Delete the lock object if it is still ours; False if another holder took it over (it is theirs now)."""
    bucket, key, _ = path.fs.split_path(path.path)
    try:
        path.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
        return True
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # s3fs's mapping of 412: our lease ran out and another holder took the lock
            log.warning("lock %s was taken over before release (%s)", path, exc)
            return False
        log.warning("could not release %s (%s): it ends with its lease", path, exc)  # S3 unreachable: still ours
        return True
    finally:
        path.fs.invalidate_cache(path.path)
