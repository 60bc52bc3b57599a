"""What a run's first task decides: go, wait a little, or end skipped at once with the reason."""

import os
import time

import pandas as pd
import pytest

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.sensing import GO, SKIP, WAIT, pending_work
from tweet_sentiment.schema import STORE_COLUMNS
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def settled(path, data=b"x"):
    path.write_bytes(data)
    os.utime(path, (time.time() - 60, time.time() - 60))


def store_one_batch(layout):
    rows = pd.DataFrame([{c: "x" for c in STORE_COLUMNS} | {"source_row": 1, "seq": 0, "recent_holdout": False,
                                                            "label_weight": 1.0}])
    LabelledStore(layout.labelled).write_batch("old_batch", rows)


@pytest.mark.parametrize("strategy", ["continue", "refit"])
def test_complete_inbox_files_go_whatever_the_strategy(layout, strategy):
    settled(layout.inbox / "a.csv")
    settled(layout.inbox / "b.csv")
    assert pending_work(layout, 2, strategy, waited_s=0, wait_s=0) == (GO, "2 new file(s) in the inbox")


def test_a_failed_runs_claimed_files_go(layout):
    (layout.processing / "scheduled__dead").mkdir()
    settled(layout.processing / "scheduled__dead" / "a.csv")
    work = pending_work(layout, 2, "continue", 0, 0)
    assert work.action == GO and "1 claimed batch(es) of a failed run" in work.reason


def test_an_empty_inbox_skips_at_once_with_the_reason_and_the_way_out(layout):
    (layout.inbox / ".being-written.csv.tmp").write_bytes(b"x")  # a dot-file is nobody's input yet
    action, reason = pending_work(layout, 2, "continue", waited_s=0, wait_s=0)
    assert action == SKIP
    assert "nothing new in the inbox" in reason and "strategy=refit retrains on the labelled store" in reason


def test_an_empty_inbox_waits_only_as_long_as_the_setting_says(layout):
    action, reason = pending_work(layout, 2, "continue", waited_s=3, wait_s=10)
    assert action == WAIT and reason.endswith("; waiting up to 10 s")
    assert pending_work(layout, 2, "continue", waited_s=10, wait_s=10).action == SKIP


def test_files_still_being_written_are_waited_for(layout):
    (layout.inbox / "copying.csv").write_bytes(b"x")  # changed just now
    action, reason = pending_work(layout, 30, "continue", waited_s=100, wait_s=0)
    assert action == WAIT and "1 inbox file(s) still being written" in reason


def test_a_refit_on_an_empty_inbox_goes_on_the_labelled_store(layout):
    store_one_batch(layout)
    assert pending_work(layout, 2, "refit", 0, 0) == (GO, "no new files: refit on the labelled store (1 batch(es))")


def test_a_refit_with_nothing_to_train_on_skips_with_the_reason(layout):
    action, reason = pending_work(layout, 2, "refit", 0, 0)
    assert (action, reason) == (SKIP, "nothing to train on: the inbox is empty and the labelled store holds no rows")


def test_the_sensor_deadline_covers_the_wait(monkeypatch):
    monkeypatch.setenv("TWEET_SENTIMENT_SENSOR_WAIT_S", "300")
    monkeypatch.setenv("TWEET_SENTIMENT_SENSOR_POKE_S", "5")
    monkeypatch.setenv("TWEET_SENTIMENT_SENSOR_TIMEOUT_S", "120")
    settings = Settings.from_env()
    assert settings.sensor_wait_s == 300 and settings.sensor_deadline_s == 305
    assert Settings().sensor_wait_s == 0 and Settings().sensor_deadline_s == Settings().sensor_timeout_s
