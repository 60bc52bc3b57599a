"""The mood series: on the tweet's own date, per day (per hour where each hour holds enough tweets), the count and
share of each class and the mean confidence, each point naming the champion version that scored it.

Kept incrementally: each scoring run adds its new rows' counts (per batch × version × hour × class, with the sum
of the top-class probability) and word counts to the stream's tables; the series is read from those small
tables, never from the rows. Points are grouped by (period, version), so scores of two champions are never mixed:
a period scored by two versions (a re-scoring not finished) gives one point per version, and the chart draws each
period by one version. Rows dated by their arrival time (no readable TweetAt) are counted in ``arrival_dated``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from tweet_sentiment.intake.unlabelled import DATED_BY_ARRIVAL, DATED_BY_DAY
from tweet_sentiment.model.features import word_tokens
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic
from tweet_sentiment.storage.scored_stream import ScoredStream

DAY, HOUR = "day", "hour"
COUNT_KEYS = ["hour", "dated_by", "champion_version", "label", "annotated"]


def count_rows(rows: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The ``counts`` rows of scored ``rows`` (``scores`` row for row): tweets and the sum of their top-class
    probability per batch × version × hour × how dated × class × annotated class."""
    frame = pd.DataFrame({"batch_id": rows["batch_id"].to_numpy(), "hour": rows["tweet_at"].dt.floor("h").to_numpy(),
                          "dated_by": rows["dated_by"].to_numpy(), "annotated": rows["annotated"].to_numpy(),
                          "champion_version": scores["champion_version"].to_numpy(),
                          "label": scores["label"].to_numpy(), "confidence": scores["confidence"].to_numpy(float)})
    grouped = frame.groupby(["batch_id", *COUNT_KEYS], sort=False, dropna=False)["confidence"]
    return grouped.agg(n="size", confidence_sum="sum").reset_index()


