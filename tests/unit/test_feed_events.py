"""The feeds' asset event without a running Airflow (for real: nothing listens on the port) and the service
login read from its connection variable; the event recorded by a real Airflow is tests/e2e/test_make_run.py."""

import json

import pytest
from support import free_port

from tweet_sentiment.__main__ import main
from tweet_sentiment.pipeline.api_login import ApiLogin, login_from_env
from tweet_sentiment.pipeline.assets import INBOX, UNLABELLED
from tweet_sentiment.pipeline.feed_events import record_feed_event
from tweet_sentiment.storage.fs import DataLayout

CONN = "AIRFLOW_CONN_TWEET_SENTIMENT_API"


def test_the_login_is_read_from_the_connection_variable_in_airflows_json_form(monkeypatch):
    monkeypatch.delenv(CONN, raising=False)
    assert login_from_env("tweet_sentiment_api") is None
    monkeypatch.setenv(CONN, json.dumps({"conn_type": "http", "host": "http://localhost:8080/", "login": "bot",
                                         "password": "pw"}))
    assert login_from_env("tweet_sentiment_api") == ApiLogin("http://localhost:8080", "bot", "pw")
    monkeypatch.setenv(CONN, "http://bot:pw@localhost:8080")
    with pytest.raises(ValueError, match="not a JSON connection"):
        login_from_env("tweet_sentiment_api")


def test_without_an_airflow_or_a_login_no_event_is_recorded_and_the_reason_says_why():
    login = ApiLogin(f"http://127.0.0.1:{free_port()}", "bot", "pw")  # nothing listens there
    assert record_feed_event(login, INBOX, "feed-00000-00010.csv", timeout_s=2) == (
        None, f"no Airflow answered at {login.url} (ConnectError)")
    event, why = record_feed_event(None, UNLABELLED, "chunk.csv")
    assert event is None and "no login" in why


@pytest.mark.parametrize(("command", "folder", "dag_id"), [
    ("feed", "inbox", "tweet_sentiment_retrain"), ("feed-unlabelled", "unlabelled", "tweet_sentiment_score")])
def test_a_feed_without_a_running_airflow_drops_the_file_and_says_the_next_tick_takes_it(
        command, folder, dag_id, tmp_path, monkeypatch, capsys, small_dataset):
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TWEET_SENTIMENT_DATASET_DIR", str(small_dataset))
    monkeypatch.setenv("TWEET_SENTIMENT_BOOTSTRAP_ROWS", "100")
    monkeypatch.setenv(CONN, json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{free_port()}",
                                         "login": "bot", "password": "pw"}))
    source = ["--source", "Corona_NLP_test.csv"] if folder == "unlabelled" else []
    assert main([command, "--rows", "10", *source]) == 0
    out = capsys.readouterr().out
    (dropped,) = getattr(DataLayout(tmp_path / "data"), folder).glob("*.csv")
    assert f"wrote {dropped}" in out
    assert "no Airflow answered" in out and f"{dag_id} takes the file at its next scheduled run" in out
