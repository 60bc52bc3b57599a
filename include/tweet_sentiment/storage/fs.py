"""The data root and its folders, addressed as UPath so a local folder and object storage work alike.

Writes that others read (models, pointers, caches, CSVs for the inbox) are atomic: on a local folder a
temporary sibling is renamed over the target; on object storage a single PUT is already atomic.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from upath import UPath

from tweet_sentiment.storage.object_lock import object_lock


def as_path(location: str | os.PathLike) -> UPath:
    """A UPath for a local folder (``var/``) or an fsspec URL (``s3://bucket/prefix``, ``memory://x``)."""
    return UPath(location)


def is_local(path: UPath) -> bool:
    return isinstance(path, Path)


def require_bucket(path: UPath) -> None:
    """On S3, an error naming the bucket when it does not exist (a mkdir would otherwise create a bucket from a
    mistyped data root) or when S3 refuses the credentials for it."""
    if is_local(path) or path.protocol not in ("s3", "s3a"):
        return
    bucket = path.fs.split_path(path.path)[0]
    try:
        path.fs.call_s3("head_bucket", Bucket=bucket)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"the bucket {bucket!r} of {path} does not exist: create it, or correct "
                                "TWEET_SENTIMENT_DATA_ROOT / TWEET_SENTIMENT_CACHE_ROOT") from exc
    except PermissionError as exc:
        raise PermissionError(f"S3 refused these credentials for the bucket {bucket!r} of {path}: check "
                              "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the role)") from exc


def write_bytes_atomic(path: UPath, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    if not is_local(path):  # one PUT; no folders to make (a mkdir on S3 could only create a bucket)
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: UPath, obj: Any) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8"))


def read_json(path: UPath) -> Any:
    return json.loads(path.read_bytes())


def move(src: UPath, dst: UPath) -> UPath:
    """Move one file; a rename on a local folder, so a claim by one run is atomic against another."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if is_local(src) and is_local(dst):
        os.rename(src, dst)
    else:
        src.fs.mv(src.path, dst.path)
    return dst


def list_dir(folder: UPath) -> list[UPath]:
    """Entries of ``folder`` sorted by name; none when it does not exist (object storage has no empty folders)."""
    if not folder.exists():
        return []
    return sorted(folder.iterdir(), key=lambda p: p.name)


def remove_empty_dir(folder: UPath) -> None:
    """Remove a folder that has been emptied; an error if it still holds something.

    Never recursive (``UPath.rmdir`` is, off a local disk). On object storage a folder without objects is
    already gone, so there is nothing to remove.
    """
    if is_local(folder):
        folder.rmdir()
        return
    if not folder.exists():
        return
    if any(folder.iterdir()):
        raise OSError(f"{folder} is not empty")
    folder.fs.rmdir(folder.path)


def is_hidden(path: UPath) -> bool:
    """Files being written (``.name.tmp``) and other dot-files are nobody's input yet."""
    return path.name.startswith(".")


@contextlib.contextmanager
def file_lock(path: UPath) -> Iterator[None]:
    """Hold an exclusive lock across processes: an ``flock`` on ``path`` (released by the kernel if the process
    dies); on S3 a lock object written with a conditional PUT, across hosts (see object_lock). Other object
    stores (``memory://``, one process) have neither: there it is a no-op and the caller's other guards must hold."""
    if not is_local(path):
        with object_lock(path) if path.protocol in ("s3", "s3a") else contextlib.nullcontext():
            yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Stream(NamedTuple):
    """The folders one inbox's files pass through: arriving, claimed per batch, their ledger and quarantine, the
    archive, the Delta tables of the batches' rows (``stores``: a table each; ``tables``: a folder of tables;
    a dead batch's rows are deleted from both when it is taken over),
    and folders of other per-batch files made from a batch's rows (``<batch_id>.<ext>``: the label check's flagged
    rows and record), dropped with them."""

    name: str
    inbox: UPath
    processing: UPath
    ledger: UPath
    quarantine: UPath
    archive: UPath
    stores: tuple[UPath, ...]
    derived: tuple[UPath, ...] = ()
    # folders of Delta tables holding the stream's rows by ``batch_id`` (a dead batch's rows are deleted from each)
    tables: tuple[UPath, ...] = ()


