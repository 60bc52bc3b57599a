"""The scoring DAG's alerts task in a run through dag.test() against the Airflow metadata DB (the task alone;
the stream is written through the product's writers, as lab/mood_replay.py does): a burst of one
topic on the newest day raises a mood alert that becomes one ``tweet_sentiment_mood_alert`` asset event, its extra
the alert, and one mail to a real SMTP server; the next run, the same episode going on, adds neither."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mail_support import CONN_ID, body, smtp_server
from mood_support import FIRST_DAY, synthetic_day
from support import load_dag

from tweet_sentiment.schema import LABELS


def _alerts_run() -> None:
    """A run of the scoring DAG's alerts task alone (its upstream, the mapped scoring, needs a planned run)."""
    load_dag("tweet_sentiment_score").partial_subset(["alerts"], include_upstream=False).test()


@pytest.fixture
def burst_stream(tmp_path, monkeypatch, airflow_db):
    """Eight quiet days and a ninth whose Negative tweets are 5 % about sanitizer, scored by v1."""
    from lab.mood_replay import write_scored_day
    from tweet_sentiment.config import Settings
    from tweet_sentiment.storage.database import dispose_engines
    from tweet_sentiment.storage.scored_stream import ScoredStream

    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TWEET_SENTIMENT_ALERT_EMAIL_TO", "mood@example.org")
    monkeypatch.setenv("TWEET_SENTIMENT_MOOD_ALERT_Q", "0.01")  # days of 420 tweets (the unit tests' level)
    monkeypatch.setenv("TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS", json.dumps({"smtp_conn_id": CONN_ID}))
    tables = ScoredStream(Settings.from_env().layout().stream)
    rng = np.random.default_rng(1)
    for d in range(9):
        texts, probabilities = synthetic_day(rng, 400)
        if d == 8:
            burst = [f"sanitizer {t}" for t in synthetic_day(rng, 20)[0]]
            negative = np.full((20, len(LABELS)), 0.05)
            negative[:, LABELS.index("Negative")] = 0.8
            texts, probabilities = texts + burst, np.vstack([probabilities, negative])
        write_scored_day(tables, f"day{d:03d}", FIRST_DAY + pd.Timedelta(days=d), texts, probabilities, "v1")
    yield
    dispose_engines()


def _mood_alert_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [e.extra for e in session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.name == "tweet_sentiment_mood_alert").order_by(AssetEvent.id)]


def test_a_mood_alert_is_one_asset_event_and_one_mail_per_episode(burst_stream, monkeypatch):
    from tweet_sentiment.monitoring.alert_types import MoodAlert

    before = len(_mood_alert_events())
    with smtp_server(monkeypatch) as mails:
        _alerts_run()
        events = _mood_alert_events()[before:]
        assert len(events) == 1 and len(mails) == 1
        alert = MoodAlert.from_extra(events[0])
        assert alert.label == "Negative" and alert.words[0].word == "sanitizer" and alert.champion_version == "v1"
        assert events[0]["episode_key"] == "mood:Negative"
        assert mails[0]["To"] == "mood@example.org" and "sanitizer (z " in body(mails[0])
        _alerts_run()  # the episode goes on
        assert len(_mood_alert_events()) == before + 1 and len(mails) == 1
