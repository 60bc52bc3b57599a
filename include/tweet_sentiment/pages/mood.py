"""What the Mood page shows: the series and its chart (each period by one version), who scored it and how much
of the stream each version has scored, the champion changes, the last drift check with its thresholds and
reference, and example tweets of the drifted window."""

from __future__ import annotations

from tweet_sentiment.model.charts import MOOD_PNG
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.monitoring.drift_check import read_drift
from tweet_sentiment.monitoring.mood import champion_changes, chart_points, read_mood
from tweet_sentiment.monitoring.scoring import scoring_log
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import ScoredStream

_POINTS_SHOWN = 60
_HISTORY_SHOWN = 20


def mood_overview(layout: DataLayout, registry: ModelRegistry) -> dict:
    """The Mood page's data (the chart itself: ``mood/mood.png``)."""
    mood, drift = read_mood(layout) or {}, read_drift(layout)
    champion = registry.champion_version()
    if drift:
        drift = {**drift, "history": drift.get("history", [])[-_HISTORY_SHOWN:][::-1]}
    points = chart_points(mood, mood["champion_version"]) if mood else []
    _, stale = ScoredStream(layout.stream).to_score(champion) if champion else (None, None)
    return {
        "champion": champion, "scored_by": mood.get("champion_version"), "versions": mood.get("versions", []),
        "coverage": mood.get("coverage", []),
        "rescoring_pending": stale is not None and len(stale) > 0,
        "rescoring_pending_rows": int(stale["rows"].sum()) if stale is not None else 0,
        "rows": mood.get("rows", 0), "arrival_dated": mood.get("arrival_dated", 0),
        "hourly_min_tweets": mood.get("hourly_min_tweets"), "updated_at": mood.get("updated_at"),
        "points": points[-_POINTS_SHOWN:][::-1], "points_total": len(points),
        "chart": (layout.mood / MOOD_PNG).exists(),
        "champion_changes": champion_changes(scoring_log(layout), registry.history())[::-1],
        "drift": drift,
    }


def mood_chart(layout: DataLayout) -> bytes:
    """The mood chart's PNG (FileNotFoundError before the first scoring run)."""
    return (layout.mood / MOOD_PNG).read_bytes()
