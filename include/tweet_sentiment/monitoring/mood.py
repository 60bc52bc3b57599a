"""The mood series: on the tweet's own date, per day (per hour where each hour holds enough tweets), the count and
share of each class and the mean confidence, each point naming the champion version that scored it.

Points are grouped by (period, version), so scores of two champions are never mixed silently: a period scored by
two versions (a re-scoring not finished) gives one point per version. Rows dated by their arrival time (no
readable TweetAt) are counted in each point's ``arrival_dated``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from tweet_sentiment.intake.unlabelled import DATED_BY_ARRIVAL, DATED_BY_DAY
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic

MOOD_COLUMNS = ["tweet_at", "dated_by", "annotated", "label", "confidence", "champion_version"]
DAY, HOUR = "day", "hour"


def _point(when: pd.Timestamp, resolution: str, version: str, group: pd.DataFrame) -> dict:
    n = len(group)
    counts = group["label"].value_counts()
    annotated = group.loc[group["annotated"] != "", "annotated"]
    point = {"period": when.date().isoformat() if resolution == DAY else when.strftime("%Y-%m-%dT%H:00"),
             "start": when.isoformat(), "resolution": resolution, "champion_version": version, "n": n,
             "counts": {label: int(counts.get(label, 0)) for label in LABELS},
             "shares": {label: round(int(counts.get(label, 0)) / n, 4) for label in LABELS},
             "mean_confidence": round(float(group["confidence"].mean()), 4),
             "arrival_dated": int((group["dated_by"] == DATED_BY_ARRIVAL).sum())}
    if len(annotated):
        shares = annotated.value_counts(normalize=True)
        point["annotated"] = {"n": len(annotated), "shares": {c: round(float(shares.get(c, 0)), 4) for c in LABELS}}
    return point


def mood_points(scores: pd.DataFrame, resolution: str) -> list[dict]:
    """One point per (period, champion version) at one resolution (``day`` or ``hour``), oldest first."""
    if scores.empty:
        return []
    period = scores["tweet_at"].dt.floor("D" if resolution == DAY else "h")
    return [_point(when, resolution, version, group)
            for (when, version), group in scores.groupby([period, "champion_version"], sort=True)]


def hourly_days(scores: pd.DataFrame, min_tweets: int) -> set:
    """The days shown per hour: every row has a time of day, and every hour holding tweets holds ``min_tweets``."""
    if scores.empty:
        return set()
    day = scores["tweet_at"].dt.floor("D")
    timed = (scores["dated_by"] != DATED_BY_DAY).groupby(day).all()
    per_hour = scores.groupby([day, scores["tweet_at"].dt.floor("h")]).size()
    enough = (per_hour >= min_tweets).groupby(level=0).all()
    return {d for d in timed.index if timed[d] and enough[d]}


def mood_series(scores: pd.DataFrame, hourly_min_tweets: int) -> dict:
    """The mood of scored rows (MOOD_COLUMNS): ``series`` per day or per hour where each hour holds enough tweets,
    ``daily`` per day throughout, the versions and how many rows were dated by their arrival."""
    by_hour = hourly_days(scores, hourly_min_tweets)
    split = scores["tweet_at"].dt.floor("D").isin(by_hour) if len(scores) else pd.Series(dtype=bool)
    series = sorted(mood_points(scores[~split], DAY) + mood_points(scores[split], HOUR),
                    key=lambda p: (p["start"], p["champion_version"]))
    return {"updated_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": len(scores),
            "versions": sorted(scores["champion_version"].unique().tolist()) if len(scores) else [],
            "arrival_dated": int((scores["dated_by"] == DATED_BY_ARRIVAL).sum()) if len(scores) else 0,
            "hourly_min_tweets": hourly_min_tweets, "series": series, "daily": mood_points(scores, DAY)}


def write_mood(layout: DataLayout, mood: dict) -> None:
    write_json_atomic(layout.mood / "mood.json", mood)


def read_mood(layout: DataLayout) -> dict | None:
    path = layout.mood / "mood.json"
    return read_json(path) if path.exists() else None


def chart_points(mood: dict, version: str) -> list[dict]:
    """The series as the chart draws it: each period once, by ``version`` where it scored it (else the newest
    version that did; such points are named in the chart's note)."""
    chosen: dict[str, dict] = {}
    for point in mood["series"]:
        held = chosen.get(point["start"])
        if held is None or point["champion_version"] == version or (
                held["champion_version"] != version and point["champion_version"] > held["champion_version"]):
            chosen[point["start"]] = point
    return [chosen[start] for start in sorted(chosen)]


def champion_changes(log: list[dict], history: list[dict]) -> list[dict]:
    """Each time the stream was (re-)scored by another champion, oldest first: when, the version, the registry's
    action and reason for it (promote, rollback), and where the stream stood (``frontier``: the latest tweet time
    scored before)."""
    changes, previous = [], None
    for entry in log:
        if entry["version"] != previous:
            event = next((e for e in reversed(history) if e["version"] == entry["version"] and e["at"] <= entry["at"]),
                         {})
            changes.append({"at": entry["at"], "version": entry["version"], "previous": previous,
                            "action": event.get("action"), "reason": event.get("reason"),
                            "frontier": entry.get("frontier"),
                            "rows": entry.get("scored_rows", 0) + entry.get("rescored_rows", 0)})
        previous = entry["version"]
    return changes


def champion_marks(points: list[dict], changes: list[dict]) -> list[dict]:
    """Where on the chart each champion took over: between the last period scored before the change and the next."""
    marks = []
    for change in changes:
        if change["previous"] is None or not change["frontier"]:
            continue
        frontier = pd.Timestamp(change["frontier"])
        x = sum(1 for p in points if pd.Timestamp(p["start"]) <= frontier) - 0.5
        marks.append({"x": x, "version": change["version"], "action": change["action"] or "promote"})
    return marks
