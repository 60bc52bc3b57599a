"""The vector cache (storage/vector_cache.py): Lance datasets by namespace, float16 vectors by 32-byte hash
behind a BTREE index, writers in several processes, write-behind, housekeeping; the memory-only cache."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from upath import UPath
from vector_cache_support import assert_every_racer_vector_found, race_writers

import tweet_sentiment.storage.vector_cache as vector_cache_module
from tweet_sentiment.storage.vector_cache import (
    MemoryVectorCache,
    VectorCache,
    compact_vectors,
    memory_entries,
    namespaces,
    wait_for_cache_writes,
)
from tweet_sentiment.storage.vector_migration import migrate_vectors
from tweet_sentiment.text import text_hash


def _hashes(prefix: str, n: int) -> list[str]:
    return [text_hash(f"{prefix} {i}") for i in range(n)]


def test_get_or_compute_computes_each_distinct_text_once_and_persists(tmp_path):
    calls = []

    def compute(texts):
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = VectorCache(tmp_path, "model/x")
    assert cache.dim is None and len(cache) == 0
    out = cache.get_or_compute(["aa", "b", "aa"], compute)
    assert out.tolist() == [[2, 1], [1, 1], [2, 1]]
    assert calls == [["aa", "b"]]
    again = VectorCache(tmp_path, "model/x").get_or_compute(["b", "ccc"], compute)
    assert again.tolist() == [[1, 1], [3, 1]] and calls[-1] == ["ccc"]
    assert VectorCache(tmp_path, "other").missing(["ab" * 32]) == ["ab" * 32]
    assert namespaces(UPath(tmp_path)) == ["model_x"] and cache.dim == 2 and len(cache) == 3


def test_vectors_are_float16_by_32_byte_hash_behind_a_btree_index(tmp_path):
    cache = VectorCache(tmp_path, "m")
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    computed = cache.get_or_compute([f"text {i}" for i in range(50)], lambda todo: vectors)
    dataset = cache.dataset()
    assert dataset.schema.field("hash").type == pa.binary(32)
    assert dataset.schema.field("vector").type == pa.list_(pa.float16(), 8)
    assert [i.name for i in dataset.describe_indices()] == ["hash_idx"]
    plan = dataset.scanner(filter=pc.field("hash").isin(pa.array([b"x" * 32], pa.binary(32)))).explain_plan()
    assert "ScalarIndexQuery" in plan
    # what the first caller got is what any later reader gets: the float16 value, as float32
    np.testing.assert_array_equal(computed, vectors.astype(np.float16).astype(np.float32))
    reread = VectorCache(tmp_path, "m").get([text_hash(f"text {i}") for i in (7, 3)])
    np.testing.assert_array_equal(reread, computed[[7, 3]])
    np.testing.assert_allclose(reread, vectors[[7, 3]], rtol=1e-3, atol=1e-4)


def test_a_float32_namespace_keeps_its_type(tmp_path):
    cache = VectorCache(tmp_path, "lexicon", dtype=np.float32)
    cache.put(_hashes("t", 2), np.array([[0.1234567, 280.0], [-0.5, 3.0]], dtype=np.float32))
    assert VectorCache(tmp_path, "lexicon").get(_hashes("t", 2))[0, 0] == np.float32(0.1234567)


def test_a_missing_hash_is_a_key_error_naming_it(tmp_path):
    cache = VectorCache(tmp_path, "m")
    cache.put(_hashes("a", 1), np.ones((1, 2)))
    with pytest.raises(KeyError, match=_hashes("b", 1)[0]):
        cache.get(_hashes("a", 1) + _hashes("b", 1))


def test_writers_index_the_unindexed_rows_as_deltas_past_the_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache_module, "UNINDEXED_ROWS_MAX", 25)
    monkeypatch.setattr(vector_cache_module, "UNINDEXED_FRAGMENTS_MAX", 3)
    cache = VectorCache(tmp_path, "m")
    unindexed = []
    for k in range(8):
        cache.put(_hashes(f"batch {k}", 10), np.full((10, 2), k))
        unindexed.append(cache.dataset().stats.index_stats("hash_idx")["num_unindexed_rows"])
    assert max(unindexed) <= 30 and unindexed[-1] < 30 and 0 in unindexed[1:]
    stats = cache.dataset().stats.index_stats("hash_idx")
    assert stats["num_indices"] > 2 and max(stats["num_indexed_rows_per_delta"][1:]) <= 30  # deltas: O(batch)
    for k in range(40):  # single rows (predictions): bounded by the fragment limit
        cache.put(_hashes(f"single {k}", 1), np.ones((1, 2)))
        assert cache.dataset().stats.index_stats("hash_idx")["num_unindexed_fragments"] <= 4
    assert cache.get(_hashes("batch 5", 10))[:, 0].tolist() == [5.0] * 10 and len(cache) == 120


def test_writers_in_several_processes_lose_no_commit(tmp_path):
    race_writers(str(tmp_path / "cache"))
    assert_every_racer_vector_found(UPath(tmp_path / "cache"))


def test_a_few_hashes_go_through_the_index_a_batch_scans_the_hash_column():
    assert vector_cache_module.use_hash_index(1, 1_000_000)  # a prediction's text among a million
    assert vector_cache_module.use_hash_index(61, 1_000_000)
    assert not vector_cache_module.use_hash_index(62, 1_000_000)  # past a quarter of the BTREE's pages
    assert not vector_cache_module.use_hash_index(2000, 1_000_000)  # a batch: every page
    assert not vector_cache_module.use_hash_index(1, 10_000)


def test_both_ways_of_a_lookup_find_the_same_vectors_indexed_or_not(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache_module, "UNINDEXED_ROWS_MAX", 20)  # index deltas and an unindexed tail
    cache = VectorCache(tmp_path, "m")
    for k in range(4):
        cache.put(_hashes(f"b{k}", 12), np.full((12, 2), k))
    stats = cache.dataset().stats.index_stats("hash_idx")
    assert stats["num_unindexed_rows"] > 0 and stats["num_indices"] > 1
    asked = _hashes("b0", 2) + _hashes("b3", 6) + _hashes("never", 2)
    scanned = (cache.missing(asked), cache.get(asked[:8]).tolist())
    monkeypatch.setattr(vector_cache_module, "INDEX_PAGE_ROWS", 1)  # 10 keys among 48 rows: the index
    assert vector_cache_module.use_hash_index(10, 48)
    assert (cache.missing(asked), cache.get(asked[:8]).tolist()) == scanned
    assert scanned == (_hashes("never", 2), [[0.0, 0.0]] * 2 + [[3.0, 3.0]] * 6)


def _put_in_a_process(root: str, prefix: str) -> None:
    VectorCache(UPath(root), "m").put(_hashes(prefix, 4), np.full((4, 2), 7.0))


def test_lookups_share_the_process_session_and_still_see_every_later_commit(tmp_path):
    import multiprocessing

    cache = VectorCache(tmp_path, "m")
    cache.put(_hashes("a", 4), np.full((4, 2), 1.0))
    cache.get(_hashes("a", 4))  # fills the session's caches (file metadata, and the index when it is used)
    session = vector_cache_module.lance_session()
    assert session.size_bytes() > 0 and VectorCache(tmp_path, "m").dataset().session().is_same_as(session)
    worker = multiprocessing.get_context("spawn").Process(target=_put_in_a_process, args=(str(tmp_path), "b"))
    worker.start()
    worker.join(120)
    assert worker.exitcode == 0
    assert cache.missing(_hashes("b", 4) + _hashes("c", 1)) == _hashes("c", 1)  # the other process's commit
    assert cache.get(_hashes("b", 4) + _hashes("a", 1))[:, 0].tolist() == [7.0] * 4 + [1.0]


def test_compaction_merges_the_index_rewrites_small_fragments_and_keeps_every_vector(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache_module, "UNINDEXED_FRAGMENTS_MAX", 2)
    root = UPath(tmp_path)
    cache = VectorCache(root, "m")
    for k in range(12):
        cache.put(_hashes(f"b{k}", 3), np.full((3, 2), k))
    assert cache.dataset().stats.index_stats("hash_idx")["num_indices"] > 2
    done = compact_vectors(root, older_than=vector_cache_module.timedelta(0))
    assert done["m"]["fragments_before"] == 12 and done["m"]["fragments_after"] == 1
    assert done["m"]["versions_removed"] > 0
    dataset = cache.dataset()
    stats = dataset.stats.index_stats("hash_idx")
    assert stats["num_unindexed_rows"] == 0 and stats["num_indices"] == 1 and len(dataset.versions()) == 1
    assert cache.get(_hashes("b11", 3) + _hashes("b0", 3))[:, 0].tolist() == [11.0] * 3 + [0.0] * 3


def test_write_behind_vectors_are_usable_at_once_and_on_disk_after_the_wait(tmp_path):
    cache = VectorCache(tmp_path, "m", write_behind=True)
    cache.put(_hashes("a", 1), np.full((1, 2), 5.0, dtype=np.float32))
    assert VectorCache(tmp_path, "m").get(_hashes("a", 1)).tolist() == [[5.0, 5.0]]
    wait_for_cache_writes()
    assert VectorCache(tmp_path, "m").dataset().count_rows() == 1
    assert VectorCache(tmp_path, "m").get(_hashes("a", 1)).tolist() == [[5.0, 5.0]]
    assert vector_cache_module._PENDING == {}


def test_the_memory_cache_holds_at_most_its_bound_and_touches_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache_module, "_MEMORY", OrderedDict())
    monkeypatch.chdir(tmp_path)
    calls = []

    def compute(texts):
        calls.append(list(texts))
        return np.array([[len(t), 0.0] for t in texts], dtype=np.float32)

    cache = vector_cache_module.vector_cache(None, "m")
    assert isinstance(cache, MemoryVectorCache)
    small = MemoryVectorCache("m", max_entries=3)
    assert small.get_or_compute(["a", "bb", "a"], compute).tolist() == [[1, 0], [2, 0], [1, 0]]
    assert small.get_or_compute(["a", "bb"], compute).tolist() == [[1, 0], [2, 0]] and len(calls) == 1
    small.get_or_compute(["ccc", "dddd", "eeeee"], compute)
    assert memory_entries() == 3
    small.get_or_compute(["a"], compute)  # dropped as the least recently used: computed again
    assert calls[-1] == ["a"] and memory_entries() == 3
    assert not any(tmp_path.iterdir())


def _old_shard(folder: UPath, name: str, hashes: list[str], vectors: np.ndarray) -> None:
    """A shard as the old writer (npz shards, before Lance) left it: hashes as 64 characters, float32 vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / name, hashes=np.asarray(hashes, dtype="<U64"), vectors=vectors.astype(np.float32))


