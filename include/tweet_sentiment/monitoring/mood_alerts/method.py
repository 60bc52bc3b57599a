"""The mood-alert test on one version's counts (pure: frames in, alerts out; no tables, no Airflow).

A check looks at one period (the target) against the trailing baseline periods, all scored by one champion
version. Per class: each word the period's tweets of the class use often enough is tested for a rise by its
weighted log-odds z-score against the baseline's tweets of that class (statistics.py), its variance widened by
the word's between-period variance on the baseline; the one-sided p-values of every word of every class go through
one Benjamini-Hochberg procedure at ``q``. A rejected word drives an alert when the rise is the class's own: its
lift (how much more its log-odds rose in the class than in the classes of the other sentiments) is at least
``min_lift`` (a topic every class talks more about, a new hashtag spelling, is news, not a change of mood; the
second condition only removes alerts, so the false-alarm bound of the first holds). The class's share is tested
against an interval around its baseline share at ``share_level`` (0.998: 1 - 0.01 / 5, Bonferroni over the
classes). A class
with a driver word or a share out of its interval is an alert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_types import DriverWord, MoodAlert
from tweet_sentiment.monitoring.mood_alerts.statistics import (
    benjamini_hochberg,
    between_variance,
    dirichlet_prior,
    lift,
    log_odds_z,
    share_interval,
    upper_p,
)
from tweet_sentiment.schema import LABELS

_SENTIMENT = {"Extremely Negative": -1, "Negative": -1, "Neutral": 0, "Positive": 1, "Extremely Positive": 1}
# each class's reference for a word's lift: the classes of the other sentiments
OTHER_SENTIMENTS = {c: [o for o in LABELS if _SENTIMENT[o] != _SENTIMENT[c]] for c in LABELS}

# (label, words) -> example tweets per word
Examples = Callable[[str, Sequence[str]], dict[str, tuple[str, ...]]]


@dataclasses.dataclass(frozen=True)
class AlertParams:
    """The method's settings (config.py's ``mood_alert_*``)."""

    baseline_periods: int = 7
    min_baseline_periods: int = 3
    q: float = 1e-5
    prior_weight: float = 1000.0
    min_word_tweets: int = 5
    min_lift: float = 1.0
    share_level: float = 0.998
    max_words: int = 10
    examples: int = 3

    @classmethod
    def of(cls, settings: Settings) -> AlertParams:
        return cls(**{f.name: getattr(settings, f"mood_alert_{f.name}") for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Window:
    """One version's counts of a target period and its baseline periods: ``classes`` tweets per period (index,
    oldest first, the target last) × class; ``words`` tweets per period × class × word (columns period, label,
    word, n)."""

    version: str
    resolution: str
    classes: pd.DataFrame
    words: pd.DataFrame

    @property
    def target(self) -> pd.Timestamp:
        return self.classes.index[-1]


@dataclasses.dataclass(frozen=True)
class WordTest:
    label: str
    word: str
    z: float
    p: float
    lift: float


def _per_period(table: pd.DataFrame, labels: Sequence[str], periods: list) -> np.ndarray:
    """Word counts of these classes together: one row per period (in ``periods``' order), one column per word."""
    columns = pd.MultiIndex.from_product([labels, periods])
    held = table.reindex(columns=columns, fill_value=0).to_numpy(float)
    return held.reshape(len(table), len(labels), len(periods)).sum(axis=1).T


def word_tests(window: Window, params: AlertParams) -> list[WordTest]:
    """Every tested word of every class (used by ``min_word_tweets`` of the class's tweets in the target period):
    its z-score, one-sided p-value and lift over the other sentiments' classes."""
    periods = list(window.classes.index)
    table = window.words.pivot_table(index="word", columns=["label", "period"], values="n", aggfunc="sum",
                                     fill_value=0)
    prior = dirichlet_prior(table.to_numpy(float).sum(axis=1), params.prior_weight)
    tests = []
    for label in LABELS:
        mine = _per_period(table, [label], periods)
        tested = mine[-1] >= params.min_word_tweets
        if not tested.any():
            continue
        past = mine[:-1].sum(axis=0)
        between = between_variance(mine[:-1], prior, params.min_word_tweets * (len(periods) - 1))
        z = log_odds_z(mine[-1], past, prior, between)
        others = _per_period(table, OTHER_SENTIMENTS[label], periods)
        lifted = lift(mine[-1], past, others[-1], others[:-1].sum(axis=0), prior)
        tests += [WordTest(label, word, float(zw), float(pw), float(lw)) for word, zw, pw, lw in
                  zip(table.index[tested], z[tested], upper_p(z[tested]), lifted[tested], strict=True)]
    return tests


def rising_words(window: Window, params: AlertParams) -> dict[str, list[WordTest]]:
    """Per class, the words whose rise holds under Benjamini-Hochberg at ``q`` over every class's tests and is
    the class's own (lift at least ``min_lift``), highest z first."""
    tests = word_tests(window, params)
    rejected = benjamini_hochberg(np.array([t.p for t in tests]), params.q)
    found: dict[str, list[WordTest]] = {}
    for test, rise in zip(tests, rejected, strict=True):
        if rise and test.z > 0 and test.lift >= params.min_lift:
            found.setdefault(test.label, []).append(test)
    return {label: sorted(ws, key=lambda t: -t.z) for label, ws in found.items()}


def share_moves(window: Window, params: AlertParams) -> dict[str, tuple[float, float, float, float]]:
    """Per class: (its share of the target period, baseline share, interval low, high)."""
    classes = window.classes.reindex(columns=list(LABELS), fill_value=0)
    totals = classes.sum(axis=1).to_numpy(float)
    level = params.share_level
    out = {}
    for label in LABELS:
        counts = classes[label].to_numpy(float)
        base, low, high = share_interval(counts[:-1], totals[:-1], int(totals[-1]), level)
        out[label] = (counts[-1] / max(totals[-1], 1), base, low, high)
    return out


def window_alerts(window: Window, params: AlertParams, examples: Examples) -> list[MoodAlert]:
    """The alerts of the window's target period (none with fewer than ``min_baseline_periods`` baseline periods)."""
    if len(window.classes) - 1 < params.min_baseline_periods:
        return []
    words, shares = rising_words(window, params), share_moves(window, params)
    tweets = int(window.classes.iloc[-1].sum())
    alerts = []
    for label in LABELS:
        share, base, low, high = shares[label]
        drivers = words.get(label, [])[: params.max_words]
        if not drivers and low <= share <= high:
            continue
        shown = examples(label, [d.word for d in drivers]) if drivers and params.examples else {}
        alerts.append(MoodAlert(
            period_start=_as_datetime(window.target), resolution=window.resolution, label=label,
            champion_version=window.version,
            words=tuple(DriverWord(d.word, round(d.z, 2), shown.get(d.word, ())) for d in drivers),
            share=round(float(share), 4), baseline_share=round(float(base), 4), share_low=round(float(low), 4),
            share_high=round(float(high), 4), tweets=tweets))
    return alerts


def _as_datetime(when: pd.Timestamp) -> datetime:
    return pd.Timestamp(when).to_pydatetime()
