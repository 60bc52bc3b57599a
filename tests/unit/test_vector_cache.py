from collections import OrderedDict

import numpy as np

import tweet_sentiment.storage.vector_cache as vector_cache_module
from tweet_sentiment.storage.vector_cache import MemoryVectorCache, VectorCache, memory_entries, wait_for_cache_writes


def test_get_or_compute_computes_each_distinct_text_once_and_persists(tmp_path):
    calls = []

    def compute(texts):
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = VectorCache(tmp_path, "model/x")
    out = cache.get_or_compute(["aa", "b", "aa"], compute)
    assert out.tolist() == [[2, 1], [1, 1], [2, 1]]
    assert calls == [["aa", "b"]]
    again = VectorCache(tmp_path, "model/x").get_or_compute(["b", "ccc"], compute)
    assert again.tolist() == [[1, 1], [3, 1]] and calls[-1] == ["ccc"]
    assert VectorCache(tmp_path, "other").missing(["x"]) == ["x"]


def test_shards_are_merged_past_the_limit_without_losing_vectors(tmp_path):
    cache = VectorCache(tmp_path, "m", max_shards=3)
    for i in range(5):
        cache.put([f"h{i}"], np.full((1, 2), i, dtype=np.float32))
    assert len(list(cache.folder.glob("*.npz"))) <= 3
    reloaded = VectorCache(tmp_path, "m")
    assert reloaded.get([f"h{i}" for i in range(5)])[:, 0].tolist() == [0, 1, 2, 3, 4]


def _shard_written_elsewhere(folder, hashes, value):
    """A shard as another process would write it (this process's in-memory index has not seen it)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"9{len(hashes)}-elsewhere.npz", hashes=np.asarray(hashes, dtype="<U64"),
             vectors=np.full((len(hashes), 2), value, dtype=np.float32))


def test_a_new_cache_object_reads_only_the_shards_written_since(tmp_path, monkeypatch):
    cache = VectorCache(tmp_path, "m")
    cache.put(["a", "b"], np.ones((2, 2), dtype=np.float32))
    _shard_written_elsewhere(cache.folder, ["c"], 3.0)
    read = []
    original = type(cache.folder).read_bytes
    monkeypatch.setattr(type(cache.folder), "read_bytes", lambda self: read.append(self.name) or original(self))
    again = VectorCache(tmp_path, "m")
    assert again.get(["a", "c"])[:, 0].tolist() == [1.0, 3.0]
    assert read == ["91-elsewhere.npz"]


def test_vectors_of_a_cleared_cache_are_forgotten(tmp_path):
    cache = VectorCache(tmp_path, "m")
    cache.put(["a"], np.ones((1, 2), dtype=np.float32))
    for shard in cache.folder.glob("*.npz"):
        shard.unlink()
    _shard_written_elsewhere(cache.folder, ["b"], 2.0)
    again = VectorCache(tmp_path, "m")
    assert again.missing(["a", "b"]) == ["a"] and len(again) == 1


def test_merging_leaves_the_big_shard_alone(tmp_path):
    cache = VectorCache(tmp_path, "m", max_shards=4)
    cache.put([f"big{i}" for i in range(100)], np.zeros((100, 2), dtype=np.float32))
    (big,) = cache.folder.glob("*.npz")
    for i in range(12):
        VectorCache(tmp_path, "m", max_shards=4).put([f"s{i}"], np.full((1, 2), i, dtype=np.float32))
    shards = list(cache.folder.glob("*.npz"))
    assert big in shards and len(shards) <= 4
    reread = VectorCache(tmp_path / ".." / tmp_path.name, "m")  # another key: read from disk alone
    assert len(reread) == 112 and reread.get(["s11", "big0"])[:, 0].tolist() == [11.0, 0.0]


def test_write_behind_vectors_are_usable_at_once_and_on_disk_after_the_wait(tmp_path):
    cache = VectorCache(tmp_path, "m", write_behind=True)
    cache.put(["a"], np.full((1, 2), 5.0, dtype=np.float32))
    assert cache.get(["a"]).tolist() == [[5.0, 5.0]]
    wait_for_cache_writes()
    assert len(list(cache.folder.glob("*.npz"))) == 1
    assert VectorCache(tmp_path / ".." / tmp_path.name, "m").get(["a"]).tolist() == [[5.0, 5.0]]


def test_a_shard_merged_away_between_listing_and_reading_is_skipped(tmp_path, monkeypatch):
    cache = VectorCache(tmp_path, "m")
    cache.put(["a"], np.ones((1, 2), dtype=np.float32))
    listing = [*cache._shards(), cache.folder / "1-merged-away.npz"]  # what a listing made just before a merge holds
    monkeypatch.setattr(VectorCache, "_shards", lambda self: listing)
    fresh = VectorCache(tmp_path / ".." / tmp_path.name, "m")
    assert len(fresh) == 1 and fresh.get(["a"]).tolist() == [[1.0, 1.0]]


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
