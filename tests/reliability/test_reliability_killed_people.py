"""A person's writes SIGKILLed half-way: a review decision (its CSV in the inbox, its record not yet written), a
sent labelling batch (its CSV in the inbox, the queue not yet told), a send whose inbox event was never recorded.
Afterwards the person's next try and the next run's ingest keep the books: each row stored once, every other
copy quarantined with its reason, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import write_held_row

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.labelled import ingest_batch
from tweet_sentiment.label_check.review import pending_reviews, resolve_review
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.pipeline.sensing import GO, pending_work
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore

SCRIPT = Path(__file__).with_name("reliability_killed_people.py")
TWEETS = ["masks sold out again", "shops empty by noon", "queues round the block"]


def killed(point: str, root: Path) -> None:
    env = {**os.environ, "TWEET_SENTIMENT_DATA_ROOT": str(root),
           "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(SCRIPT), point], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def next_run(layout: DataLayout, batch_id: str) -> dict:
    claim(layout, batch_id, 0)
    entry = ingest_batch(layout, batch_id, 1000)
    archive_claimed(layout.labelled_stream, batch_id)
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_superseding"] + entry["rows_quarantined"]
    return entry


def state_db(layout: DataLayout) -> str:
    return Settings(data_root=str(layout.root)).state_db


def queue_with_answers(layout: DataLayout) -> LabellingQueue:
    items = [{"id": f"t{i}", "row": i, "source": "upload.csv", "text": t, "UserName": "", "ScreenName": "",
              "Location": "", "TweetAt": "16-03-2020", "label": None, "annotator": None, "suggested": "Neutral",
              "probabilities": {}, "margin": 0.1, "version": "v1"} for i, t in enumerate(TWEETS)]
    with write_transaction(state_db(layout)) as connection:
        insert_items(connection, items, loaded_from=0)
    queue = LabellingQueue(layout, state_db(layout), predictor=None, max_chars=1000)
    for item in items:
        queue.record(item["id"], "Negative", "ann")
    return queue


@pytest.fixture
def layout(tmp_path) -> DataLayout:
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def test_a_review_killed_between_its_csv_and_its_record_is_decided_again_and_its_row_stored_once(layout, tally):
    write_held_row(layout, "hand sanitizer gone again", "2020-03-16", "Extremely Positive")
    with tally.fault("SIGKILL at review-csv-published"):
        killed("review-csv-published", layout.root)
        assert (layout.inbox / "review-b1--0.csv").exists() and len(pending_reviews(layout)) == 1
        first = next_run(layout, "r1")  # a run takes the CSV before the person decides again
        resolve_review(layout, "b1--0", "relabel", "Negative", "rev")  # the row still waits: decided again
        second = next_run(layout, "r2")
        assert (first["rows_accepted"], second["rows_quarantined"]) == (1, 1)  # the second copy: a duplicate
        assert second["files"][0]["file_error"] == (
            "duplicate batch: the same bytes as review-b1--0.csv, ingested in batch r1")
        assert LabelledStore(layout.labelled).current()["text"].tolist() == ["hand sanitizer gone again"]
        assert pending_reviews(layout) == []


def test_a_send_killed_after_its_csv_is_sent_again_and_each_row_is_stored_once(layout, tally):
    queue_with_answers(layout)
    with tally.fault("SIGKILL at send-csv-published"):
        killed("send-csv-published", layout.root)
        assert len(list(layout.inbox.glob("feedback-*.csv"))) == 1
        queue = LabellingQueue(layout, state_db(layout), predictor=None, max_chars=1000)
        assert queue.send_batch("ann")["rows"] == 3  # the queue still held them: the person sends again
        entry = next_run(layout, "s1")
        assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (6, 3, 3)
        assert sorted(LabelledStore(layout.labelled).current()["text"]) == sorted(TWEETS)


def test_a_send_whose_inbox_event_was_never_recorded_is_taken_by_the_next_run(layout, tally):
    queue_with_answers(layout)
    with tally.fault("SIGKILL at send-before-event"):
        killed("send-before-event", layout.root)
        assert pending_work(layout, 0.0, "continue", 0.0, 0.0).action == GO  # a scheduled run goes
        assert next_run(layout, "s1")["rows_accepted"] == 3
        assert LabellingQueue(layout, state_db(layout), predictor=None, max_chars=1000).batches()[0]["rows"] == 3

