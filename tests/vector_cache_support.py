"""Writers of the vector cache racing in processes, and the check that none of their commits was lost: shared by
the local test (tests/unit/test_vector_cache.py) and the S3 one (tests/reliability/test_reliability_s3_vectors.py)."""

from __future__ import annotations

import multiprocessing

import numpy as np
from upath import UPath

from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import text_hash


def _hashes(prefix: str, n: int) -> list[str]:
    return [text_hash(f"{prefix} {i}") for i in range(n)]


def _put_batches(root: str, writer: int, batches: int, start) -> None:
    cache = VectorCache(UPath(root), "some/model")
    start.wait(60)  # all imported and ready: the first puts collide
    for k in range(batches):
        cache.put(_hashes(f"w{writer} b{k}", 20) + _hashes("shared", 5), np.full((25, 4), writer))


def race_writers(root: str, writers: int = 3, batches: int = 5) -> None:
    """``writers`` processes, each putting ``batches`` batches of 20 own texts and 5 texts all of them put,
    starting at once on an empty cache (so they race to create the dataset too); each must exit cleanly."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    workers = [context.Process(target=_put_batches, args=(root, w, batches, start)) for w in range(writers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0


def assert_every_racer_vector_found(root: UPath, writers: int = 3, batches: int = 5) -> None:
    cache = VectorCache(root, "some/model")
    for w in range(writers):
        own = [h for k in range(batches) for h in _hashes(f"w{w} b{k}", 20)]
        assert cache.missing(own) == []
        assert cache.get(own)[:, 0].tolist() == [float(w)] * len(own)
    assert cache.missing(_hashes("shared", 5)) == [] and cache.dim == 4
    assert len(cache) == writers * batches * 25  # each commit whole, none lost (shared texts repeat)
