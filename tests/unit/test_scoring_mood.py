"""Scoring the unlabelled stream with one pinned champion, re-scoring on a promotion and a rollback (stored
vectors: nothing embedded), new tweets first and the history in bounded chunks, newest first; and the mood series
read from the incremental counts, whose points each name the version that scored them."""

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest
from stream_support import cache_vectors, offline_client, train_champion
from support import local_registry

from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.unlabelled import ingest_unlabelled
from tweet_sentiment.monitoring.mood import chart_points, count_rows, mood_series, read_counts
from tweet_sentiment.monitoring.scoring import read_scores, score_batches, score_stream, scoring_log
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import PROBABILITY_COLUMNS, ScoredStream


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def drop(layout: DataLayout, batch_id: str, rows: list[tuple[str, str]]) -> None:
    """One unlabelled file of (TweetAt, text) rows, claimed and ingested as ``batch_id``, its vectors cached."""
    lines = "".join(f'{when},"{text}"\n' for when, text in rows)
    (layout.unlabelled / f"{batch_id}.csv").write_text(f"TweetAt,OriginalTweet\n{lines}")
    claim(layout, batch_id, 0, layout.unlabelled_stream)
    ingest_unlabelled(layout, batch_id, 1000)
    archive_claimed(layout.unlabelled_stream, batch_id)
    cache_vectors(layout, [text for _, text in rows])


def tweets(day: str, n: int, prefix: str) -> list[tuple[str, str]]:
    return [(f"{day} 23:{i % 60:02d}:00", f"{prefix} tweet number {i} about covid") for i in range(n)]


def test_new_batches_are_scored_by_the_pinned_champion_and_name_its_version(layout):
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    drop(layout, "b1", tweets("2021-12-30", 30, "first"))
    done = score_stream(layout, registry.champion(), offline_client())
    assert (done["version"], done["scored_rows"], done["rescored_rows"]) == (v1, 30, 0)
    scores = read_scores(layout)
    assert {"text", "tweet_at", "label", "confidence", "champion_version", *PROBABILITY_COLUMNS} <= set(scores)
    assert set(scores["champion_version"]) == {v1} and set(scores["label"]) <= set(LABELS)
    probabilities = scores[[f"p_{label}" for label in LABELS]].to_numpy()
    assert probabilities.sum(axis=1) == pytest.approx(1, abs=1e-5)
    assert scores["confidence"].to_numpy() == pytest.approx(probabilities.max(axis=1))
    assert score_stream(layout, registry.champion(), offline_client())["scored_rows"] == 0  # nothing new


def test_a_promotion_rescores_every_batch_and_a_rollback_rescores_with_the_old_champion(layout):
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    drop(layout, "b1", tweets("2021-12-30", 40, "first"))
    drop(layout, "b2", tweets("2022-12-30", 40, "second"))
    score_stream(layout, registry.champion(), offline_client())
    first = read_scores(layout)
    v2 = train_champion(registry, seed=7, reason="better")
    new, stale = ScoredStream(layout.stream).to_score(v2)
    assert new.empty and stale["batch_id"].tolist() == ["b2", "b1"]  # newest first
    done = score_stream(layout, registry.champion(), offline_client())
    assert (done["scored_rows"], done["rescored_rows"], done["rescored_batches"]) == (0, 80, 2)
    second = read_scores(layout)
    assert set(second["champion_version"]) == {v2}
    assert not (first["confidence"].to_numpy() == second["confidence"].to_numpy()).all()  # another model answered
    registry.rollback(v1, "rollback by ann", expected=registry.champion_version())
    score_stream(layout, registry.champion(), offline_client())
    back = read_scores(layout)
    assert set(back["champion_version"]) == {v1}
    assert back["label"].tolist() == first["label"].tolist()
    assert [entry["version"] for entry in scoring_log(layout)] == [v1, v2, v1]
    assert scoring_log(layout)[1]["frontier"].startswith("2022-12-30T23:")


