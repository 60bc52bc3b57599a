"""The vector cache: vectors by (namespace, hash of the cleaned text), append-only shards under one folder."""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from upath import UPath

from tweet_sentiment.storage.fs import is_hidden, list_dir, write_bytes_atomic
from tweet_sentiment.text import text_hash


class _FolderIndex:
    """The vectors of one cache folder held in memory, and the names of the shards they came from."""

    def __init__(self) -> None:
        self.shards: set[str] = set()
        self.vectors: dict[str, np.ndarray] = {}


# One index per cache folder for the whole process (bounded, least recently used dropped first): a new
# VectorCache on a folder already read lists it and reads only the shards written since.
_INDEXES: OrderedDict[str, _FolderIndex] = OrderedDict()
_INDEXES_HELD = 8
_INDEXES_LOCK = threading.RLock()
# Writes a caller does not wait for (a prediction answering before its vectors are on disk), in order.
_WRITER = ThreadPoolExecutor(1, thread_name_prefix="vector-cache-writer")


def wait_for_cache_writes() -> None:
    """Block until every write-behind shard queued so far is on disk."""
    _WRITER.submit(lambda: None).result()


def _read_shard(path: UPath) -> tuple[list[str], np.ndarray] | None:
    """A shard's hashes and vectors; None if it was merged away (by this or another process) since listed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    with np.load(io.BytesIO(raw)) as data:
        return data["hashes"].tolist(), data["vectors"]


def _size(path: UPath) -> int:
    """A shard's size in bytes (0 if it was merged away since listed: it sorts first and is skipped)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class VectorCache:
    """Vectors by text hash in one namespace (an embedding model, a lexicon feature set).

    Append-only shards, each written atomically, so a crash leaves a shard whole or absent. Once there are more
    than ``max_shards``, the smaller half of them is merged into one, so a stream of small writes (single
    predictions) never rewrites the big shards. The process keeps each folder's vectors in memory and, per
    ``VectorCache``, reads only the shards it has not seen; if a shard it read has gone (someone cleared the
    cache) it reads the folder again. With ``write_behind`` new vectors are usable at once and written to disk by
    a background thread (for request latency; a crash then loses only cache entries).
    """

    def __init__(self, folder: UPath, namespace: str, max_shards: int = 32, write_behind: bool = False) -> None:
        self.folder = folder / re.sub(r"[^A-Za-z0-9_.-]", "_", namespace)
        self.max_shards = max_shards
        self.write_behind = write_behind
        self._index: _FolderIndex | None = None

    def _shards(self) -> list[UPath]:
        return [p for p in list_dir(self.folder) if p.suffix == ".npz" and not is_hidden(p)]

    def _load(self) -> _FolderIndex:
        """This folder's index, brought up to date with the shards on disk once per VectorCache."""
        with _INDEXES_LOCK:
            if self._index is not None:
                return self._index
            key = str(self.folder)
            shards = {p.name: p for p in self._shards()}
            index = _INDEXES.pop(key, None)
            if index is None or not index.shards <= shards.keys():
                index = _FolderIndex()
            for name in sorted(shards.keys() - index.shards):
                shard = _read_shard(shards[name])
                if shard is not None:
                    index.vectors.update(zip(*shard, strict=True))
                    index.shards.add(name)
            _INDEXES[key] = index
            while len(_INDEXES) > _INDEXES_HELD:
                _INDEXES.popitem(last=False)
            self._index = index
            return index

    def __len__(self) -> int:
        return len(self._load().vectors)

    @property
    def dim(self) -> int | None:
        """Width of the cached vectors (None while the cache is empty)."""
        vectors = self._load().vectors
        return len(next(iter(vectors.values()))) if vectors else None

    def missing(self, hashes: Sequence[str]) -> list[str]:
        vectors = self._load().vectors
        return [h for h in dict.fromkeys(hashes) if h not in vectors]

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors; one new shard, so a crash leaves either all of them or none."""
        if not len(hashes):
            return
        index = self._load()
        hashes, vectors = list(hashes), vectors.astype(np.float32)
        with _INDEXES_LOCK:
            index.vectors.update(zip(hashes, vectors, strict=True))
        if self.write_behind:
            _WRITER.submit(self._persist, index, hashes, vectors)
        else:
            self._persist(index, hashes, vectors)

    def _persist(self, index: _FolderIndex, hashes: list[str], vectors: np.ndarray) -> None:
        name = self._write_shard(hashes, vectors)
        with _INDEXES_LOCK:
            index.shards.add(name)
        shards = self._shards()
        if len(shards) > self.max_shards:
            self._merge(index, sorted(shards, key=_size)[:len(shards) // 2 + 1])

    def _merge(self, index: _FolderIndex, shards: list[UPath]) -> None:
        """Write the vectors of ``shards`` as one shard, then delete them (a crash in between only duplicates)."""
        hashes, vectors, merged = [], [], []
        for path in shards:
            shard = _read_shard(path)
            if shard is not None:
                hashes.extend(shard[0])
                vectors.append(shard[1])
                merged.append(path)
        if len(merged) < 2:
            return
        stacked = np.concatenate(vectors)
        name = self._write_shard(hashes, stacked)
        with _INDEXES_LOCK:
            index.shards.add(name)
            index.vectors.update(zip(hashes, stacked, strict=True))
            index.shards.difference_update(shard.name for shard in merged)
        for shard in merged:
            with contextlib.suppress(FileNotFoundError):
                shard.unlink()

    def _write_shard(self, hashes: list[str], vectors: np.ndarray) -> str:
        buf = io.BytesIO()
        np.savez(buf, hashes=np.asarray(hashes, dtype="<U64"), vectors=vectors)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.npz"
        write_bytes_atomic(self.folder / name, buf.getvalue())
        return name

    def get(self, hashes: Sequence[str]) -> np.ndarray:
        vectors = self._load().vectors
        return np.stack([vectors[h] for h in hashes])

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts`` in order; ``compute`` runs once on the distinct texts not cached yet."""
        hashes = [text_hash(t) for t in texts]
        todo = self.missing(hashes)
        if todo:
            by_hash = dict(zip(hashes, texts, strict=True))
            self.put(todo, compute([by_hash[h] for h in todo]))
        return self.get(hashes)