class DataLayout:
    """Where each kind of data lives under the one data root."""

    def __init__(self, root: str | os.PathLike, embeddings: str | os.PathLike | None = None) -> None:
        self.root = as_path(root)
        self._embeddings = as_path(embeddings) if embeddings else self.root / "embeddings"

    @property
    def inbox(self) -> UPath:
        return self.root / "inbox"

    @property
    def processing(self) -> UPath:
        return self.root / "processing"

    @property
    def archive(self) -> UPath:
        return self.root / "archive"

    @property
    def quarantine(self) -> UPath:
        return self.root / "quarantine"

    @property
    def labelled(self) -> UPath:
        return self.root / "labelled"

    @property
    def embeddings(self) -> UPath:
        """The feature cache; may live outside the data root (shared by several data roots)."""
        return self._embeddings

    @property
    def registry(self) -> UPath:
        return self.root / "registry"

    @property
    def reports(self) -> UPath:
        return self.root / "reports"

    @property
    def ledger(self) -> UPath:
        return self.root / "ledger"

    @property
    def labelling(self) -> UPath:
        """The annotators' queue and the record of the batches they sent."""
        return self.root / "labelling"

    @property
    def labels(self) -> UPath:
        """Label quality: flagged rows (held or down-weighted) per batch, their reviews, the sent files' digests."""
        return self.root / "labels"

    @property
    def feed_state(self) -> UPath:
        return self.root / "feed_state.json"

    @property
    def unlabelled(self) -> UPath:
        """The inbox of unlabelled CSVs to score (``make feed-unlabelled``, any producer)."""
        return self.root / "unlabelled"

    @property
    def scoring(self) -> UPath:
        """The scoring stream's own processing, ledger, quarantine, archive, and its ingested rows."""
        return self.root / "scoring"

    @property
    def stream(self) -> UPath:
        """The scored stream's Delta tables: its rows, their vectors and scores, the counts of the mood, the
        manifests of what is stored and scored (``storage/scored_stream.py``)."""
        return self.root / "stream"

    @property
    def unlabelled_rows(self) -> UPath:
        """Before the stream's tables: accepted unlabelled rows, one parquet file per batch (read only by the
        migration, ``monitoring/stream_migration.py``)."""
        return self.scoring / "rows"

    @property
    def scores(self) -> UPath:
        """Before the stream's tables: the scores, one parquet file per batch (read only by the migration)."""
        return self.root / "scores"

    @property
    def mood(self) -> UPath:
        """The mood series, the drift check and their pictures."""
        return self.root / "mood"

    @property
    def labelled_stream(self) -> Stream:
        return Stream("labelled", self.inbox, self.processing, self.ledger, self.quarantine, self.archive,
                      (self.labelled,), (self.labels / "flagged", self.labels / "checks"))

    @property
    def unlabelled_stream(self) -> Stream:
        s = self.scoring
        return Stream("unlabelled", self.unlabelled, s / "processing", s / "ledger", s / "quarantine", s / "archive",
                      (), tables=(self.stream,))

    def ensure(self) -> None:
        """Create every folder (a no-op where they exist); on S3 the buckets must exist already."""
        require_bucket(self.root)
        require_bucket(self.embeddings)
        for folder in (self.inbox, self.processing, self.archive, self.quarantine, self.labelled,
                       self.embeddings, self.registry, self.reports, self.ledger, self.labelling, self.labels,
                       self.unlabelled, self.stream, self.mood):
            folder.mkdir(parents=True, exist_ok=True)
