"""The migration of the scoring stream's per-batch parquet files to the stream's tables, on files written by the
code before the tables (its modules read from git at the commit the tables branched from): every row and score
arrives once, the mood from the migrated counts is the old code's mood, the old vectors are copied, and a second
run (or one after a death) changes nothing."""

import subprocess
import types
from pathlib import Path

import pandas as pd
import pytest
from stream_support import cache_vectors, offline_client, train_champion
from support import local_registry

from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.monitoring.mood import mood_series, read_counts
from tweet_sentiment.monitoring.scoring import read_scores, score_stream
from tweet_sentiment.monitoring.stream_migration import migrate_scored_stream
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import ScoredStream

BEFORE_TABLES = "6b32e4b"  # the last commit whose scoring stream wrote one parquet file per batch
REPO = Path(__file__).resolve().parents[2]


def old_module(path: str) -> types.ModuleType:
    """A module of the product as it was at BEFORE_TABLES (its source from git, run against today's helpers)."""
    source = subprocess.run(["git", "show", f"{BEFORE_TABLES}:include/{path}"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"old_{Path(path).stem}")
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def old_batch_store() -> type:
    """The old per-batch parquet store (its source at BEFORE_TABLES), asked as today's ingest asks a store."""
    old = old_module("tweet_sentiment/storage/batch_store.py").BatchStore

    class OldBatchStore(old):
        def known_labels(self, hashes, exclude=()):
            known = super().known_labels(set(exclude))
            return {h: known[h] for h in hashes if h in known}

    return OldBatchStore


@pytest.fixture
def old_stream(tmp_path):
    """A data root whose scoring stream was written by the old code: three batches, the last scored by a second
    champion (a promotion: the old code re-scored the first two with it)."""
    layout = DataLayout(tmp_path / "data")
    layout.ensure()
    old_intake = old_module("tweet_sentiment/intake/unlabelled.py")
    scoring = old_module("tweet_sentiment/monitoring/scoring.py")
    old_intake.BatchStore = scoring.BatchStore = old_batch_store()  # they wrote through the old store
    ingest = old_intake.ingest_unlabelled
    registry = local_registry(layout.registry)
    train_champion(registry, seed=1)
    for i, day in enumerate(["2020-03-16", "2020-03-17", "2020-03-18"]):
        texts = [f"day {i} tweet {j} about masks" for j in range(30)]
        body = "".join(f'{day} 1{j % 10}:00:00,"{t}",{"Negative" if j % 3 else ""}\n' for j, t in enumerate(texts))
        (layout.unlabelled / f"b{i}.csv").write_text(f"TweetAt,OriginalTweet,Sentiment\n{body}")
        claim(layout, f"b{i}", 0, layout.unlabelled_stream)
        ingest(layout, f"b{i}", 1000)
        archive_claimed(layout.unlabelled_stream, f"b{i}")
        cache_vectors(layout, texts)
        if i == 2:
            train_champion(registry, seed=7)
            scoring.score_stream(layout, registry.champion(), offline_client())  # b0..b1 re-scored too
        elif i == 0:
            scoring.score_stream(layout, registry.champion(), offline_client())
    assert (layout.scores / "b1.parquet").exists() and not (layout.stream / "rows").exists()
    return layout, scoring


def test_the_old_files_migrate_once_with_their_scores_mood_and_vectors(old_stream):
    layout, scoring = old_stream
    old = scoring.read_scores(layout)
    done = migrate_scored_stream(layout)
    assert done == {"batches": 3, "rows": 90, "scored_rows": 90, "vectors": 90}
    new = read_scores(layout)
    columns = ["batch_id", "text", "text_hash", "tweet_at", "annotated", "label", "confidence", "champion_version"]
    pd.testing.assert_frame_equal(new[columns].reset_index(drop=True), old[columns].reset_index(drop=True),
                                  check_dtype=False)
    old_mood = old_module("tweet_sentiment/monitoring/mood.py")
    expected = old_mood.mood_series(scoring.read_scores(layout, old_mood.MOOD_COLUMNS), 5)["series"]
    series = mood_series(*read_counts(ScoredStream(layout.stream)), 5)["series"]
    assert [{k: p[k] for k in ("start", "champion_version", "n", "counts", "mean_confidence", "annotated")}
            for p in series] == [{k: p[k] for k in ("start", "champion_version", "n", "counts", "mean_confidence",
                                                     "annotated")} for p in expected]
    assert migrate_scored_stream(layout) == {"batches": 0, "rows": 0, "scored_rows": 0, "vectors": 0}
    pd.testing.assert_frame_equal(read_scores(layout), new)
    version = local_registry(layout.registry).champion_version()
    assert all(part.empty for part in ScoredStream(layout.stream).to_score(version))  # nothing left to score


def test_a_new_champion_rescores_migrated_batches_from_the_copied_vectors(old_stream):
    layout, _ = old_stream
    migrate_scored_stream(layout)
    registry = local_registry(layout.registry)
    train_champion(registry, seed=11)
    run = score_stream(layout, registry.champion(), offline_client())  # offline: nothing may be embedded
    assert run["rescored_rows"] == 90 and set(read_scores(layout)["champion_version"]) == {
        registry.champion_version()}
