"""The scoring DAG's tasks in order, without Airflow: what a run does on new files, on a promotion (re-scoring),
with nothing to do (a skip with its reason); and the labelling queue re-annotated for a new champion while
annotators label from other processes, no label lost."""

import dataclasses
import multiprocessing
from pathlib import Path

import pytest
from PIL import Image
from stream_support import cache_vectors, train_champion
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import QUEUED, load_items
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.monitoring.mood import chart_points
from tweet_sentiment.monitoring.scoring import read_scores
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.pipeline.score import (
    archive_unlabelled,
    check_drift,
    claim_unlabelled,
    rescore_queue,
    score_in_process,
    sense_scoring,
    update_mood,
)
from tweet_sentiment.pipeline.sensing import GO, SKIP, WAIT
from tweet_sentiment.storage.database import dispose_engines, read_connection
from tweet_sentiment.storage.fs import DataLayout, read_json
from tweet_sentiment.text import clean_tweet

OPTIONS = ScoreOptions()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_root=str(tmp_path / "data"), infinity_url="http://127.0.0.1:9", embed_retries=0,
                    file_settle_s=0, drift_window_rows=60, mood_hourly_min_tweets=10)


def drop(settings: Settings, name: str, rows: list[tuple[str, str]], shift: float = 0.0) -> None:
    layout = settings.layout()
    layout.ensure()
    body = "".join(f'{when},"{text}"\n' for when, text in rows)
    (layout.unlabelled / name).write_text(f"TweetAt,OriginalTweet\n{body}")
    cache_vectors(layout, [clean_tweet(t) for _, t in rows], shift)


def run(settings: Settings, run_id: str) -> dict:
    """One scoring run, task by task, as the DAG wires them."""
    ledger = claim_unlabelled(settings, run_id)
    scored = score_in_process(settings, OPTIONS)
    parts = {"score": scored, "mood": update_mood(settings, scored), "drift": check_drift(settings, scored, OPTIONS),
             "labelling_queue": rescore_queue(settings)}
    return archive_unlabelled(settings, ledger, parts)


def test_files_then_a_promotion_then_nothing(settings):
    layout = settings.layout()
    (layout.unlabelled).mkdir(parents=True)
    (layout.unlabelled / "early.csv").write_text("OriginalTweet\nwaiting for a champion\n")
    assert sense_scoring(settings, OPTIONS) == (SKIP, "no champion yet: 1 file(s) wait in the unlabelled inbox")
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    cache_vectors(layout, ["waiting for a champion"])
    drop(settings, "a.csv", [(f"2021-12-30 23:{i % 60:02d}:00", f"calm tweet {i}") for i in range(60)])
    drop(settings, "b.csv", [(f"2022-12-30 22:{i % 60:02d}:00", f"omicron tweet {i}") for i in range(60)], shift=3)
    assert sense_scoring(settings, OPTIONS).action == GO
    first = run(settings, "run1")
    assert first["ledger"]["rows_accepted"] == 121 and first["score"]["scored_rows"] == 121
    assert first["drift"]["status"] == "checked" and first["drift"]["drifted"] and first["drift"]["auc"] > 0.55
    assert first["mood"]["versions"] == [v1] and first["timings_s"]["score"] >= 0
    assert sorted(first["archived"]) == ["a.csv.gz", "b.csv.gz", "early.csv.gz"]  # compressed
    assert Image.open(Path(layout.mood / "mood.png")).size[0] > 500
    assert sense_scoring(settings, OPTIONS).action == SKIP
    v2 = train_champion(registry, seed=5, reason="better")
    assert sense_scoring(settings, OPTIONS) == (GO, f"champion {v2}: 0 batch(es) to score, 1 scored by another "
                                                    "champion to re-score (121 tweets)")
    second = run(settings, "run2")
    assert (second["score"]["scored_rows"], second["score"]["rescored_rows"]) == (0, 121)
    assert set(read_scores(layout)["champion_version"]) == {v2}
    mood = read_json(layout.mood / "mood.json")
    assert mood["champion_version"] == v2 and {p["champion_version"] for p in chart_points(mood, v2)} == {v2}
    assert {c["version"]: c["share"] for c in mood["coverage"]} == {v1: 1.0, v2: 1.0}
    assert read_json(layout.mood / "drift.json")["champion_version"] == v2
    skip = sense_scoring(settings, OPTIONS)
    assert skip.action == SKIP and "every batch is scored by the champion" in skip.reason
    assert sense_scoring(settings, ScoreOptions("training")).action == GO  # another reference asked for
    assert sense_scoring(settings, ScoreOptions(rescore_all=True)).action == GO


