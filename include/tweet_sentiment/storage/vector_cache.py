"""The vector cache: vectors by (namespace, hash of the cleaned text), one Lance dataset per namespace.

A namespace is an embedding model or a lexicon feature set. Its dataset ``<cache_root>/<namespace>.lance`` holds
rows of the text's SHA-256 as 32 bytes and its vector (float16 unless asked), with a BTREE index on the hash: a few
hashes (a prediction's) are found through the index plus a scan of the fragments appended since it was last updated;
a batch of thousands, whose keys fall in every page of the index, by a scan of the hash column instead
(:func:`use_hash_index`): only matching rows' vectors are read, and no process holds the namespace. A process opens
every dataset in one Lance session (:func:`lance_session`), so what one lookup loaded serves the next. Each ``put``
is one Lance append commit; appends from several processes (or hosts, on ``s3://``) never conflict, Lance rebases
them (only the dataset's creation is made under a lock: see ``_append``). A writer indexes the unindexed rows once
they pass :data:`UNINDEXED_ROWS_MAX` (or :data:`UNINDEXED_FRAGMENTS_MAX` fragments) as a delta of the index, O(those
rows); merging the deltas, compacting the fragments and removing old versions is housekeeping
(:func:`compact_vectors`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from tweet_sentiment.storage.fs import file_lock, is_local, list_dir
from tweet_sentiment.text import text_hash

if TYPE_CHECKING:  # lance is imported where it is used: a process that forks (Airflow's scheduler loads
    import lance  # the plugin, which reaches this module) must not have it loaded (not fork-safe)

log = logging.getLogger(__name__)

SUFFIX = ".lance"
HASH_INDEX = "hash_idx"
# Rows (or fragments: single predictions append one row each) a lookup scans beside the index before a writer
# indexes them (a new delta of the index): scanning 20k hashes costs a few milliseconds.
UNINDEXED_ROWS_MAX = 20_000
UNINDEXED_FRAGMENTS_MAX = 64
INDEX_PAGE_ROWS = 4096  # sorted keys per page of Lance's BTREE (fixed in pylance 14)
OLD_VERSIONS_KEPT = timedelta(hours=1)  # a reader that opened an older version still finds its files this long
# Writes a caller does not wait for (a prediction answering before its vectors are on disk), in order, and the
# vectors they hold meanwhile, by (dataset, hash).
_WRITER = ThreadPoolExecutor(1, thread_name_prefix="vector-cache-writer")
_PENDING: dict[tuple[str, str], np.ndarray] = {}
_PENDING_LOCK = threading.Lock()
# What the process's Lance session may keep of opened indices (the hash index: about 35 MB per million vectors)
# and of file metadata; least recently used first out.
SESSION_INDEX_CACHE_BYTES = 256 * 2**20
SESSION_METADATA_CACHE_BYTES = 64 * 2**20
_SESSION: tuple[int, lance.Session] | None = None  # (the process that made it, the session)
_SESSION_LOCK = threading.Lock()


def lance_session() -> lance.Session:
    """This process's Lance session (made on first use; a forked child makes its own): the caches of index pages
    and file metadata every dataset opened here shares. Cached files never change (Lance writes new ones), and
    each open reads the newest version, so a lookup still sees every commit."""
    global _SESSION
    import lance

    with _SESSION_LOCK:
        if _SESSION is None or _SESSION[0] != os.getpid():
            _SESSION = (os.getpid(), lance.Session(index_cache_size_bytes=SESSION_INDEX_CACHE_BYTES,
                                                   metadata_cache_size_bytes=SESSION_METADATA_CACHE_BYTES))
        return _SESSION[1]


def wait_for_cache_writes() -> None:
    """Block until every write-behind append queued so far is committed."""
    _WRITER.submit(lambda: None).result()


def storage_options(location: UPath) -> dict[str, str] | None:
    """Lance's object-store options for ``location``: on S3 the endpoint of AWS_ENDPOINT_URL (a local S3 server
    over plain HTTP allowed); credentials and region come from the environment."""
    if is_local(location):
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint:
        return None
    return {"aws_endpoint": endpoint, "allow_http": str(endpoint.startswith("http://")).lower()}


def _uri(location: UPath) -> str:
    return os.fspath(location) if is_local(location) else str(location)


def _hash_bytes(hashes: Sequence[str]) -> pa.Array:
    return pa.array([bytes.fromhex(h) for h in hashes], pa.binary(32))


def _rows(hashes: Sequence[str], vectors: np.ndarray, value_type: pa.DataType) -> pa.Table:
    """The hashes as 32 bytes and the vectors as fixed-size lists of ``value_type``."""
    flat = pa.array(np.ascontiguousarray(vectors).reshape(-1), pa.float32()).cast(value_type)
    return pa.table({"hash": _hash_bytes(hashes), "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})


def use_hash_index(keys: int, rows: int) -> bool:
    """Whether a lookup of ``keys`` random hashes among ``rows`` should go through the BTREE: only while the keys
    fall in at most a quarter of its pages (:data:`INDEX_PAGE_ROWS` sorted keys each). A batch's keys fall in every
    page, and the BTREE then loads all of them (the whole index, 35 MB per million vectors, in each process) where
    a scan of the 32-byte hash column costs a third of that (at 1M and 2,000 keys: 0.12-0.17 s against 0.45-0.65 s)."""
    return keys * INDEX_PAGE_ROWS * 4 <= rows


def dataset_name(namespace: str) -> str:
    """The dataset's folder name of ``namespace`` (model names hold slashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", namespace) + SUFFIX


