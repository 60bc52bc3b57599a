"""`make quality SCENARIO=mood-shift`: does the product's mood-alert check see a burst of negative talk about one
topic in time, naming the topic's word, and how often does it alert on a stream whose days are shuffled?

The training file is replayed as an unlabelled stream, one scoring run per replay day: the day's tweets are
written through the product's own writers (lab/mood_replay.py) and the product's check (``detect_mood_alerts``)
runs on the stream, exactly as the scoring DAG runs it. Every tweet is scored once by the lab's champion
(lab/mood_shift_data.py, cached). Replays:

- the real order (its alerts are listed: real events of March-April 2020);
- the real order with a burst from ``start_day`` for ``burst_days`` days: extra negative tweets about the topic,
  drawn from the pool, at each share of the day's own tweets (2 %, 5 %, 10 %); forked from the real replay's
  stream as it stood the day before, so the days before are not replayed again;
- the days in ``shuffles`` random orders (each day keeps its tweets, dated by its place in the replay), for the
  rate of false alerts: episodes begun (``alert_types.episode_change``) per week of checked runs.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lab.mood_replay import write_scored_day
from lab.mood_shift_data import Tweets, load
from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_types import MoodAlert, episode_change
from tweet_sentiment.monitoring.mood_alerts import detect_mood_alerts
from tweet_sentiment.storage.scored_stream import ScoredStream

log = logging.getLogger(__name__)
Day = tuple[list[str], np.ndarray]  # one replay day's texts and class probabilities


@dataclass(frozen=True)
class ShiftOptions:
    """The scenario: the topic (its driver words start with ``word``; its tweets match ``pattern``), when and how
    long the burst lasts, its shares, and the shuffled replays."""

    word: str = "scam"
    pattern: str = r"\bscam"
    start_day: str = "2020-04-09"
    burst_days: int = 2
    shares: tuple[float, ...] = (0.02, 0.05, 0.10)
    shuffles: int = 20
    pool_share: float = 0.6  # of the training file's negative tweets about the topic, the share pooled
    seed: int = 13
    workers: int = 2  # shuffled replays run at once


def replay_days(tweets: Tweets) -> tuple[list[pd.Timestamp], list[Day]]:
    """The replay's days in their real order, each with its texts and probabilities."""
    days = sorted(tweets.replay["day"].unique())
    out = []
    for day in days:
        rows = (tweets.replay["day"] == day).to_numpy()
        out.append((tweets.replay.loc[rows, "text"].tolist(), tweets.replay_p[rows]))
    return [pd.Timestamp(d) for d in days], out


class Replay:
    """One stream on its own data root: each ``run`` writes a day as a batch and runs the product's check."""

    def __init__(self, settings: Settings, root: Path, version: str) -> None:
        self.settings = dataclasses.replace(settings, data_root=str(root))
        self.tables = ScoredStream(self.settings.layout().stream)
        self.version, self.runs = version, 0

    def run(self, when: pd.Timestamp, day: Day) -> list[MoodAlert]:
        write_scored_day(self.tables, f"day-{self.runs:03d}", when, day[0], day[1], self.version)
        self.runs += 1
        return detect_mood_alerts(self.settings)

    def fork(self, root: Path) -> Replay:
        """A copy of this stream as it stands, on ``root``."""
        shutil.copytree(self.settings.data_root, root)
        copy = Replay(self.settings, root, self.version)
        copy.runs = self.runs
        return copy


def with_burst(day: Day, tweets: Tweets, taken: np.ndarray, share: float) -> tuple[Day, np.ndarray]:
    """The day with ``share`` of its tweets added from the pool (in the order of ``taken``, the pool's rows not
    used yet); the pool's rows left."""
    n = min(round(share * len(day[0])), len(taken))
    if n < round(share * len(day[0])):
        log.warning("the pool holds only %d more tweets about the topic", len(taken))
    rows = taken[:n]
    return ((day[0] + tweets.pool.loc[rows, "text"].tolist(), np.vstack([day[1], tweets.pool_p[rows]])),
            taken[n:])


def driver_rank(alerts: list[MoodAlert], word: str) -> int | None:
    """The best rank (1: first) among the alerts' driver words of a word starting with ``word``; None: unnamed."""
    ranks = [i + 1 for a in alerts for i, w in enumerate(a.words) if w.word.startswith(word)]
    return min(ranks) if ranks else None


def burst_figures(fork: Replay, tweets: Tweets, dates: list[pd.Timestamp], days: list[Day], start: int,
                  share: float, options: ShiftOptions) -> dict:
    """Runs until the burst is alerted (0: in its first run) and the topic's rank then; None when not alerted."""
    taken = np.random.default_rng(options.seed).permutation(len(tweets.pool))
    for k in range(start, min(start + options.burst_days, len(days))):
        day, taken = with_burst(days[k], tweets, taken, share)
        rank = driver_rank(fork.run(dates[k], day), options.word)
        log.info("burst %.0f %% on %s (run %d of the burst): %s", 100 * share, dates[k].date(), k - start,
                 f"alerted, '{options.word}' ranked {rank}" if rank else "no alert naming the topic")
        if rank:
            return {"delay": k - start, "rank": rank}
    return {"delay": None, "rank": None}