def _label_from_another_process(root: str, ids: list[str], annotator: str) -> None:
    dispose_engines()  # a forked child opens its own connections
    queue = LabellingQueue(DataLayout(root), Settings(data_root=root).state_db, predictor=None, max_chars=1000)
    for item_id in ids:
        queue.record(item_id, "Negative", annotator)


def test_a_new_champion_reannotates_the_queue_and_labels_from_other_processes_are_kept(settings):
    layout = settings.layout()
    layout.ensure()
    registry = local_registry(layout.registry)
    v1 = train_champion(registry, seed=1)
    texts = [f"queued tweet {i}" for i in range(120)]
    cache_vectors(layout, texts)
    with infinity_client(settings) as client:
        queue = LabellingQueue(layout, settings.state_db, Predictor(registry, client, layout.embeddings), 1000)
        csv = "OriginalTweet\n" + "".join(f"{t}\n" for t in texts)
        assert queue.load("up.csv", csv.encode(), limit=120).queued == 120
    ids = [item["id"] for item in queue.view(limit=500)["items"]]
    v2 = train_champion(registry, seed=5)
    context = multiprocessing.get_context("fork")
    annotators = [context.Process(target=_label_from_another_process, args=(settings.data_root, ids[i::3], f"a{i}"))
                  for i in range(3)]
    for proc in annotators:
        proc.start()
    done = rescore_queue(settings)
    for proc in annotators:
        proc.join(60)
        assert proc.exitcode == 0
    with read_connection(settings.state_db) as connection:
        items = load_items(connection, QUEUED)
    labelled = {item["id"]: item for item in items if item["label"] is not None}
    assert set(labelled) == set(ids), "a label was lost"
    assert done["version"] == v2 and done["rescored"] + done["labelled_kept"] >= 0
    pending = [item for item in items if item["label"] is None]
    assert all(item["version"] == v2 for item in pending)
    assert {item["version"] for item in labelled.values()} <= {v1, v2}


def test_while_drift_holds_a_share_of_a_load_comes_from_the_drifted_window(settings):
    from tweet_sentiment.labelling.sources import DRIFT_SOURCE
    from tweet_sentiment.monitoring.drift_check import drift_candidates

    layout = settings.layout()
    registry = local_registry(layout.registry)
    train_champion(registry, seed=1)
    drop(settings, "a.csv", [("2021-12-30 23:00:00", f"calm tweet {i}") for i in range(60)])
    drop(settings, "b.csv", [("2022-12-30 22:00:00", f"omicron tweet {i}") for i in range(60)], shift=3)
    run(settings, "run1")
    drifted = drift_candidates(layout)
    assert drifted is not None and drifted["text"].str.startswith("omicron").all()
    texts = [f"file tweet {i}" for i in range(20)]
    cache_vectors(layout, texts)
    with infinity_client(settings) as client:
        queue = LabellingQueue(layout, settings.state_db, Predictor(registry, client, layout.embeddings), 1000)
        csv = ("OriginalTweet\n" + "".join(f"{t}\n" for t in texts)).encode()
        report = queue.load("file.csv", csv, limit=10, resume=True, drifted=drifted, drift_share=0.4)
        again = queue.load("file.csv", csv, limit=10, resume=True, drifted=drifted, drift_share=0.4)
    assert report.to_dict()["from_drifted_window"] == 4 and report.queued == 10
    items = queue.view(limit=500)["items"]
    from_window = [i for i in items if i["source"] == DRIFT_SOURCE]
    assert len(from_window) == 8 and len({i["id"] for i in from_window}) == 8  # the second load takes the next ones
    assert all(i["text"].startswith("omicron") and i["TweetAt"].startswith("2022-12-30") for i in from_window)
    assert again.queued == 10 and sum(i["source"] == "file.csv" for i in items) == 12


def test_a_file_still_being_written_is_waited_for_not_left_to_the_next_tick(settings):
    """A feed records its event right after its file: the run the event starts waits for the file to settle."""
    layout = settings.layout()
    train_champion(local_registry(layout.registry), seed=1)
    drop(settings, "chunk.csv", [("2022-12-30 22:00:00", "a tweet")])
    settling = dataclasses.replace(settings, file_settle_s=3600)
    assert sense_scoring(settling, OPTIONS) == (WAIT, "1 unlabelled file(s) still being written (changed less than "
                                                      "3600 s ago)")
    assert sense_scoring(settings, OPTIONS).action == GO
