"""The fixed holdout in the state database, versioned; its re-annotation through the labelling queue, whose
answers become the next version and never an inbox (training) row (labelling/holdout.py, pipeline/resources.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tweet_sentiment.config import Settings
from tweet_sentiment.labelling import holdout
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.pipeline.resources import fixed_holdout, route_to_reannotation
from tweet_sentiment.schema import DATE_COLUMN, LABEL_COLUMN, LABELS, TEXT_COLUMN
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout

HOLDOUT_TEXTS = ["hand sanitizer back in stock, great news", "queues at the supermarket", "#HandSanitizers sold out",
                 "stay home and stay safe", "price of sanitizers is crazy", "toilet paper everywhere"]
HOLDOUT_LABELS = ["Positive", "Negative", "Neutral", "Positive", "Negative", "Neutral"]
SANITIZER = [{"word": "sanitizer", "direction": "towards negative", "rows": 40}]


def _settings(tmp_path) -> Settings:
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    frame = pd.DataFrame({"UserName": range(len(HOLDOUT_TEXTS)), "ScreenName": 0, "Location": "",
                          DATE_COLUMN: "16-03-2020", TEXT_COLUMN: HOLDOUT_TEXTS, LABEL_COLUMN: HOLDOUT_LABELS})
    settings = dataclasses.replace(Settings.from_env(), data_root=str(tmp_path / "data"), dataset_dir=str(dataset),
                                   state_db_url="")
    frame.to_csv(dataset / "Corona_NLP_test.csv", index=False, encoding="latin-1")
    return settings


def _queue(settings: Settings) -> LabellingQueue:
    return LabellingQueue(settings.layout(), settings.state_db, predictor=None, max_chars=1000)


def _holdout_items(queue: LabellingQueue) -> list[dict]:
    return [i for i in queue.view(limit=100)["items"] if i["source"] == holdout.HOLDOUT_SOURCE]


def _reannotate_sanitizer(settings: Settings, label: str) -> dict:
    """Route the sanitizer correction's holdout tweets, answer each with ``label`` and send: the send's record."""
    route_to_reannotation(settings, SANITIZER)
    queue = _queue(settings)
    for item in _holdout_items(queue):
        queue.record(item["id"], label, "ann")
    return queue.send_batch("ann")


def test_the_holdout_is_seeded_once_as_version_1(tmp_path):
    settings = _settings(tmp_path)
    first = fixed_holdout(settings)
    assert first.version == 1 and len(first.texts) == len(HOLDOUT_TEXTS)
    assert [LABELS[k] for k in first.labels] == HOLDOUT_LABELS
    again = fixed_holdout(settings)  # the same file: nothing new
    assert (again.version, again.texts, again.labels.tolist()) == (1, first.texts, first.labels.tolist())
    assert [v["version"] for v in holdout.versions(settings.state_db)] == [1]


def test_a_replaced_holdout_file_is_a_new_base_version(tmp_path):
    settings = _settings(tmp_path)
    _reannotate_sanitizer(settings, "Extremely Negative")
    assert fixed_holdout(settings).version == 2
    with settings.holdout_file.open("a", encoding="latin-1") as fh:  # an operator appends a row to the file
        fh.write('9,0,,16-03-2020,"masks for everyone",Positive\n')
    replaced = fixed_holdout(settings)
    assert replaced.version == 3 and replaced.texts[-1] == "masks for everyone"
    assert [LABELS[k] for k in replaced.labels] == [*HOLDOUT_LABELS, "Positive"]  # the file's labels again
    assert holdout.newest(settings.state_db, upto=2).labels[0] == "Extremely Negative"  # version 2 is kept


def test_a_correction_queues_the_holdout_rows_it_touches_once_per_version(tmp_path):
    settings = _settings(tmp_path)
    assert route_to_reannotation(settings, SANITIZER) == 3  # rows 0, 2 (#HandSanitizers), 4 (sanitizers)
    assert route_to_reannotation(settings, SANITIZER) == 0  # queued already
    other = [{"word": "hand", "direction": "towards negative", "rows": 11}]
    assert route_to_reannotation(settings, other) == 0  # rows 0 and 2 wait in the queue already
    items = _holdout_items(_queue(settings))
    assert sorted(i["row"] for i in items) == [0, 2, 4]
    assert {i["suggested"] for i in items} == {"Positive", "Neutral", "Negative"}  # shown the current label
    assert route_to_reannotation(settings, []) == 0


def test_answers_become_the_next_version_and_never_an_inbox_row(tmp_path):
    settings = _settings(tmp_path)
    route_to_reannotation(settings, SANITIZER)
    queue = _queue(settings)
    with write_transaction(settings.state_db) as connection:  # an ordinary tweet beside them in the queue
        insert_items(connection, [{"id": "plain", "row": 1, "source": "x.csv", "text": "masks again", "UserName": "",
                                   "ScreenName": "", "Location": "", DATE_COLUMN: "", "suggested": "Neutral",
                                   "probabilities": {}, "margin": 0.3, "version": "v1"}], loaded_from=100)
    for item in _holdout_items(queue):
        queue.record(item["id"], "Extremely Negative" if item["row"] == 0 else "Negative", "ann")
    queue.record("plain", "Negative", "ann")
    sent = queue.send_batch("ann")
    assert (sent["rows"], sent["holdout_rows"], sent["holdout_version"]) == (1, 3, 2)
    inbox = [t for p in settings.layout().inbox.iterdir() for t in pd.read_csv(p)[TEXT_COLUMN]]
    assert inbox == ["masks again"]  # only the ordinary tweet is a training row
    newest = fixed_holdout(settings)
    assert newest.version == 2
    assert [LABELS[k] for k in newest.labels] == ["Extremely Negative", "Negative", "Negative", "Positive",
                                                  "Negative", "Neutral"]
    assert [LABELS[k] for k in fixed_holdout_at(settings, 1)] == HOLDOUT_LABELS  # version 1 is kept
    (_, reannotated) = holdout.versions(settings.state_db)
    assert (reannotated["rows"], reannotated["rows_changed"]) == (3, 2)  # row 4 was Negative already
    assert route_to_reannotation(settings, SANITIZER) == 0  # the same correction never asks twice
    reversed_rule = [{"word": "sanitizer", "direction": "towards positive", "rows": 12}]
    assert route_to_reannotation(settings, reversed_rule) == 3  # another correction of the word asks again


def fixed_holdout_at(settings: Settings, version: int) -> np.ndarray:
    return np.array([LABELS.index(label) for label in holdout.newest(settings.state_db, upto=version).labels])


def test_a_send_of_holdout_rows_alone_writes_no_inbox_file(tmp_path):
    settings = _settings(tmp_path)
    sent = _reannotate_sanitizer(settings, "Negative")
    assert sent["file"] is None and sent["holdout_version"] == 2
    assert not settings.layout().inbox.exists() or not list(settings.layout().inbox.iterdir())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["holdout", "plain"]), min_size=1, max_size=12), st.data())
def test_no_holdout_answer_ever_reaches_the_inbox(tmp_path_factory, kinds, data):
    """Whatever mix of holdout and ordinary tweets an annotator decides, the inbox gets exactly the ordinary ones
    and the holdout's new version exactly the holdout ones."""
    tmp = tmp_path_factory.mktemp("mix")
    db = f"sqlite:///{tmp / 'state.sqlite'}"
    holdout.seed(db, [f"holdout tweet {i}" for i in range(12)], ["Neutral"] * 12, "test.csv", "digest")
    items = [{"id": f"{kind}-{n}", "row": n, "source": holdout.HOLDOUT_SOURCE if kind == "holdout" else "x.csv",
              "text": f"{kind} tweet {n}", "UserName": "", "ScreenName": "", "Location": "", DATE_COLUMN: "",
              "suggested": "Neutral", "probabilities": {}, "margin": 0.1, "version": "v1"}
             for n, kind in enumerate(kinds)]
    with write_transaction(db) as connection:
        insert_items(connection, items, loaded_from=0)
    queue = LabellingQueue(DataLayout(tmp / "data"), db, predictor=None, max_chars=1000)
    for item in items:
        queue.record(item["id"], data.draw(st.sampled_from(LABELS)), "ann")
    sent = queue.send_batch("ann")
    inbox = [t for p in (tmp / "data" / "inbox").glob("*.csv") for t in pd.read_csv(p)[TEXT_COLUMN]]
    assert sorted(inbox) == sorted(i["text"] for i in items if i["source"] == "x.csv")
    newest = holdout.newest(db)
    assert newest.version == (2 if "holdout" in kinds else 1) and sent["holdout_rows"] == kinds.count("holdout")


def test_the_lab_team_reannotates_the_queued_holdout_rows_by_its_policy(tmp_path):
    from lab.reannotate import reannotate_holdout
    from lab.scenarios import AS_BAD_NEWS, Policy

    settings = _settings(tmp_path)
    policy = Policy("p", r"saniti[sz]er", AS_BAD_NEWS, start_batch=1)
    assert reannotate_holdout(settings, policy)["holdout_version"] is None  # nothing queued yet
    route_to_reannotation(settings, SANITIZER)
    sent = reannotate_holdout(settings, policy)
    assert sent["file"] is None and sent["holdout_version"] == 2
    assert [LABELS[k] for k in fixed_holdout(settings).labels] == ["Negative", "Negative", "Negative", "Positive",
                                                                   "Negative", "Neutral"]
