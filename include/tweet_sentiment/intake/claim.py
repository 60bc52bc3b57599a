"""Taking files from an inbox: complete files only, claimed for one run by an atomic move, under a lock.

A run's claimed files sit in ``processing/<batch_id>/`` until it archives them. A claim takes at most
``ClaimLimits.max_files`` files and ``max_bytes`` bytes; the rest waits for the next run. A run that died leaves its
folder behind and the next claimer takes it over alone (never with new inbox files): its rows are ingested again,
once. A file claimed by runs that died or failed is counted (``retries.py``); a dead batch that failed before is
halved, the rest going back to the inbox, so a file that kills every run ends alone and, after ``max_failed_runs``
runs failed with it alone, is quarantined unread. A batch whose archiving began (a marker names its archive folder) is
never taken over: its archiving is finished. The same rules serve both streams (``DataLayout.labelled_stream``, the
default, and ``unlabelled_stream``), each with its own folders.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from upath import UPath

from tweet_sentiment.intake.retries import failures, forget_failures, record_failure
from tweet_sentiment.storage.archive import archive_file
from tweet_sentiment.storage.fs import (
    DataLayout,
    Stream,
    file_lock,
    is_hidden,
    is_local,
    list_dir,
    move,
    read_json,
    remove_empty_dir,
    write_json_atomic,
)
from tweet_sentiment.storage.tables import delete_batch, drop_batch_rows


def batch_id_for(run_id: str) -> str:
    """A file-name-safe batch id from an Airflow run id (``manual__2026-…+00:00`` → ``manual__2026-…_00_00``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def inbox_files(inbox: UPath, settle_s: float) -> tuple[list[UPath], list[UPath]]:
    """(complete, still arriving) inbox entries; dot-files (being written as temp + rename) are neither.

    Complete means unchanged for ``settle_s`` seconds (on object storage an object is whole once it exists).
    """
    now = time.time()
    ready, arriving = [], []
    for entry in list_dir(inbox):
        if is_hidden(entry):
            continue
        settling = is_local(entry) and not entry.is_symlink() and now - entry.stat().st_mtime < settle_s
        (arriving if settling else ready).append(entry)
    return ready, arriving


def ready_files(inbox: UPath, settle_s: float) -> list[UPath]:
    """Inbox entries that are complete: not dot-files (being written) and unchanged for ``settle_s`` seconds."""
    return inbox_files(inbox, settle_s)[0]


_ARCHIVING = ".archiving"  # processing/.archiving/<batch_id>.json: the archive folder of a batch being archived


@dataclass(frozen=True)
class ClaimLimits:
    """How much one claim takes: files and bytes (at least one file, however large: the size check refuses it), and
    after how many failed runs with it alone in the batch a claimed file is quarantined unread."""

    max_files: int = 100
    max_bytes: int = 200 * 2**20
    max_failed_runs: int = 3


def claim(layout: DataLayout, batch_id: str, settle_s: float, stream: Stream | None = None,
          limits: ClaimLimits = ClaimLimits()) -> list[str]:
    """Claim for ``batch_id`` a dead run's batch (taken over alone) or, if there is none, ready inbox files
    within ``limits``; the names the batch holds.

    The move is a rename, so two runs never claim the same file (one that another claimer took first is
    passed over). Calling it again for the same batch (a retried task) keeps what the batch already holds, and
    once the batch is ingested (its ledger entry exists) it takes nothing more: a re-run never adds files that
    would be archived without being ingested. ``stream``: which inbox (the labelled one by default).
    """
    stream = stream or layout.labelled_stream
    target = stream.processing / batch_id
    if (stream.ledger / f"{batch_id}.json").exists():  # sealed; a folder made now would look like a dead run's
        return [p.name for p in list_dir(target)]
    held = list_dir(target)
    if held:  # a retried claim: the batch keeps what it holds, and grows no more
        return [p.name for p in held]
    target.mkdir(parents=True, exist_ok=True)
    if not _take_over_one(stream, batch_id):
        for src in _within_limits(ready_files(stream.inbox, settle_s), limits):
            _move_if_present(src, target)
    names = [p.name for p in list_dir(target)]
    if not names:  # an empty folder left behind would look like a dead run's batch
        _remove_dir_if_empty(target)
    return names


def _within_limits(files: list[UPath], limits: ClaimLimits) -> list[UPath]:
    """The first files, by name, that fit in ``limits`` (the first file always: one file is never too many)."""
    taken, total = [], 0
    for path in files[:limits.max_files]:
        size = path.stat().st_size if is_local(path) else path.fs.size(path.path)
        if taken and total + size > limits.max_bytes:
            break
        taken.append(path)
        total += size
    return taken


def _take_over_one(stream: Stream, batch_id: str) -> bool:
    """Take over the first dead run's batch, if any (True); a batch being archived is archived instead.

    Its rows leave the stream's stores and its ledger entry is marked superseded, so they are ingested once,
    here. Each file counts one more failed run; a batch that failed before (in an earlier take-over) is halved,
    the rest going back to the inbox (a file that kills every run ends alone)."""
    target = stream.processing / batch_id
    for dead in list_dir(stream.processing):
        if dead.name == batch_id or is_hidden(dead) or not dead.is_dir() or _finish_archiving(stream, dead.name):
            continue
        files = list_dir(dead)
        if not files:
            _remove_dir_if_empty(dead)
            continue
        _release_batch(stream, dead.name, batch_id)
        failed_before = any(failures(stream, f.name)["runs"] for f in files)
        keep = files[:(len(files) + 1) // 2] if failed_before else files
        for src in files:
            dst = _free_name(target if src in keep else stream.inbox, src.name)
            record_failure(stream, dead.name, src.name, dst.name, alone=len(files) == 1)
            _move_if_present(src, dst.parent, dst.name)
        _remove_dir_if_empty(dead)
        return True
    return False


def archive_claimed(stream: Stream, batch_id: str) -> list[str]:
    """Move a batch's claimed files to ``archive/<date>/<batch_id>/``, gzip-compressed (once its rows are stored);
    the names there.

    Resumable: the archive folder is first written to a marker (``processing/.archiving/<batch_id>.json``), so a
    run that dies mid-way is finished by a retry or by the next claim, which never takes such a batch over."""
    marker = stream.processing / _ARCHIVING / f"{batch_id}.json"
    source = stream.processing / batch_id
    if marker.exists():
        folder = read_json(marker)["archive_folder"]
    else:
        folder = f"{datetime.now(UTC):%Y-%m-%d}/{batch_id}"
        if source.exists():
            write_json_atomic(marker, {"archive_folder": folder})
    target = stream.archive / folder
    for path in list_dir(source):
        archive_file(path, target)
        forget_failures(stream, path.name)
    if source.exists():
        remove_empty_dir(source)
    marker.unlink(missing_ok=True)
    _remove_dir_if_empty(marker.parent)
    return [p.name for p in list_dir(target)]


def _finish_archiving(stream: Stream, batch_id: str) -> bool:
    """Finish the archiving of a batch whose run died while archiving it (True); False if it had not begun."""
    if not (stream.processing / _ARCHIVING / f"{batch_id}.json").exists():
        return False
    archive_claimed(stream, batch_id)
    return True


def _move_if_present(src: UPath, folder: UPath, name: str | None = None) -> None:
    """Move ``src`` into ``folder`` (as ``name``, else under a free name); a file another claimer moved first is
    left to it."""
    with contextlib.suppress(FileNotFoundError):
        move(src, folder / name if name else _free_name(folder, src.name))


def _remove_dir_if_empty(folder: UPath) -> None:
    # OSError: gone already, or not empty: another claimer is taking it over at the same moment.
    with contextlib.suppress(OSError):
        remove_empty_dir(folder)


@contextlib.contextmanager
def claim_lock(layout: DataLayout, stream: Stream | None = None) -> Iterator[None]:
    """Hold a stream's claim lock: claim + ingest of one run never interleave with another's.

    Without it a second claimer could take over a batch that its run is still ingesting, and both would store
    its rows. On a local folder it is an ``flock`` (released by the kernel if the process dies), on S3 a lock
    object written with a conditional PUT (datafs.file_lock), so claimers on different hosts exclude each other.
    """
    name = ".claim.lock" if stream is None or stream.name == "labelled" else f".claim-{stream.name}.lock"
    with file_lock(layout.root / name):
        yield


def _release_batch(stream: Stream, old_batch: str, new_batch: str) -> None:
    for store in stream.stores:
        delete_batch(store, old_batch)
    for folder in stream.tables:
        drop_batch_rows(folder, old_batch)
    for folder in stream.derived:  # the label check's held rows of the dead batch: its rows come again
        for path in list_dir(folder):
            if path.stem == old_batch:
                path.unlink()
    old_ledger = stream.ledger / f"{old_batch}.json"
    if old_ledger.exists():
        write_json_atomic(old_ledger, {**read_json(old_ledger), "superseded_by": new_batch})
    old_quarantine = stream.quarantine / old_batch
    if old_quarantine.exists():
        for path in list_dir(old_quarantine):
            path.unlink()
        remove_empty_dir(old_quarantine)


def _free_name(folder: UPath, name: str) -> UPath:
    candidate, n = folder / name, 1
    while candidate.exists() or candidate.is_symlink():
        candidate = folder / f"{n}-{name}"
        n += 1
    return candidate
