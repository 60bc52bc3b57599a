"""What a mood-alert check reads from the scored stream's tables: only the periods it needs, each table's files
chosen by their Delta statistics (the hour column's min and max; the batch ids) before DuckDB opens one, so a
check costs the same however long the stream's history is.

- the newest hour, from the ``counts`` table's file statistics alone (no data file read);
- ``counts`` over the trailing window (the target period's day and ``baseline_periods`` days before it): which
  version scored each period wholly, and the periods' tweets per class;
- ``scored`` for the newest hour's batches: the version that scored them last (the champion of the check);
- ``words`` of that version over the target and baseline periods;
- ``rows`` joined to ``scores`` of the target period's batches: example tweets (none once retention removed them).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tweet_sentiment.model.features import word_tokens
from tweet_sentiment.monitoring.mood import DAY, HOUR, hourly_days
from tweet_sentiment.monitoring.mood_alerts.method import AlertParams, Window
from tweet_sentiment.storage.scored_stream import ScoredStream, batch_predicate


def newest_hour(tables: ScoredStream) -> pd.Timestamp | None:
    """The latest hour the counts hold, from the Delta log's file statistics."""
    bounds = tables.tables["counts"].bounds("hour")
    return None if bounds is None else pd.Timestamp(bounds[1])


def window_counts(tables: ScoredStream, low: pd.Timestamp, high: pd.Timestamp) -> pd.DataFrame:
    """``counts`` of the hours in [low, high]: tweets per batch × version × hour × how dated × class."""
    return tables.query("SELECT batch_id, champion_version, hour, dated_by, label, sum(n)::BIGINT AS n FROM counts "
                        "WHERE hour BETWEEN ? AND ? GROUP BY ALL", ["counts"], [low, high],
                        spans={"counts": ("hour", low, high)})


def last_version(tables: ScoredStream, batch_ids: Sequence[str]) -> str:
    """The version that scored these batches last."""
    found = tables.query(f"SELECT arg_max(champion_version, scored_at) AS v FROM scored WHERE "
                         f"{batch_predicate(batch_ids)}", ["scored"], prunes={"scored": ("batch_id", batch_ids)})
    return str(found["v"].iloc[0])


def _totals(counts: pd.DataFrame) -> pd.DataFrame:
    """Tweets per hour × how dated whatever scored them (each batch counted once, by its largest version count)."""
    per_batch = counts.groupby(["batch_id", "hour", "dated_by", "champion_version"])["n"].sum()
    return per_batch.groupby(level=[0, 1, 2]).max().groupby(level=[1, 2]).sum().rename("n").reset_index()


def _periods(counts: pd.DataFrame, min_tweets: int, newest: pd.Timestamp) -> tuple[str, pd.Series]:
    """(the target's resolution, each count row's period: NaT where it is of no period at that resolution)."""
    totals = _totals(counts)
    hourly = hourly_days(totals, min_tweets)
    if newest.floor("D") in hourly:
        return HOUR, counts["hour"].where(counts["hour"].dt.floor("D").isin(hourly))
    return DAY, counts["hour"].dt.floor("D")


def version_classes(counts: pd.DataFrame, version: str, periods: pd.Series) -> pd.DataFrame:
    """Tweets per period × class of ``version``, for the periods it scored wholly (oldest first)."""
    framed = counts.assign(period=periods).dropna(subset=["period"])
    per_batch = framed.groupby(["period", "batch_id", "champion_version"])["n"].sum()
    total = per_batch.groupby(level=[0, 1]).max().groupby(level=0).sum()
    mine = framed[framed["champion_version"] == version]
    classes = mine.pivot_table(index="period", columns="label", values="n", aggfunc="sum", fill_value=0)
    whole = classes.sum(axis=1) >= total.reindex(classes.index)
    return classes[whole].sort_index()


def read_window(tables: ScoredStream, params: AlertParams, hourly_min_tweets: int) -> Window | None:
    """The newest period and its trailing baseline as the newest hour's version scored them wholly; None when
    that version has not scored the newest period wholly (a re-scoring under way) or the stream is empty."""
    newest = newest_hour(tables)
    if newest is None:
        return None
    counts = window_counts(tables, newest.floor("D") - pd.Timedelta(days=params.baseline_periods), newest)
    version = last_version(tables, sorted(counts.loc[counts["hour"] == newest, "batch_id"].unique()))
    resolution, periods = _periods(counts, hourly_min_tweets, newest)
    classes = version_classes(counts, version, periods)
    target = newest if resolution == HOUR else newest.floor("D")
    if not len(classes) or classes.index[-1] != target:
        return None
    classes = classes.iloc[-params.baseline_periods - 1:]
    words = period_words(tables, version, classes.index[0], newest, resolution)
    return Window(version, resolution, classes, words[words["period"].isin(classes.index)])


def period_words(tables: ScoredStream, version: str, low: pd.Timestamp, high: pd.Timestamp,
                 resolution: str) -> pd.DataFrame:
    """``version``'s word counts per period × class × word over the hours [low, high]."""
    found = tables.query("SELECT hour, label, word, sum(n)::BIGINT AS n FROM words WHERE champion_version = ? AND "
                         "hour BETWEEN ? AND ? GROUP BY ALL", ["words"], [version, low, high],
                         spans={"words": ("hour", low, high)})
    period = found["hour"] if resolution == HOUR else found["hour"].dt.floor("D")
    return found.assign(period=period).groupby(["period", "label", "word"], as_index=False)["n"].sum()


def examples(tables: ScoredStream, window: Window, label: str, words: Sequence[str],
             per_word: int) -> dict[str, tuple[str, ...]]:
    """Up to ``per_word`` retained tweets of the target period that ``window.version`` put in ``label`` and that use
    each word (most confident first); an empty tuple for a word whose tweets' texts are past retention."""
    start = window.target
    end = start + (pd.Timedelta(hours=1) if window.resolution == HOUR else pd.Timedelta(days=1))
    found = tables.query(
        "SELECT r.text FROM rows r JOIN scores s USING (batch_id, seq) WHERE s.champion_version = ? AND s.label = ? "
        "AND r.tweet_at >= ? AND r.tweet_at < ? ORDER BY s.confidence DESC, r.batch_id, r.seq",
        ["rows", "scores"], [window.version, label, start, end],
        spans={"rows": ("tweet_at", start, end)}, prunes={"scores": ("batch_id", _batches(tables, start, end))})
    wanted, shown = set(words), {w: [] for w in words}
    for text, tokens in zip(found["text"], word_tokens(found["text"].tolist()), strict=True):
        for word in wanted.intersection(tokens):
            if len(shown[word]) < per_word and text not in shown[word]:
                shown[word].append(text)
    return {w: tuple(texts) for w, texts in shown.items()}


def _batches(tables: ScoredStream, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The batches holding tweets of [start, end), from the counts (whose hours are the tweets' own)."""
    found = tables.query("SELECT DISTINCT batch_id FROM counts WHERE hour >= ? AND hour < ?", ["counts"],
                         [start, end], spans={"counts": ("hour", start, end)})
    return found["batch_id"].tolist()