def test_migration_converts_old_shards_once_and_removes_them_after_the_commit(tmp_path, caplog):
    root = UPath(tmp_path)
    rng = np.random.default_rng(3)
    model, lexicon = rng.normal(size=(30, 6)), rng.normal(size=(12, 3))
    hashes = _hashes("m", 30)
    _old_shard(root / "some_model", "1-a.npz", hashes[:20], model[:20])
    _old_shard(root / "some_model", "2-b.npz", hashes[15:], model[15:])  # a merge's leftover repeats 5
    _old_shard(root / "lexicon-x", "1-c.npz", _hashes("l", 12), lexicon)
    (root / "some_model" / ".3-d.npz.tmp").write_bytes(b"half written")  # a write in flight: nobody's input
    kept = {p.name: p.read_bytes() for p in (root / "some_model").iterdir()}
    with caplog.at_level("INFO", logger="tweet_sentiment.storage.vector_migration"):
        assert migrate_vectors(root) == {"some_model": 30, "lexicon-x": 12}
    assert "shard 2/2" in caplog.text
    assert not (root / "lexicon-x").exists() and [p.name for p in (root / "some_model").iterdir()] == [".3-d.npz.tmp"]
    cache = VectorCache(root, "some/model")
    assert len(cache) == 30
    np.testing.assert_allclose(cache.get(hashes), model, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(VectorCache(root, "lexicon-x").get(_hashes("l", 12)), lexicon, rtol=1e-3, atol=1e-3)
    assert migrate_vectors(root) == {}
    # interrupted after the commit, before the shards were removed: run again, nothing converted twice
    for name, raw in kept.items():
        (root / "some_model" / name).write_bytes(raw)
    assert migrate_vectors(root) == {"some_model": 0} and len(cache) == 30
