"""Scoring spread over workers, in small: a big claimed batch is stored in parts; a run's work is planned as
partitions of about as many rows, each batch in exactly one; partitions scored at once (threads here, Celery
workers in tests/e2e/test_celery_topology.py) score every row exactly once; a partition that dies mid-way and is
tried again scores only what its first try did not commit; the infinity replicas are dealt out to partitions."""

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from stream_support import MODEL, offline_client, train_champion, vector_of
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.unlabelled import ingest_unlabelled
from tweet_sentiment.model.infinity import EmbeddingServiceError
from tweet_sentiment.monitoring.scoring import finish_scoring, plan_partitions, score_partition
from tweet_sentiment.pipeline import score as pipeline
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.storage.vector_cache import MemoryVectorCache
from tweet_sentiment.text import text_hash


@pytest.fixture
def settings(tmp_path):
    s = Settings(data_root=str(tmp_path / "data"), stream_part_rows=10)
    s.layout().ensure()
    return s


def drop(settings: Settings, batch_id: str, texts: list[str], hold: bool = True) -> dict:
    """One unlabelled file claimed and ingested as ``batch_id`` (in parts past ``stream_part_rows``); its vectors
    held in memory (infinity's answers) unless not ``hold``."""
    layout = settings.layout()
    body = "".join(f'2020-03-16 10:{i % 60:02d}:00,"{t}"\n' for i, t in enumerate(texts))
    (layout.unlabelled / f"{batch_id}.csv").write_text(f"TweetAt,OriginalTweet\n{body}")
    claim(layout, batch_id, 0, layout.unlabelled_stream)
    ledger = ingest_unlabelled(layout, batch_id, 1000, part_rows=settings.stream_part_rows)
    archive_claimed(layout.unlabelled_stream, batch_id)
    if hold:
        MemoryVectorCache(MODEL)._hold({text_hash(t): vector_of(t) for t in texts})
    return ledger


def texts(prefix: str, n: int) -> list[str]:
    return [f"{prefix} tweet {i} #StayHome" for i in range(n)]


def scored_once(tables: ScoredStream, rows: int, version: str) -> None:
    """Every stored row has one score, by ``version``; each batch is in the manifest once; counts add up."""
    scores = tables.query("SELECT batch_id, seq, champion_version FROM scores", ["scores"])
    assert len(scores) == rows and not scores.duplicated(["batch_id", "seq"]).any()
    assert set(scores["champion_version"]) == {version}
    manifest = tables.query("SELECT batch_id FROM scored", ["scored"])["batch_id"]
    assert sorted(manifest) == sorted(tables.live_batches()["batch_id"])
    assert int(tables.query("SELECT sum(n) AS n FROM counts", ["counts"])["n"].iloc[0]) == rows


def test_a_big_batch_is_stored_in_parts_and_a_retried_write_leaves_no_copy(settings):
    ledger = drop(settings, "run1", texts("a", 25))
    tables = ScoredStream(settings.layout().stream, part_rows=10)
    live = tables.live_batches()
    assert ledger["rows_accepted"] == 25
    assert dict(zip(live["batch_id"], live["rows"], strict=True)) == {"run1.p000": 10, "run1.p001": 10,
                                                                      "run1.p002": 5}
    rows = tables.read_rows(live["batch_id"].tolist(), ["batch_id", "seq", "text"])
    assert rows["text"].tolist() == texts("a", 25)  # arrival order kept across parts
    assert set(tables.query("SELECT DISTINCT batch_id FROM seen", ["seen"])["batch_id"]) == {"run1"}
    again = rows.drop(columns=["batch_id", "seq"]).merge(tables.read_rows(live["batch_id"].tolist()), on="text")
    tables.write_batch("run1", again.drop(columns=["batch_id", "seq"]))  # a retried task writes the batch again
    assert len(tables.read_rows(tables.live_batches()["batch_id"].tolist())) == 25
    assert int(tables.query("SELECT count(*) AS n FROM seen", ["seen"])["n"].iloc[0]) == 25
    assert drop(settings, "run2", texts("b", 3))["rows_accepted"] == 3
    assert "run2" in set(tables.live_batches()["batch_id"])  # a small batch stays whole


