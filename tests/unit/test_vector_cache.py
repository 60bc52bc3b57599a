import numpy as np

from tweet_sentiment.embeddings import VectorCache


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