# The memory-only cache of requests that must store nothing (a prediction): vectors by (namespace, hash), the
# least recently used dropped first past MEMORY_CACHE_ENTRIES (about 6 MB of 384-d vectors, 16 MB of 1024-d).
MEMORY_CACHE_ENTRIES = 4096
_MEMORY: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_MEMORY_LOCK = threading.Lock()


class MemoryVectorCache:
    """Vectors by text hash in one namespace, in this process's memory only and at most ``max_entries`` of
    them over all namespaces: nothing is read from or written to any folder."""

    dim = None  # widths are checked on each computed vector, not against a stored one

    def __init__(self, namespace: str, max_entries: int = MEMORY_CACHE_ENTRIES) -> None:
        self.namespace = namespace
        self.max_entries = max_entries

    def _held(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found = {}
        with _MEMORY_LOCK:
            for h in hashes:
                key = (self.namespace, h)
                if key in _MEMORY:
                    _MEMORY.move_to_end(key)
                    found[h] = _MEMORY[key]
        return found

    def _hold(self, vectors: dict[str, np.ndarray]) -> None:
        with _MEMORY_LOCK:
            for h, vector in vectors.items():
                _MEMORY[(self.namespace, h)] = vector
                _MEMORY.move_to_end((self.namespace, h))
            while len(_MEMORY) > self.max_entries:
                _MEMORY.popitem(last=False)

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts`` in order; ``compute`` runs once on the distinct texts not held."""
        hashes = [text_hash(t) for t in texts]
        distinct = dict(zip(hashes, texts, strict=True))
        found = self._held(list(distinct))
        todo = [h for h in distinct if h not in found]
        if todo:
            computed = dict(zip(todo, compute([distinct[h] for h in todo]).astype(np.float32), strict=True))
            self._hold(computed)
            found.update(computed)
        return np.stack([found[h] for h in hashes])


def memory_entries() -> int:
    """How many vectors the memory-only cache holds now."""
    with _MEMORY_LOCK:
        return len(_MEMORY)


def vector_cache(cache_root: UPath | None, namespace: str,
                 write_behind: bool = False) -> VectorCache | MemoryVectorCache:
    """The cache of ``namespace`` under ``cache_root``; with no folder, the bounded memory-only one."""
    if cache_root is None:
        return MemoryVectorCache(namespace)
    return VectorCache(cache_root, namespace, write_behind=write_behind)