def test_mood_points_count_share_and_name_the_version_never_mixing_two(layout):
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    drop(layout, "b1", tweets("2021-12-30", 30, "first"))
    drop(layout, "b2", [(f"1{d}-03-2020", f"kaggle day {d} tweet {i}") for d in range(6, 8) for i in range(5)])
    score_stream(layout, registry.champion(), offline_client())
    # a promotion while the run was in flight: one batch re-scored by v2, the other still by v1
    v2 = train_champion(registry, seed=7)
    score_batches(ScoredStream(layout.stream), ["b1"], registry.champion(), offline_client())
    mood = mood_series(*read_counts(ScoredStream(layout.stream)), hourly_min_tweets=20)
    assert mood["versions"] == sorted([v1, v2]) and mood["rows"] == 40
    by_period = {(p["period"], p["champion_version"]): p for p in mood["series"]}
    assert set(by_period) == {("2020-03-16", v1), ("2020-03-17", v1), ("2021-12-30T23:00", v1),
                              ("2021-12-30T23:00", v2)}
    assert [p["champion_version"] for p in chart_points(mood, v2)] == [v1, v1, v2]  # one version per period
    hourly = by_period[("2021-12-30T23:00", v2)]
    assert hourly["resolution"] == "hour" and hourly["n"] == 30 and sum(hourly["counts"].values()) == 30
    assert sum(hourly["shares"].values()) == pytest.approx(1, abs=1e-3) and 0.2 < hourly["mean_confidence"] <= 1
    assert by_period[("2020-03-16", v1)]["resolution"] == "day"  # a date without a time is never split by hour
    assert [(p["period"], p["champion_version"]) for p in mood["daily"]] == [
        ("2020-03-16", v1), ("2020-03-17", v1), *sorted([("2021-12-30", v1), ("2021-12-30", v2)])]


def test_an_hour_with_too_few_tweets_keeps_its_day_whole_and_arrival_dates_are_counted(layout):
    when = pd.to_datetime(["2022-12-30 22:10", "2022-12-30 23:10", "2022-12-30 23:20"], utc=True)
    rows = pd.DataFrame({"batch_id": "b1", "tweet_at": when, "dated_by": ["tweet time", "tweet time", "arrival"],
                         "annotated": ["Neutral", "", ""]})
    scores = pd.DataFrame({"label": ["Neutral", "Positive", "Positive"], "confidence": [0.5, 0.7, 0.9],
                           "champion_version": "v1"})
    tables = ScoredStream(layout.stream)
    tables.tables["counts"].append(pa.Table.from_pandas(count_rows(rows, scores), preserve_index=False))
    mood = mood_series(*read_counts(tables), hourly_min_tweets=2)
    (point,) = mood["series"]
    assert (point["period"], point["resolution"], point["n"], point["arrival_dated"]) == ("2022-12-30", "day", 3, 1)
    assert point["mean_confidence"] == pytest.approx(0.7) and point["complete"]
    assert point["annotated"] == {"n": 1, "shares": {label: float(label == "Neutral") for label in LABELS}}
    assert mood["arrival_dated"] == 1 and point["start"] == datetime(2022, 12, 30, tzinfo=UTC).isoformat()
    assert mood_series(*read_counts(tables), hourly_min_tweets=1)["series"][0]["resolution"] == "hour"


def test_the_chart_draws_the_annotated_shares_below_the_predicted_ones_where_a_source_has_labels(layout):
    from PIL import Image

    from tweet_sentiment.model.charts import mood_png
    from tweet_sentiment.monitoring.mood import champion_changes, champion_marks

    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    rows = "".join(f'1{d}-03-2020,"kaggle day {d} tweet {i}",{LABELS[i % 5]}\n' for d in range(2, 6) for i in range(10))
    (layout.unlabelled / "kaggle.csv").write_text(f"TweetAt,OriginalTweet,Sentiment\n{rows}")
    claim(layout, "k", 0, layout.unlabelled_stream)
    ingest_unlabelled(layout, "k", 1000)
    cache_vectors(layout, [f"kaggle day {d} tweet {i}" for d in range(2, 6) for i in range(10)])
    score_stream(layout, registry.champion(), offline_client())
    v2 = train_champion(registry, seed=5)
    score_stream(layout, registry.champion(), offline_client())
    mood = mood_series(*read_counts(ScoredStream(layout.stream)), 100)
    assert all(p["annotated"] == {"n": 10, "shares": dict.fromkeys(LABELS, 0.2)} for p in mood["daily"])
    points = chart_points(mood, v2)
    changes = champion_changes(scoring_log(layout), registry.history())
    assert [(c["version"], c["previous"], c["action"]) for c in changes] == [(v1, None, "promote"), (v2, v1, "promote")]
    assert champion_marks(points, changes) == [{"x": 3.5, "version": v2, "action": "promote"}]  # after the last day
    path = mood_png(points, champion_marks(points, changes), layout.mood / "mood.png", "test")
    width, height = Image.open(path).size
    assert width > 800 and height > 600  # two panels: predicted, then annotated
