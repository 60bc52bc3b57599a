"""Migration of the vector cache's old format (a folder of ``.npz`` shards per namespace, float32 vectors by the
hash as 64 characters) into its Lance datasets (``vector_cache``): idempotent, the shards removed only once every
vector of the namespace is committed."""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np
from upath import UPath

from tweet_sentiment.storage.fs import is_hidden, is_local, list_dir
from tweet_sentiment.storage.vector_cache import SUFFIX, VectorCache

log = logging.getLogger(__name__)


def old_shards(folder: UPath) -> list[UPath]:
    """The ``.npz`` shards of one namespace in the old format (none being written)."""
    return [p for p in list_dir(folder) if p.suffix == ".npz" and not is_hidden(p)]


def _read_shard(path: UPath) -> tuple[list[str], np.ndarray]:
    with np.load(io.BytesIO(path.read_bytes())) as data:
        return data["hashes"].tolist(), data["vectors"]


def _convert(cache: VectorCache, shards: list[UPath]) -> int:
    """Put the vectors of ``shards`` the dataset lacks (a shard at a time, one commit each); how many."""
    seen: set[str] = set()  # shards merged by the old writer may repeat a hash
    check_stored = cache.dataset() is not None  # an earlier, interrupted migration committed some already
    converted = 0
    for number, shard in enumerate(shards, 1):
        hashes, vectors = _read_shard(shard)
        rows = {h: i for i, h in enumerate(hashes) if h not in seen}
        todo = cache.missing(list(rows)) if check_stored else list(rows)
        seen.update(rows)
        if todo:
            cache.put(todo, vectors[[rows[h] for h in todo]])
        converted += len(todo)
        log.info("vectors %s: shard %d/%d, %d vectors converted so far", cache.location.name, number,
                 len(shards), converted)
    return converted


def migrate_vectors(cache_root: UPath) -> dict[str, int]:
    """Convert every namespace of ``cache_root`` still in shards into its Lance dataset, then remove the shards;
    vectors converted by namespace (0 for a namespace whose vectors were all there already)."""
    done = {}
    for folder in list_dir(cache_root):
        shards = old_shards(folder) if not folder.name.endswith(SUFFIX) else []
        if not shards:
            continue
        log.info("vectors %s: converting %d shards", folder.name, len(shards))
        done[folder.name] = _convert(VectorCache(cache_root, folder.name), shards)
        for shard in shards:
            shard.unlink()
        if is_local(folder):
            with contextlib.suppress(OSError):  # something else lives there: leave the folder
                folder.rmdir()
        log.info("vectors %s: %d vectors converted, old shards removed", folder.name, done[folder.name])
    return done