def namespaces(cache_root: UPath) -> list[str]:
    """The dataset folder names (without the suffix) under ``cache_root``."""
    return [p.name.removesuffix(SUFFIX) for p in list_dir(cache_root) if p.name.endswith(SUFFIX)]


class VectorCache:
    """Vectors by text hash (64 hex characters) in one namespace, a Lance dataset under ``folder``.

    ``dtype``: how a new dataset stores the vectors (an existing one keeps its own). With ``write_behind`` a
    ``put`` returns at once and a background thread commits it (for request latency; a crash then loses only
    cache entries; :func:`wait_for_cache_writes` waits for them).
    """

    def __init__(self, folder: UPath, namespace: str, write_behind: bool = False,
                 dtype: type[np.floating] = np.float16) -> None:
        if not is_local(folder) and folder.protocol == "memory":
            raise ValueError(f"the vector cache at {folder}: Lance keeps a memory:// dataset only in the object that "
                             "wrote it; give a local folder or an object store (s3://, gs://, az://)")
        self.location = folder / dataset_name(namespace)
        self.uri = _uri(self.location)
        self.options = storage_options(self.location)
        self.write_behind = write_behind
        self.dtype = dtype

    def dataset(self) -> lance.LanceDataset | None:
        """The newest version of the dataset, or None before the first put."""
        try:
            import lance

            return lance.dataset(self.uri, storage_options=self.options, session=lance_session())
        except ValueError as error:
            if "not found" in str(error).lower():
                return None
            raise

    def __len__(self) -> int:
        dataset = self.dataset()
        return 0 if dataset is None else dataset.count_rows()

    @property
    def dim(self) -> int | None:
        """Width of the cached vectors (None while the cache is empty)."""
        dataset = self.dataset()
        return None if dataset is None else dataset.schema.field("vector").type.list_size

    def _lookup(self, hashes: Sequence[str], with_vectors: bool) -> dict[str, np.ndarray | None]:
        """The stored vectors of the distinct ``hashes`` found (None for each when ``with_vectors`` is off)."""
        wanted = list(dict.fromkeys(hashes))
        with _PENDING_LOCK:
            found: dict[str, np.ndarray | None] = {
                h: _PENDING[(self.uri, h)] for h in wanted if (self.uri, h) in _PENDING}
        dataset = self.dataset()
        todo = [h for h in wanted if h not in found]
        if dataset is None or not todo:
            return found
        columns = ["hash", "vector"] if with_vectors else ["hash"]
        table = dataset.to_table(columns=columns, filter=pc.field("hash").isin(_hash_bytes(todo)),
                                 use_scalar_index=use_hash_index(len(todo), dataset.count_rows()))
        keys = [h.hex() for h in table.column("hash").to_pylist()]
        if not with_vectors or not keys:
            return found | dict.fromkeys(keys)
        vectors = table.column("vector").combine_chunks()
        flat = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(keys), -1)
        return found | dict(zip(keys, flat, strict=True))

    def missing(self, hashes: Sequence[str]) -> list[str]:
        """The distinct ``hashes`` not cached, in their first order."""
        found = self._lookup(hashes, with_vectors=False)
        return [h for h in dict.fromkeys(hashes) if h not in found]

    def get(self, hashes: Sequence[str]) -> np.ndarray:
        """The vectors of ``hashes`` in order (float32); KeyError naming a hash not cached."""
        found = self._lookup(hashes, with_vectors=True)
        return np.stack([found[h] for h in hashes])

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors in one commit (all of them or none)."""
        if not len(hashes):
            return
        if not self.write_behind:
            self._append(list(hashes), vectors)
            return
        held = dict(zip(hashes, self._stored(vectors), strict=True))
        with _PENDING_LOCK:
            _PENDING.update(((self.uri, h), v) for h, v in held.items())
        _WRITER.submit(self._append_pending, held)

    def _append_pending(self, held: dict[str, np.ndarray]) -> None:
        try:
            self._append(list(held), np.stack(list(held.values())))
        finally:
            with _PENDING_LOCK:
                for h in held:
                    _PENDING.pop((self.uri, h), None)

    def _stored(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` as a later read returns them: rounded to the stored type, as float32."""
        return vectors.astype(self.dtype).astype(np.float32)

    def _append(self, hashes: list[str], vectors: np.ndarray) -> None:
        """One commit of the vectors; the first writer creates the dataset under a lock: Lance commits a create
        that finds the dataset made meanwhile as an overwrite of it, which would drop the other creator's rows."""
        import lance

        dataset = self.dataset()
        if dataset is None:
            with file_lock(self.location / ".create.lock"):
                dataset = self.dataset()
                if dataset is None:
                    table = _rows(hashes, vectors, pa.from_numpy_dtype(self.dtype))
                    self._keep_index(lance.write_dataset(table, self.uri, mode="create", storage_options=self.options))
                    return
        table = _rows(hashes, vectors, dataset.schema.field("vector").type.value_type)
        self._keep_index(lance.write_dataset(table, self.uri, mode="append", storage_options=self.options))

    def _keep_index(self, dataset: lance.LanceDataset) -> None:
        """Make the hash index (first writer), or index the unindexed rows as a new delta past the limits.
        Another writer doing the same at once may win the commit: then its index serves."""
        try:
            if not dataset.describe_indices():
                dataset.create_scalar_index("hash", "BTREE", name=HASH_INDEX)
                return
            stats = dataset.stats.index_stats(HASH_INDEX)
            if (stats["num_unindexed_rows"] > UNINDEXED_ROWS_MAX
                    or stats["num_unindexed_fragments"] > UNINDEXED_FRAGMENTS_MAX):
                dataset.optimize.optimize_indices(num_indices_to_merge=0)
        except (OSError, RuntimeError, ValueError) as error:  # a concurrent writer's index commit won
            log.info("vector cache %s: index left to another writer (%s)", self.uri, error)

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts`` in order; ``compute`` runs once on the distinct texts not cached yet."""
        hashes = [text_hash(t) for t in texts]
        found = self._lookup(hashes, with_vectors=True)
        todo = [h for h in dict.fromkeys(hashes) if h not in found]
        if todo:
            by_hash = dict(zip(hashes, texts, strict=True))
            computed = self._stored(compute([by_hash[h] for h in todo]))
            self.put(todo, computed)
            found.update(zip(todo, computed, strict=True))
        return np.stack([found[h] for h in hashes])


# The memory-only cache of requests that must store nothing (a prediction): vectors by (namespace, hash), the
# least recently used dropped first past MEMORY_CACHE_ENTRIES (about 6 MB of 384-d vectors, 16 MB of 1024-d).
MEMORY_CACHE_ENTRIES = 4096
_MEMORY: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_MEMORY_LOCK = threading.Lock()


class MemoryVectorCache:
    """Vectors by text hash in one namespace, in this process's memory only and at most ``max_entries`` of
    them over all namespaces: nothing is read from or written to any folder."""

    dim = None  # widths are checked on each computed vector, not against a stored one
    location = "memory"

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


def vector_cache(cache_root: UPath | None, namespace: str, write_behind: bool = False,
                 dtype: type[np.floating] = np.float16) -> VectorCache | MemoryVectorCache:
    """The cache of ``namespace`` under ``cache_root``; with no folder, the bounded memory-only one."""
    if cache_root is None:
        return MemoryVectorCache(namespace)
    return VectorCache(cache_root, namespace, write_behind=write_behind, dtype=dtype)


def compact_vectors(cache_root: UPath, older_than: timedelta = OLD_VERSIONS_KEPT) -> dict[str, dict]:
    """Housekeeping of every namespace under ``cache_root``: the hash index made one (its deltas merged, every
    row in it), small fragments rewritten into large ones, versions older than ``older_than`` removed (a reader
    that opened one finds its files meanwhile). What was done, by namespace."""
    done = {}
    for name in namespaces(cache_root):
        cache = VectorCache(cache_root, name)
        dataset = cache.dataset()
        if dataset is None:
            continue
        before = len(dataset.get_fragments())
        if dataset.describe_indices():  # first (Lance compacts indexed and unindexed fragments apart): one index
            deltas = dataset.stats.index_stats(HASH_INDEX)["num_indices"]
            dataset.optimize.optimize_indices(num_indices_to_merge=deltas)
        metrics = dataset.optimize.compact_files()
        cache._keep_index(cache.dataset())
        removed = cache.dataset().cleanup_old_versions(older_than=older_than)
        done[name] = {"fragments_before": before, "fragments_after": len(cache.dataset().get_fragments()),
                      "fragments_removed": metrics.fragments_removed, "versions_removed": removed.old_versions,
                      "bytes_removed": removed.bytes_removed}
        log.info("vector cache %s compacted: %s", name, done[name])
    return done
