"""Backup and restore of a data root: a copy of its files, the labelled table's log first.

A copy, not the Delta table's own ``restore(version)``: the data root also holds the registry, the ledgers, the
label reviews, the archive and the scoring stream's files, which have no version history, and a backup must
survive the loss of the disk or bucket it was taken from. Copying the labelled table's ``_delta_log`` before
its data files makes the copy a consistent version of the table even while a cycle commits: every data file a
copied log entry names exists (Delta never rewrites a data file, and the housekeeping's vacuum only deletes
files no version within the retention names); a data file of a later commit is copied but named by no log
entry, so it is never read. To undo one bad commit of the labelled table only (within the retention), its
version history is enough: ``DeltaRows.restore(version)``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from upath import UPath

from tweet_sentiment.storage.fs import is_local, list_dir

Progress = Callable[[str], None]
_FIRST = ("labelled/_delta_log",)  # copied before everything else (see the module doc)
_EVERY = 1000  # a progress line per this many files


def copy_root(source: UPath, target: UPath, progress: Progress = print) -> int:
    """Copy every file under ``source`` to the same place under ``target`` (local or s3://), the labelled
    table's log first; the number of files copied."""
    files = _files(source)
    # the log's pointer to its newest checkpoint before the log itself: it never names a checkpoint not copied
    first = sorted((f for f in files if _relative(source, f).startswith(_FIRST)),
                   key=lambda f: f.name != "_last_checkpoint")
    copied = 0
    for path in [*first, *(f for f in files if f not in set(first))]:
        destination = target / _relative(source, path)
        if is_local(destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as src, destination.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        copied += 1
        if copied % _EVERY == 0:
            progress(f"{copied}/{len(files)} files copied")
    progress(f"{copied} files copied from {source} to {target}")
    return copied


def restore_root(backup: UPath, data_root: UPath, progress: Progress = print) -> int:
    """Copy a backup into an empty data root (stop the DAGs first); the number of files copied."""
    if _files(data_root):
        raise FileExistsError(f"{data_root} is not empty: restore into an empty data root (move the old one away)")
    return copy_root(backup, data_root, progress)


def _files(root: UPath) -> list[UPath]:
    found: list[UPath] = []
    for entry in list_dir(root):
        found.extend(_files(entry) if entry.is_dir() else [entry])
    return found


def _relative(root: UPath, path: UPath) -> str:
    return path.path[len(root.path):].lstrip("/")
