"""The alerts' tasks: the scoring DAG's mood check and the watch DAG's loop-health check, each delivered through
``monitoring.alert_delivery`` (kept, notified once per episode, ended with a notice). Each returns a small
JSON-able dict whose ``events`` are the extras of the alerts that began an episode (one asset event each)."""

from __future__ import annotations

from datetime import UTC, datetime

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_delivery import deliver
from tweet_sentiment.monitoring.loop_health import check_loop
from tweet_sentiment.monitoring.mood_alerts import detect_mood_alerts
from tweet_sentiment.pipeline.timing import timed


@timed
def check_mood(settings: Settings) -> dict:
    """The mood alerts of the stream's newest period, delivered; ``events``: the extras of those that began an
    episode (the scoring DAG emits one ``tweet_sentiment_mood_alert`` event each)."""
    return deliver(settings, "mood", detect_mood_alerts(settings), datetime.now(UTC))


@timed
def watch_loop(settings: Settings) -> dict:
    """Run the four loop-health checks now and deliver what they raise."""
    now = datetime.now(UTC)
    return deliver(settings, "health", list(check_loop(settings, now)), now)
