"""Taking files from an inbox: complete files only, claimed for one run by an atomic move, under a lock.

A run's claimed files sit in ``processing/<batch_id>/`` until it archives them; a run that died leaves its folder
behind, and the next claimer takes it over whole (its rows are ingested again, once). The same rules serve both
streams (``DataLayout.labelled_stream``, the default, and ``unlabelled_stream``), each with its own folders.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from upath import UPath

from tweet_sentiment.storage.batch_store import BatchStore
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


def claim(layout: DataLayout, batch_id: str, settle_s: float, stream: Stream | None = None) -> list[str]:
    """Move ready inbox files, and files left by runs that died, into ``processing/<batch_id>/``.

    The move is a rename, so two runs never claim the same file (one that another claimer took first is
    passed over). Calling it again for the same batch (a retried task) keeps what the batch already holds, and
    once the batch is ingested (its ledger entry exists) it takes nothing more: a re-run never adds files that
    would be archived without being ingested. A dead run's batch is taken over whole: its rows leave the
    stream's stores and its ledger entry is marked superseded, so they are ingested once, here. ``stream``:
    which inbox (the labelled one by default).
    """
    stream = stream or layout.labelled_stream
    target = stream.processing / batch_id
    if (stream.ledger / f"{batch_id}.json").exists():  # sealed; a folder made now would look like a dead run's
        return [p.name for p in list_dir(target)]
    target.mkdir(parents=True, exist_ok=True)
    for src in ready_files(stream.inbox, settle_s):
        _move_if_present(src, target)
    for orphan_dir in list_dir(stream.processing):
        if orphan_dir.name == batch_id or not orphan_dir.is_dir():
            continue
        _release_batch(stream, orphan_dir.name, batch_id)
        for src in list_dir(orphan_dir):
            _move_if_present(src, target)
        _remove_dir_if_empty(orphan_dir)
    return [p.name for p in list_dir(target)]


def archive_claimed(stream: Stream, batch_id: str) -> list[str]:
    """Move a batch's claimed files to ``archive/<date>/<batch_id>/`` (once its rows are stored); their names."""
    source = stream.processing / batch_id
    target = stream.archive / f"{datetime.now(UTC):%Y-%m-%d}" / batch_id
    files = list_dir(source)
    for path in files:
        move(path, target / path.name)
    if source.exists():
        remove_empty_dir(source)
    return [p.name for p in files]


def _move_if_present(src: UPath, folder: UPath) -> None:
    """Move ``src`` into ``folder`` under a free name; a file another claimer moved first is left to it."""
    with contextlib.suppress(FileNotFoundError):
        move(src, _free_name(folder, src.name))


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
        BatchStore(store).drop_batch(old_batch)
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