def count_words(rows: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The ``words`` rows of scored ``rows``: per batch × version × hour × class × word, the tweets using it
    (words as the model's hashed word features see them: hashtags split, lower case)."""
    frame = pd.DataFrame({"batch_id": rows["batch_id"].to_numpy(), "hour": rows["tweet_at"].dt.floor("h").to_numpy(),
                          "champion_version": scores["champion_version"].to_numpy(),
                          "label": scores["label"].to_numpy(), "word": word_tokens(rows["text"].tolist())})
    frame = frame.explode("word").dropna(subset=["word"])
    return frame.groupby(["batch_id", "hour", "champion_version", "label", "word"], sort=False).size() \
        .rename("n").reset_index()


def read_counts(tables: ScoredStream) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts summed per COUNT_KEYS over batches, the tweets per hour × how dated whatever scored them: each
    batch counted once, by the version that scored most of it there)."""
    counts = tables.query(f"SELECT {', '.join(COUNT_KEYS)}, sum(n)::BIGINT AS n, sum(confidence_sum) AS "
                          f"confidence_sum FROM counts GROUP BY ALL", ["counts"])
    totals = tables.query("SELECT hour, dated_by, sum(n)::BIGINT AS n FROM (SELECT batch_id, hour, dated_by, "
                          "max(n) AS n FROM (SELECT batch_id, champion_version, hour, dated_by, sum(n) AS n "
                          "FROM counts GROUP BY ALL) GROUP BY ALL) GROUP BY ALL", ["counts"])
    return counts, totals


def coverage(tables: ScoredStream) -> list[dict]:
    """How much of the stream (every stored tweet, expired ones included) each version has scored."""
    found = tables.query(
        "WITH total AS (SELECT sum(rows) AS t FROM batches WHERE stored), "
        "last AS (SELECT batch_id, champion_version, arg_max(rows, scored_at) AS rows FROM scored GROUP BY ALL) "
        "SELECT champion_version, sum(rows)::BIGINT AS rows, any_value(total.t)::BIGINT AS total FROM last, total "
        "GROUP BY champion_version ORDER BY champion_version", ["batches", "scored"])
    return [{"version": r.champion_version, "rows": int(r.rows), "share": round(r.rows / max(int(r.total), 1), 4)}
            for r in found.itertuples()]


def _point(when: pd.Timestamp, resolution: str, version: str, counts: dict[str, int], figures: dict,
           annotated: dict[str, int] | None) -> dict:
    n = int(figures["n"])
    point = {"period": when.date().isoformat() if resolution == DAY else when.strftime("%Y-%m-%dT%H:00"),
             "start": when.isoformat(), "resolution": resolution, "champion_version": version, "n": n,
             "complete": n >= figures["total"], "counts": counts,
             "shares": {label: round(counts[label] / n, 4) for label in LABELS},
             "mean_confidence": round(float(figures["confidence_sum"]) / n, 4),
             "arrival_dated": int(figures["arrival_dated"])}
    if annotated:
        total = sum(annotated.values())
        point["annotated"] = {"n": total, "shares": {c: round(annotated.get(c, 0) / total, 4) for c in LABELS}}
    return point


def mood_points(counts: pd.DataFrame, totals: pd.DataFrame, resolution: str) -> list[dict]:
    """One point per (period, champion version) at one resolution (``day`` or ``hour``), oldest first; a point
    is ``complete`` when its version scored every tweet of the period."""
    if counts.empty:
        return []
    freq = "D" if resolution == DAY else "h"
    frame = counts.assign(period=counts["hour"].dt.floor(freq),
                          arrival=counts["n"].where(counts["dated_by"] == DATED_BY_ARRIVAL, 0))
    keys = ["period", "champion_version"]
    figures = frame.groupby(keys)[["n", "confidence_sum", "arrival"]].sum().rename(columns={"arrival":
                                                                                            "arrival_dated"})
    period_total = totals.groupby(totals["hour"].dt.floor(freq))["n"].sum()
    figures["total"] = period_total.reindex(figures.index.get_level_values(0)).fillna(0).to_numpy()
    by_label = frame.pivot_table(index=keys, columns="label", values="n", aggfunc="sum", fill_value=0) \
        .reindex(columns=list(LABELS), fill_value=0)
    marked = frame[frame["annotated"] != ""]
    annotated = marked.groupby([*keys, "annotated"])["n"].sum() if len(marked) else pd.Series(dtype=int)
    held: dict[tuple, dict[str, int]] = {}
    for (when, version, label), n in annotated.items():
        held.setdefault((when, version), {})[label] = int(n)
    labels = by_label.to_dict("index")
    return [_point(when, resolution, version, {k: int(v) for k, v in labels[(when, version)].items()}, row,
                   held.get((when, version)))
            for (when, version), row in figures.to_dict("index").items()]


def hourly_days(totals: pd.DataFrame, min_tweets: int) -> set:
    """The days shown per hour: every tweet has a time of day, and every hour holding tweets holds ``min_tweets``."""
    if totals.empty:
        return set()
    day = totals["hour"].dt.floor("D")
    timed = (totals["dated_by"] != DATED_BY_DAY).groupby(day).all()
    per_hour = totals.groupby([day, totals["hour"]])["n"].sum()
    enough = (per_hour >= min_tweets).groupby(level=0).all()
    return {d for d in timed.index if timed[d] and enough[d]}


def mood_series(counts: pd.DataFrame, totals: pd.DataFrame, hourly_min_tweets: int) -> dict:
    """The mood from the counts (see :func:`read_counts`): ``series`` per day or per hour where each hour holds
    enough tweets, ``daily`` per day throughout, the versions and how many tweets were dated by their arrival."""
    by_hour = hourly_days(totals, hourly_min_tweets)
    split, tsplit = (frame["hour"].dt.floor("D").isin(by_hour) for frame in (counts, totals))
    series = sorted(mood_points(counts[~split], totals[~tsplit], DAY)
                    + mood_points(counts[split], totals[tsplit], HOUR),
                    key=lambda p: (p["start"], p["champion_version"]))
    return {"updated_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": int(totals["n"].sum()),
            "versions": sorted(counts["champion_version"].unique().tolist()) if len(counts) else [],
            "arrival_dated": int(totals.loc[totals["dated_by"] == DATED_BY_ARRIVAL, "n"].sum()),
            "hourly_min_tweets": hourly_min_tweets, "series": series, "daily": mood_points(counts, totals, DAY)}


def write_mood(layout: DataLayout, mood: dict) -> None:
    write_json_atomic(layout.mood / "mood.json", mood)


def read_mood(layout: DataLayout) -> dict | None:
    path = layout.mood / "mood.json"
    return read_json(path) if path.exists() else None


def chart_points(mood: dict, version: str) -> list[dict]:
    """The series as the chart draws it, like with like: each period once, by one version, ``version`` where it
    scored the whole period, else the newest version that did, else the version that scored most of it."""
    chosen: dict[str, dict] = {}
    for point in mood["series"]:
        held = chosen.get(point["start"])
        if held is None or _better(point, held, version):
            chosen[point["start"]] = point
    return [chosen[start] for start in sorted(chosen)]


def _better(point: dict, held: dict, version: str) -> bool:
    def rank(p: dict) -> tuple:
        return p.get("complete", True), p["champion_version"] == version, p["n"], p["champion_version"]
    return rank(point) > rank(held)


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