def episodes_begun(per_run: list[list[MoodAlert]]) -> int:
    """Episodes that began over consecutive checks (one notification each)."""
    open_keys: tuple[str, ...] = ()
    begun = 0
    for alerts in per_run:
        change = episode_change(open_keys, alerts)
        begun += len(change.began)
        open_keys = change.began + change.ongoing
    return begun


def replay_all(replay: Replay, dates: list[pd.Timestamp], days: list[Day],
               on_day: Callable[[int], None] = lambda k: None) -> list[list[MoodAlert]]:
    """Every day in order; ``on_day(k)`` before day k is written (a fork point)."""
    per_run = []
    for k, (when, day) in enumerate(zip(dates, days, strict=True)):
        on_day(k)
        per_run.append(replay.run(when, day))
    return per_run


def shuffled_replay(settings: Settings, root: Path, tweets: Tweets, dates: list[pd.Timestamp], days: list[Day],
                    order: list[int]) -> int:
    """Episodes begun in one replay of the days in ``order`` (on its own data root)."""
    replay = Replay(settings, root, tweets.champion["version"])
    return episodes_begun(replay_all(replay, dates, [days[i] for i in order]))


def shuffled_rate(settings: Settings, tmp: Path, tweets: Tweets, dates: list[pd.Timestamp], days: list[Day],
                  options: ShiftOptions) -> list[float]:
    """False alerts per week of checked runs in each shuffled replay (``workers`` replays at once, each in a
    fresh process: delta-rs is not fork-safe)."""
    rng = np.random.default_rng(options.seed)
    orders = [rng.permutation(len(days)).tolist() for _ in range(options.shuffles)]
    checked_weeks = max(len(days) - settings.mood_alert_min_baseline_periods, 1) / 7
    rates = []
    with ProcessPoolExecutor(options.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        begun = [pool.submit(shuffled_replay, settings, tmp / f"shuffled-{s}", tweets, dates, days, order)
                 for s, order in enumerate(orders)]
        for s, done in enumerate(begun):
            rates.append(round(done.result() / checked_weeks, 3))
            log.info("shuffled replay %d/%d: %d episodes begun, %.2f a week", s + 1, options.shuffles,
                     done.result(), rates[-1])
    return rates


def alert_list(dates: list[pd.Timestamp], per_run: list[list[MoodAlert]], top: int = 5) -> list[dict]:
    return [{"period": a.period_start.date().isoformat(), "class": a.label,
             "top_words": [w.word for w in a.words[:top]], "share": a.share,
             "share_interval": [a.share_low, a.share_high]} for alerts in per_run for a in alerts]


def mood_shift(settings: Settings, options: ShiftOptions, tweets: Tweets | None = None) -> dict:
    """Run the scenario (on ``tweets``, else the dataset's, scored by the lab's champion); its figures."""
    started = time.perf_counter()
    tweets = tweets or load(settings, options.pattern, options.pool_share)
    dates, days = replay_days(tweets)
    start = dates.index(pd.Timestamp(options.start_day, tz="UTC"))
    log.info("replaying %d days (%d tweets; pool of %d negative tweets about '%s'), burst from %s",
             len(days), sum(len(d[0]) for d in days), len(tweets.pool), options.word, options.start_day)
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-mood-shift-") as tmp:
        root = Path(tmp)
        real = Replay(settings, root / "real", tweets.champion["version"])
        forks: dict[float, Replay] = {}

        def fork_before_burst(k: int) -> None:
            if k == start:
                forks.update({share: real.fork(root / f"burst-{share}") for share in options.shares})

        per_run = replay_all(real, dates, days, fork_before_burst)
        log.info("real order: %d alerts in %d runs", sum(map(len, per_run)), len(per_run))
        bursts = {share: burst_figures(forks[share], tweets, dates, days, start, share, options)
                  for share in options.shares}
        rates = shuffled_rate(settings, root, tweets, dates, days, options)
    figures = {f"alert_delay_runs_{round(100 * s)}pct": b["delay"] for s, b in bursts.items()}
    figures |= {f"injected_driver_rank_{round(100 * s)}pct": b["rank"] for s, b in bursts.items()}
    return {"scenario": "mood-shift", **figures,
            "false_alerts_per_week_shuffled": statistics.median(rates) if rates else None,
            "false_alerts_per_week_each_shuffle": rates, "real_order_alerts": alert_list(dates, per_run),
            "topic": options.word, "burst_start": options.start_day, "burst_days": options.burst_days,
            "pool_tweets": len(tweets.pool), "replay_tweets": sum(len(d[0]) for d in days),
            "champion": tweets.champion, "settings": _alert_settings(settings),
            "elapsed_s": round(time.perf_counter() - started, 1)}


def _alert_settings(settings: Settings) -> dict:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
            if f.name.startswith("mood_alert_") or f.name == "mood_hourly_min_tweets"}
