"""Where the mood alerts go on the mood chart: the position of the period each alert names."""

from __future__ import annotations

import pandas as pd

from tweet_sentiment.monitoring.alert_store import recent_raised

MARKED_ALERTS = 200  # the newest mood alerts looked at (the chart shows the recent periods)


def alert_marks(points: list[dict], extras: list[dict]) -> list[dict]:
    """One mark per (period, class) alerted: the point whose period holds the alert's ``period_start``."""
    starts = [pd.Timestamp(p["start"]) for p in points]
    marks: dict[tuple[int, str], dict] = {}
    for extra in extras:
        at = pd.Timestamp(extra["period_start"])
        x = sum(1 for s in starts if s <= at) - 1
        if x >= 0 and (x, extra["label"]) not in marks:
            marks[(x, extra["label"])] = {"x": x, "label": extra["label"],
                                          "words": [w["word"] for w in extra["words"][:3]]}
    return sorted(marks.values(), key=lambda m: (m["x"], m["label"]))


def chart_alert_marks(state_db: str, points: list[dict]) -> list[dict]:
    """The marks of the newest mood alerts kept in the state database."""
    return alert_marks(points, recent_raised(state_db, "mood", MARKED_ALERTS))
