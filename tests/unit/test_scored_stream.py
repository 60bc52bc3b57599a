"""The scored stream at scale, in small: a champion change scores new tweets first and the history in bounded
chunks, newest first; the counts are incremental (a run touches only its batches' counts) and give the mood a full
read would; word counts as the model's word features see words; retention leaves only counts and hashes; scoring
writes nothing into the training side's feature cache; housekeeping keeps every answer."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from stream_support import MODEL, offline_client, train_champion, vector_of
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.unlabelled import ingest_unlabelled
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.monitoring.drift_check import run_drift_check
from tweet_sentiment.monitoring.mood import coverage, mood_series, read_counts
from tweet_sentiment.monitoring.scoring import read_scores, score_stream
from tweet_sentiment.monitoring.stream_upkeep import expire_stream, maintain_scored_stream
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.storage.vector_cache import MemoryVectorCache
from tweet_sentiment.text import text_hash


@pytest.fixture
def settings(tmp_path):
    s = Settings(data_root=str(tmp_path / "data"), drift_window_rows=20, stream_retention_days=7)
    s.layout().ensure()
    return s


def drop(settings: Settings, batch_id: str, day: str, texts: list[str]) -> dict:
    """One unlabelled file, claimed and ingested as ``batch_id``; its vectors held in memory only (as infinity's
    answers during a scoring run)."""
    layout = settings.layout()
    body = "".join(f'{day} 10:{i % 60:02d}:00,"{t}"\n' for i, t in enumerate(texts))
    (layout.unlabelled / f"{batch_id}.csv").write_text(f"TweetAt,OriginalTweet\n{body}")
    claim(layout, batch_id, 0, layout.unlabelled_stream)
    ledger = ingest_unlabelled(layout, batch_id, 1000)
    archive_claimed(layout.unlabelled_stream, batch_id)
    MemoryVectorCache(MODEL)._hold({text_hash(t): vector_of(t) for t in texts})
    return ledger


def texts(prefix: str, n: int = 20) -> list[str]:
    return [f"{prefix} tweet {i} #StayHome masks" for i in range(n)]


def full_read_mood(settings: Settings, version: str) -> pd.DataFrame:
    """The mood as a full read of the scored rows gives it: tweets per day × class (the old way, for comparison)."""
    rows = read_scores(settings.layout())
    rows = rows[rows["champion_version"] == version]
    return rows.groupby([rows["tweet_at"].dt.floor("D"), "label"]).size().rename("n")


def test_a_new_champion_scores_new_tweets_first_then_the_history_in_bounded_chunks_newest_first(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    for i, day in enumerate(["2020-03-16", "2020-03-17", "2020-03-18"]):
        drop(settings, f"b{i}", day, texts(f"day{i}"))
    score_stream(layout, registry.champion(), offline_client())
    v2 = train_champion(registry, seed=7)
    drop(settings, "b3", "2020-03-19", texts("day3"))
    run = score_stream(layout, registry.champion(), offline_client(), rescore_rows=20)
    assert (run["scored_rows"], run["rescored_rows"], run["rescore_pending_batches"]) == (20, 20, 2)
    assert run["first_new_scored_s"] is not None and run["first_new_scored_s"] <= run["scored_s"]
    last = ScoredStream(layout.stream).query("SELECT batch_id, arg_max(champion_version, scored_at) AS v FROM scored "
                                             "GROUP BY batch_id ORDER BY batch_id", ["scored"])
    assert dict(zip(last["batch_id"], last["v"], strict=True)) == {"b0": v1, "b1": v1, "b2": v2, "b3": v2}
    assert {c["version"]: c["share"] for c in coverage(ScoredStream(layout.stream))} == {v1: 0.75, v2: 0.5}
    score_stream(layout, registry.champion(), offline_client(), rescore_rows=20)  # the next chunk: b1
    _, stale = ScoredStream(layout.stream).to_score(v2)
    assert stale["batch_id"].tolist() == ["b0"]


def test_counts_are_written_per_run_from_its_rows_only_and_give_the_mood_of_a_full_read(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    drop(settings, "b0", "2020-03-16", texts("first", 30))
    score_stream(layout, registry.champion(), offline_client())
    tables = ScoredStream(layout.stream)
    before = tables.query("SELECT * FROM counts ORDER BY ALL", ["counts"])
    version = tables.tables["counts"].version()
    drop(settings, "b1", "2020-03-16", texts("second", 25))
    drop(settings, "b2", "2020-03-17", texts("third", 15))
    score_stream(layout, registry.champion(), offline_client())
    after = tables.query("SELECT * FROM counts WHERE batch_id = 'b0' ORDER BY ALL", ["counts"])
    pd.testing.assert_frame_equal(before, after)  # the first batch's counts untouched by the second run
    assert tables.tables["counts"].version() == version + 1  # one commit for the run's new rows
    mood = mood_series(*read_counts(tables), hourly_min_tweets=1000)
    from_counts = {(pd.Timestamp(p["start"]), label): n for p in mood["daily"] for label, n in p["counts"].items()
                   if n}
    assert from_counts == full_read_mood(settings, v1).to_dict() and mood["rows"] == 70


def one_scored_batch(settings: Settings, n: int) -> ModelRegistry:
    """A champion, and one batch of ``n`` tweets scored by it; the registry."""
    registry = local_registry(settings.layout().registry)
    train_champion(registry, seed=1)
    drop(settings, "b0", "2020-03-16", texts("first", n))
    score_stream(settings.layout(), registry.champion(), offline_client())
    return registry


def test_word_counts_split_hashtags_into_words_per_hour_and_class(settings):
    layout = settings.layout()
    one_scored_batch(settings, 10)
    words = ScoredStream(layout.stream).query("SELECT word, sum(n) AS n FROM words GROUP BY word", ["words"])
    per_word = dict(zip(words["word"], words["n"], strict=True))
    assert per_word["stay"] == per_word["home"] == per_word["masks"] == per_word["first"] == 10
    assert "stayhome" not in per_word and "#stayhome" not in per_word


def test_a_duplicate_is_found_by_looking_up_the_files_hashes(settings):
    drop(settings, "b0", "2020-03-16", texts("first", 10))
    ledger = drop(settings, "b1", "2020-03-17", [*texts("first", 3), "a new one"])
    assert (ledger["rows_accepted"], ledger["rows_quarantined"]) == (1, 3)
    tables = ScoredStream(settings.layout().stream)
    found = tables.known_labels([text_hash("first tweet 0 #StayHome masks"), text_hash("never seen")], {"b9"})
    assert found == {text_hash("first tweet 0 #StayHome masks"): ("", "batch b0")}
    assert tables.known_labels([text_hash("first tweet 0 #StayHome masks")], {"b0"}) == {}  # a retried batch's own


def test_retention_leaves_counts_and_hashes_and_keeps_the_drift_reference(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    for i in range(4):
        drop(settings, f"b{i}", f"2020-03-1{6 + i}", texts(f"day{i}"))
    score_stream(layout, registry.champion(), offline_client())
    tables = ScoredStream(layout.stream)
    mood = mood_series(*read_counts(tables), 1000)
    assert expire_stream(settings, now=datetime.now(UTC) + timedelta(days=6))["expired_batches"] == 0
    done = expire_stream(settings, now=datetime.now(UTC) + timedelta(days=8))
    assert done == {"expired_batches": 3, "expired_rows": 60}  # b0 holds the drift reference: kept
    assert tables.live_batches()["batch_id"].tolist() == ["b0"]
    assert set(tables.query("SELECT DISTINCT batch_id FROM rows", ["rows"])["batch_id"]) == {"b0"}
    assert set(tables.query("SELECT DISTINCT batch_id FROM vectors", ["vectors"])["batch_id"]) == {"b0"}
    assert mood_series(*read_counts(tables), 1000)["daily"] == mood["daily"]  # the counts stay
    assert drop(settings, "b5", "2020-03-20", texts("day3", 2))["rows_quarantined"] == 2  # hashes stay
    train_champion(registry, seed=7)
    run = score_stream(layout, registry.champion(), offline_client())
    assert run["rescored_rows"] == 20  # only the kept batch: expired texts cannot be re-scored
    assert {c["version"]: c["rows"] for c in coverage(tables)} == {v1: 80, registry.champion_version(): 20}
    maintain_scored_stream(settings, vacuum_after_hours=0)  # the deleted rows' files leave the disk
    assert [pq.read_metadata(p).num_rows for p in (layout.stream / "rows").glob("*.parquet")] == [20]


def test_scoring_and_drift_write_nothing_into_the_training_feature_cache(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    train_champion(registry, seed=1)
    drop(settings, "b0", "2020-03-16", texts("first", 60))
    drop(settings, "b1", "2020-03-17", texts("second", 60))
    score_stream(layout, registry.champion(), offline_client())
    report = run_drift_check(replace(settings, drift_window_rows=60), registry.champion(), offline_client(), "stream")
    assert report["status"] == "checked" and report["window"]["rows"] == 60
    assert not layout.embeddings.exists() or not any(p.is_file() for p in layout.embeddings.rglob("*"))
    stored = ScoredStream(layout.stream).read_vectors(["b0", "b1"])
    assert len(stored) == 120 and len(stored["embedding"].iloc[0]) == 4 * 8


def test_housekeeping_compacts_every_table_and_every_answer_stays(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    train_champion(registry, seed=1)
    for i in range(5):
        drop(settings, f"b{i}", "2020-03-16", texts(f"n{i}", 10))
        score_stream(layout, registry.champion(), offline_client())
    tables = ScoredStream(layout.stream)
    before = (read_scores(layout), mood_series(*read_counts(tables), 1000)["daily"])
    files = len(tables.tables["scores"].table().file_uris())
    result = maintain_scored_stream(settings, vacuum_after_hours=0)
    assert result["tables"]["scores"]["files_removed"] == files
    assert len(tables.tables["scores"].table().file_uris()) == 1
    after = (read_scores(layout), mood_series(*read_counts(tables), 1000)["daily"])
    pd.testing.assert_frame_equal(before[0], after[0])
    assert [{k: v for k, v in p.items()} for p in before[1]] == after[1]
    assert np.isclose(after[0]["confidence"].mean(), before[0]["confidence"].mean())


def test_a_run_that_died_before_its_manifest_is_scored_again_without_counting_twice(settings):
    layout = settings.layout()
    registry = one_scored_batch(settings, 30)
    tables = ScoredStream(layout.stream)
    tables.tables["scored"].delete("batch_id = 'b0'")  # died after its scores and counts, before the manifest
    assert len(tables.to_score(registry.champion_version())[0]) == 1
    assert score_stream(layout, registry.champion(), offline_client())["scored_rows"] == 30
    assert mood_series(*read_counts(tables), 1000)["rows"] == 30 and len(read_scores(layout)) == 30
    assert len(tables.read_vectors(["b0"])) == 30