def test_partitions_share_the_rows_evenly_new_first_each_batch_in_exactly_one(settings):
    registry = local_registry(settings.layout().registry)
    version = train_champion(registry, seed=1)
    drop(settings, "run1", texts("a", 45))  # 5 parts
    tables = ScoredStream(settings.layout().stream)
    plan = plan_partitions(tables, version, partitions=2)
    assert [p["index"] for p in plan] == [0, 1] and all(p["version"] == version for p in plan)
    new = [b for p in plan for b, _ in p["new"]]
    assert sorted(new) == sorted(tables.live_batches()["batch_id"]) and len(set(new)) == len(new)
    assert sorted(sum(n for _, n in p["new"]) for p in plan) == [20, 25]
    assert all(not p["stale"] for p in plan)
    assert len(plan_partitions(tables, version, partitions=3)) == 3  # more partitions than work: some empty


def test_partitions_scored_at_once_score_every_row_exactly_once(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    drop(settings, "run1", texts("a", 60))
    tables = ScoredStream(layout.stream)
    plan = plan_partitions(tables, v1, partitions=3)
    with ThreadPoolExecutor(3) as pool:  # concurrent commits to the same Delta tables
        results = list(pool.map(lambda p: score_partition(ScoredStream(layout.stream), p, registry.champion(),
                                                          offline_client(), chunk_rows=10), plan))
    record = finish_scoring(layout, plan, results)
    assert record["scored_rows"] == 60 and record["partitions"] == 3
    assert sorted(r["scored_rows"] for r in results) == [20, 20, 20]
    scored_once(tables, 60, v1)

    v2 = train_champion(registry, seed=7)  # a new champion: the history re-scored over the partitions
    plan = plan_partitions(tables, v2, partitions=2)
    assert sum(n for p in plan for _, n in p["stale"]) == 60
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: score_partition(ScoredStream(layout.stream), p, registry.champion(),
                                                          offline_client(), chunk_rows=10), plan))
    assert finish_scoring(layout, plan, results)["rescored_rows"] == 60
    scores = tables.query("SELECT batch_id, seq, champion_version FROM scores", ["scores"])
    assert len(scores) == 60 and set(scores["champion_version"]) == {v2}


def test_a_partition_that_dies_and_retries_scores_only_what_was_not_committed(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    version = train_champion(registry, seed=1)
    late = texts("late", 10)
    drop(settings, "run1", late, hold=False)  # infinity will not answer for these: the task dies there
    drop(settings, "run2", texts("a", 10))
    tables = ScoredStream(layout.stream)
    (plan,) = plan_partitions(tables, version, partitions=1)
    with pytest.raises(EmbeddingServiceError):
        score_partition(tables, plan, registry.champion(), offline_client(), chunk_rows=10)
    first = tables.query("SELECT batch_id FROM scored", ["scored"])["batch_id"].tolist()
    assert first == ["run2"]  # the newest batch first: its chunk committed before the task died
    MemoryVectorCache(MODEL)._hold({text_hash(t): vector_of(t) for t in late})
    retry = score_partition(tables, plan, registry.champion(), offline_client(), chunk_rows=10)
    assert (retry["already_scored_batches"], retry["already_scored_rows"], retry["scored_rows"]) == (1, 10, 10)
    assert finish_scoring(layout, [plan], [retry])["already_scored_rows"] == 10  # the run's record says so
    scored_once(tables, 20, version)


def test_partitions_take_the_infinity_replicas_in_turn_and_one_url_is_one_partition(settings, monkeypatch):
    registry = local_registry(settings.layout().registry)
    train_champion(registry, seed=1)
    drop(settings, "run1", texts("a", 30))
    assert Settings().embedding_urls == [Settings().infinity_url] and Settings().scoring_partitions == 1
    monkeypatch.setenv("INFINITY_URLS", "http://a:7997/, http://b:7997")
    urls = Settings.from_env()
    assert urls.embedding_urls == ["http://a:7997", "http://b:7997"] and urls.scoring_partitions == 2
    many = Settings(data_root=settings.data_root, infinity_urls=urls.infinity_urls, score_partitions=3)
    plan = pipeline.plan_score(many, ScoreOptions(None, False))
    assert [p["url"] for p in plan] == ["http://a:7997", "http://b:7997", "http://a:7997"]
    assert pd.Series([n for p in plan for _, n in p["new"]]).sum() == 30
