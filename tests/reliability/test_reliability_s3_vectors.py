"""The vector cache on S3 (moto, serving one request at a time as S3 applies a conditional write): writers in
several processes racing on one namespace, from its creation on, lose no commit; lookups and housekeeping work
on ``s3://`` as on a local folder (the same checks as tests/unit/test_vector_cache.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from native_services import MotoS3, s3_with_bucket
from upath import UPath
from vector_cache_support import assert_every_racer_vector_found, race_writers

from tweet_sentiment.storage.vector_cache import VectorCache, compact_vectors, namespaces
from tweet_sentiment.text import text_hash

BUCKET = "vectors"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with s3_with_bucket(tmp_path_factory.mktemp("s3"), BUCKET) as server:
        yield server


def test_writers_in_several_processes_on_s3_lose_no_commit(s3):
    race_writers(f"s3://{BUCKET}/race")
    root = UPath(f"s3://{BUCKET}/race")
    assert_every_racer_vector_found(root)
    assert namespaces(root) == ["some_model"]
    done = compact_vectors(root)
    assert done["some_model"]["fragments_after"] < done["some_model"]["fragments_before"]
    assert_every_racer_vector_found(root)


def test_a_batch_is_found_through_the_index_on_s3(s3):
    cache = VectorCache(UPath(f"s3://{BUCKET}/lookups"), "m")
    texts = [f"text {i}" for i in range(300)]
    vectors = np.random.default_rng(1).normal(size=(300, 16)).astype(np.float32)
    cache.get_or_compute(texts, lambda todo: vectors)
    again = VectorCache(UPath(f"s3://{BUCKET}/lookups"), "m")
    wanted = [text_hash(t) for t in texts[::7]] + [text_hash("never stored")]
    assert again.missing(wanted) == [text_hash("never stored")]
    np.testing.assert_allclose(again.get(wanted[:-1]), vectors[::7], rtol=1e-3, atol=1e-4)
    assert [i.name for i in again.dataset().describe_indices()] == ["hash_idx"]
