"""The archive of ingested files: each regular file gzip-compressed on its way in, and read back whole.

A claimed CSV costs about a third of its size there. The compressed file is written under a temporary name and
renamed into place, and the source removed only then, so a run that dies mid-way is finished by a retry.
"""

from __future__ import annotations

import gzip
import shutil

from upath import UPath

from tweet_sentiment.storage.fs import is_local, move, write_bytes_atomic

SUFFIX = ".gz"


def archive_file(src: UPath, folder: UPath) -> UPath:
    """Move ``src`` into ``folder``, gzip-compressed as ``<name>.gz`` if it is a regular file (a link, a folder
    or a file compressed already moves as it is); the archived path."""
    if src.is_symlink() or not src.is_file() or src.name.endswith(SUFFIX):
        return move(src, folder / src.name)
    target = folder / f"{src.name}{SUFFIX}"
    partial = folder / f".{target.name}.tmp" if is_local(folder) else target  # on S3 one upload is atomic
    if is_local(folder):
        folder.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as raw, partial.open("wb") as out, gzip.GzipFile(src.name, "wb", 6, out, mtime=0) as gz:
        shutil.copyfileobj(raw, gz, 1 << 20)
    if partial != target:
        move(partial, target)
    src.unlink()
    return target


def archive_bytes(folder: UPath, name: str, data: bytes) -> UPath:
    """Write ``data``, a file named ``name``, into ``folder`` as :func:`archive_file` leaves it (a bulk load)."""
    target = folder / f"{name}{SUFFIX}"
    write_bytes_atomic(target, gzip.compress(data, 6, mtime=0))
    return target


def read_archived(path: UPath) -> bytes:
    """The bytes of an archived file as it was sent (decompressed if it was archived compressed)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(SUFFIX) else data


def original_name(path: UPath) -> str:
    """The name the archived file had when it was sent."""
    return path.name.removesuffix(SUFFIX)
