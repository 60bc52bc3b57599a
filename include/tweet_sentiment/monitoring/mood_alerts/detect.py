"""The scoring DAG's mood-alert check: the alerts of the stream's newest period (see the package's docstring)."""

from __future__ import annotations

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_types import MoodAlert
from tweet_sentiment.monitoring.mood_alerts.method import AlertParams, window_alerts
from tweet_sentiment.monitoring.mood_alerts.reads import examples, read_window
from tweet_sentiment.storage.scored_stream import ScoredStream


def detect_mood_alerts(settings: Settings) -> list[MoodAlert]:
    """The mood alerts of the newest period against its trailing baseline, like with like (one champion version's
    counts); none while that version has not scored the period and enough of its baseline wholly."""
    tables = ScoredStream(settings.layout().stream)
    params = AlertParams.of(settings)
    window = read_window(tables, params, settings.mood_hourly_min_tweets)
    if window is None:
        return []
    return window_alerts(window, params, lambda label, words: examples(tables, window, label, words,
                                                                        params.examples))
