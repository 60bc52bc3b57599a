"""Mood alerts: the weighted log-odds z-scores and Benjamini-Hochberg on hand-checkable cases; on a stream written
through the product's writers, a burst of one topic raises an alert naming its word (with example tweets while the
texts are kept), a quiet day and a champion change alone raise none, and a check reads only the periods it needs."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from mood_support import FIRST_DAY, synthetic_day

from lab.mood_replay import rescore, write_scored_day
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.unlabelled import DATED_BY_TIME
from tweet_sentiment.monitoring.alert_types import MoodAlert
from tweet_sentiment.monitoring.mood_alerts import detect_mood_alerts
from tweet_sentiment.monitoring.mood_alerts.method import AlertParams, Window, window_alerts
from tweet_sentiment.monitoring.mood_alerts.statistics import (
    benjamini_hochberg,
    between_variance,
    log_odds_z,
    share_interval,
)
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage import tables as delta_tables
from tweet_sentiment.storage.scored_stream import ScoredStream


def test_log_odds_z_scores_match_a_hand_computation():
    target, reference, prior = np.array([30.0, 70.0]), np.array([10.0, 90.0]), np.array([1.0, 1.0])
    # word 0: delta = log(31 / 71) - log(11 / 91) = 1.2843; variance 1/31 + 1/11 = 0.12317; z = 3.6594
    z = log_odds_z(target, reference, prior)
    assert z[0] == pytest.approx(math.log(31 / 71 * 91 / 11) / math.sqrt(1 / 31 + 1 / 11))
    assert z[0] == pytest.approx(3.6594, abs=1e-4)
    assert z[1] == pytest.approx(-math.log(31 / 71 * 91 / 11) / math.sqrt(1 / 71 + 1 / 91))
    # the between-period variance widens the variance: 0.12317 + 0.5
    assert log_odds_z(target, reference, prior, 0.5)[0] == pytest.approx(1.2843 / math.sqrt(0.62317), abs=1e-4)


def test_benjamini_hochberg_rejects_up_to_the_largest_p_under_its_line():
    p = np.array([0.041, 0.001, 0.039, 0.008, 0.042, 0.06, 0.074, 0.205])
    # sorted: 0.001 <= 0.05/8, 0.008 <= 0.05*2/8, 0.039 > 0.05*3/8, 0.041 > 0.05*4/8 = 0.025 ... none after
    assert benjamini_hochberg(p, 0.05).tolist() == [False, True, False, True, False, False, False, False]
    assert benjamini_hochberg(np.array([0.01, 0.02, 0.03, 0.04]), 0.05).all()  # the last is under its line


def test_benjamini_hochberg_holds_the_false_alarm_rate_when_nothing_changed():
    rng = np.random.default_rng(3)
    any_rejected = [benjamini_hochberg(rng.uniform(size=500), 0.05).any() for _ in range(2000)]
    assert np.mean(any_rejected) <= 0.06  # under the complete null, P(any rejection) = q


def test_between_variance_finds_each_word_s_day_to_day_variance_never_below_the_typical_word_s():
    rng = np.random.default_rng(5)
    base = rng.dirichlet(np.ones(400)) * 40_000
    quiet = rng.poisson(np.tile(base, (10, 1)))
    waves = rng.poisson(base * rng.lognormal(0, 0.5, size=(10, 400)))
    prior = np.full(400, 2.5)
    assert np.median(between_variance(quiet, prior, 50)) < 0.02
    assert 0.15 < np.median(between_variance(waves, prior, 50)) < 0.4  # 0.5 ** 2 on the log scale
    top = int(base.argmax())
    one_bursty = quiet.copy()
    one_bursty[::2, top] *= 4  # the most used word comes in waves, the others not
    found = between_variance(one_bursty, prior, 50)
    assert found[top] > 0.3 and found[top] > 20 * np.median(found)


def test_share_interval_adds_the_day_to_day_spread_to_the_binomial_noise():
    steady = share_interval(np.array([300.0] * 7), np.array([1000.0] * 7), 1000, 0.99)
    moving = share_interval(np.array([270.0, 330.0, 300.0, 250.0, 350.0, 300.0, 300.0]), np.array([1000.0] * 7), 1000,
                            0.99)
    assert steady[0] == moving[0] == pytest.approx(0.3)
    assert steady[1] < 0.3 < steady[2] and moving[2] - moving[1] > 2 * (steady[2] - steady[1])


def burst(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """``n`` negative tweets about sanitizer (otherwise the usual words)."""
    texts = [f"sanitizer {text}" for text in synthetic_day(rng, n)[0]]
    probabilities = np.full((n, len(LABELS)), 0.05)
    probabilities[:, LABELS.index("Negative")] = 0.8
    return texts, probabilities


@pytest.fixture
def settings(tmp_path):
    return Settings(data_root=str(tmp_path / "data"), mood_alert_baseline_periods=7, mood_alert_q=0.01)


def write_days(tables: ScoredStream, days: range, version: str = "v1", n: int = 400, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for d in days:
        texts, probabilities = synthetic_day(rng, n)
        write_scored_day(tables, f"day{d:03d}", FIRST_DAY + pd.Timedelta(days=d), texts, probabilities, version)


def test_a_burst_of_one_topic_raises_an_alert_naming_its_word_with_examples(settings):
    tables = ScoredStream(settings.layout().stream)
    write_days(tables, range(8))
    assert detect_mood_alerts(settings) == []  # a quiet day
    rng = np.random.default_rng(9)
    texts, probabilities = synthetic_day(rng, 400)
    extra, extra_p = burst(rng, 20)  # 5 % of the day
    write_scored_day(tables, "day008", FIRST_DAY + pd.Timedelta(days=8), texts + extra,
                     np.vstack([probabilities, extra_p]), "v1")
    alerts = detect_mood_alerts(settings)
    assert [a.label for a in alerts] == ["Negative"]
    alert = alerts[0]
    assert (alert.period_start, alert.resolution, alert.champion_version, alert.tweets) == \
        (FIRST_DAY + pd.Timedelta(days=8), "day", "v1", 420)
    top = alert.words[0]
    assert top.word == "sanitizer" and top.z > 3
    assert len(top.examples) == 3 and all("sanitizer" in t for t in top.examples)
    assert alert.share_low <= alert.baseline_share <= alert.share_high
    assert MoodAlert.from_extra(json.loads(json.dumps(alert.to_extra()))) == alert  # an asset event's extra
    tables.expire(["day008"])  # texts past retention: the alert stays, without examples
    assert [w.examples for w in detect_mood_alerts(settings)[0].words] == [()] * len(alert.words)


def test_a_topic_every_class_talks_more_about_is_no_driver_but_the_same_rise_in_one_class_is(settings):
    tables = ScoredStream(settings.layout().stream)
    write_days(tables, range(8))
    rng = np.random.default_rng(9)
    texts, probabilities = synthetic_day(rng, 400)
    everywhere = [f"easter {t}" if i % 5 == 0 else t for i, t in enumerate(texts)]  # a fifth of every class
    write_scored_day(tables, "day008", FIRST_DAY + pd.Timedelta(days=8), everywhere, probabilities, "v1")
    assert detect_mood_alerts(settings) == []
    negative = probabilities[:, LABELS.index("Negative")] == probabilities.max(axis=1)
    own = [f"easter {t}" if negative[i] and i % 2 == 0 else t for i, t in enumerate(texts)]  # as many tweets
    write_scored_day(tables, "day008", FIRST_DAY + pd.Timedelta(days=8), own, probabilities, "v1")
    alerts = detect_mood_alerts(settings)
    assert [a.label for a in alerts] == ["Negative"] and alerts[0].words[0].word == "easter"


def test_where_every_hour_holds_enough_tweets_the_period_is_the_newest_hour(settings):
    tables = ScoredStream(settings.layout().stream)
    hourly = dataclasses.replace(settings, mood_hourly_min_tweets=100)
    rng = np.random.default_rng(2)
    for h in range(8):
        texts, probabilities = synthetic_day(rng, 400)
        if h == 7:
            extra, extra_p = burst(rng, 40)
            texts, probabilities = texts + extra, np.vstack([probabilities, extra_p])
        write_scored_day(tables, f"hour{h}", FIRST_DAY + pd.Timedelta(hours=h), texts, probabilities, "v1",
                         DATED_BY_TIME)
    alerts = detect_mood_alerts(hourly)
    assert [(a.label, a.resolution, a.period_start, a.tweets) for a in alerts] == \
        [("Negative", "hour", FIRST_DAY + pd.Timedelta(hours=7), 440)]
    assert alerts[0].words[0].word == "sanitizer"
    daily = dataclasses.replace(settings, mood_hourly_min_tweets=1000)
    assert detect_mood_alerts(daily) == []  # per day: one day, no baseline


def changed_champion(probabilities: np.ndarray) -> np.ndarray:
    """What a champion that reads a third of every other class as Negative answers."""
    changed = probabilities.copy()
    moved = np.arange(len(changed)) % 3 == 0
    changed[moved] = 0.05
    changed[moved, LABELS.index("Negative")] = 0.8
    return changed


def test_a_champion_change_alone_raises_no_alert(settings):
    tables = ScoredStream(settings.layout().stream)
    write_days(tables, range(8))
    rng = np.random.default_rng(9)
    texts, probabilities = synthetic_day(rng, 400)
    write_scored_day(tables, "day008", FIRST_DAY + pd.Timedelta(days=8), texts, changed_champion(probabilities), "v2")
    assert detect_mood_alerts(settings) == []  # v2 has no baseline of its own yet
    for d in range(8):  # the re-scoring of the history by v2
        rows = tables.read_rows([f"day{d:03d}"], ["batch_id", "seq", "text", "tweet_at", "dated_by", "annotated"])
        again = tables.query(f"SELECT * FROM scores WHERE batch_id = 'day{d:03d}' ORDER BY seq", ["scores"])
        rescore(tables, f"day{d:03d}", rows, changed_champion(again[[f"p_{c}" for c in LABELS]].to_numpy()), "v2")
    assert detect_mood_alerts(settings) == []  # like with like: v2's day against v2's baseline
    # the same day against v1's baseline (unlike with unlike) would raise one: the test above can fail
    counts = tables.query("SELECT hour, champion_version AS v, label, sum(n) AS n FROM counts GROUP BY ALL",
                          ["counts"])
    mixed = pd.concat([counts[(counts["v"] == "v1") & (counts["hour"] < counts["hour"].max())],
                       counts[(counts["v"] == "v2") & (counts["hour"] == counts["hour"].max())]])
    classes = mixed.pivot_table(index="hour", columns="label", values="n", aggfunc="sum", fill_value=0)
    window = Window("v2", "day", classes, pd.DataFrame(columns=["period", "label", "word", "n"]))
    assert "Negative" in [a.label for a in window_alerts(window, AlertParams(), lambda label, words: {})]


def test_a_check_reads_only_the_periods_it_needs_however_long_the_history(settings, monkeypatch):
    read: dict[str, list[int]] = {}
    create = delta_tables._create_view

    def counting(connection, name, rows, files, registered):
        read.setdefault(name, []).append(len(files))
        return create(connection, name, rows, files, registered)

    monkeypatch.setattr(delta_tables, "_create_view", counting)
    tables = ScoredStream(settings.layout().stream)
    write_days(tables, range(16), n=50)
    read.clear()
    assert detect_mood_alerts(settings) == []
    assert max(read["counts"]) == max(read["words"]) == 8  # the target day and its 7 baseline days, of 16
    assert max(read["scored"]) == 1
    longer = dataclasses.replace(settings, mood_alert_baseline_periods=3)
    read.clear()
    detect_mood_alerts(longer)
    assert max(read["counts"]) == max(read["words"]) == 4
