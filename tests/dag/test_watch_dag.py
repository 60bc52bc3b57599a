"""The watch DAG: every few minutes, four loop-health checks. Each check's condition, made real in a data root (old
files in an inbox, quarantined rows, a challenger waiting for approval), raises its alert in a run of the DAG
through dag.test() against the Airflow metadata DB; the notification reaches a real SMTP server once, and a notice
follows when the condition is gone."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from mail_support import CONN_ID, smtp_server
from support import load_dag, run_dag

from tweet_sentiment.config import Settings

HOURS_AGO = 2


def _old_file(folder, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("text,TweetAt\nhello,01-01-2022\n")
    old = time.time() - HOURS_AGO * 3600
    os.utime(path, (old, old))


def _waiting_approval(settings: Settings) -> None:
    from tweet_sentiment.model.registry_index import AWAITING, VERSIONS
    from tweet_sentiment.storage.database import write_transaction

    decided = (datetime.now(UTC) - timedelta(hours=HOURS_AGO)).isoformat(timespec="seconds")
    with write_transaction(settings.state_db) as conn:
        conn.execute(VERSIONS.insert().values(version="v-waiting", created_at=decided, status=AWAITING,
                                              decided_at=decided))


def _quarantined(settings: Settings) -> None:
    from tweet_sentiment.monitoring.loop_health import record_quarantined

    record_quarantined(settings.state_db, "labelled", {"batch_id": "b1", "rows_quarantined": 40}, datetime.now(UTC))


CONDITIONS = {  # each check's condition, made real in the data root
    "retrain_stalled": lambda s: _old_file(s.layout().inbox, "labels.csv"),
    "scoring_behind": lambda s: _old_file(s.layout().unlabelled, "tweets.csv"),
    "quarantine_growing": _quarantined,
    "approval_waiting": _waiting_approval,
}
UNDO = {
    "retrain_stalled": lambda s: (s.layout().inbox / "labels.csv").unlink(),
    "scoring_behind": lambda s: (s.layout().unlabelled / "tweets.csv").unlink(),
}


@pytest.fixture
def watched(tmp_path, monkeypatch, airflow_db) -> Settings:
    """A data root watched with limits of one minute and 10 quarantined rows an hour, mail to the test server."""
    from tweet_sentiment.storage.database import dispose_engines

    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    for name in ("RETRAIN_STALL_MIN", "SCORING_BEHIND_MIN", "APPROVAL_WAIT_MIN"):
        monkeypatch.setenv(f"TWEET_SENTIMENT_{name}", "60")
    monkeypatch.setenv("TWEET_SENTIMENT_QUARANTINE_ROWS_PER_HOUR", "10")
    monkeypatch.setenv("TWEET_SENTIMENT_ALERT_EMAIL_TO", "ops@example.org")
    monkeypatch.setenv("TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS", json.dumps({"smtp_conn_id": CONN_ID}))
    yield Settings.from_env()
    dispose_engines()


def test_every_few_minutes_one_run_at_a_time():
    from airflow.sdk import DeltaTriggerTimetable

    dag = load_dag("tweet_sentiment_watch")
    assert isinstance(dag.timetable, DeltaTriggerTimetable) and dag.timetable.delta == timedelta(minutes=5)
    assert list(dag.task_dict) == ["watch"] and dag.max_active_runs == 1 and dag.catchup is False


@pytest.mark.parametrize("check", sorted(CONDITIONS))
def test_each_check_raises_its_alert_by_its_condition(check, watched, monkeypatch):
    from tweet_sentiment.monitoring.alert_store import episodes

    with smtp_server(monkeypatch) as mails:
        assert run_dag(load_dag("tweet_sentiment_watch"), {}) == {"watch": "success"}
        assert mails == []  # a healthy loop: no alert
        CONDITIONS[check](watched)
        assert run_dag(load_dag("tweet_sentiment_watch"), {}) == {"watch": "success"}
        assert run_dag(load_dag("tweet_sentiment_watch"), {}) == {"watch": "success"}  # ongoing: no second mail
        assert [m["Subject"] for m in mails] == [f"[tweet-sentiment] ALERT: loop health: {check}"]
        assert mails[0]["To"] == "ops@example.org"
        [episode] = episodes(watched.state_db, limit=5)
        assert episode["episode_key"] == f"health:{check}" and episode["ended_at"] is None
        assert episode["last_extra"]["value"] > episode["last_extra"]["limit"]
        if check in UNDO:  # the condition gone: a notice that the episode ended
            UNDO[check](watched)
            assert run_dag(load_dag("tweet_sentiment_watch"), {}) == {"watch": "success"}
            assert mails[-1]["Subject"] == f"[tweet-sentiment] ended: loop health: {check}" and len(mails) == 2
