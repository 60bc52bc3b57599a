"""The mood-shift scenario at small size, on synthetic tweets (no infinity): the pool is kept out of the replay,
a burst is alerted naming the topic, shuffled replays give a false-alarm rate, and the last line's keys are there."""

import numpy as np
import pandas as pd
from mood_support import FIRST_DAY, synthetic_day

from lab.mood_shift import ShiftOptions, driver_rank, episodes_begun, mood_shift
from lab.mood_shift_data import Tweets, split_pool
from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_types import DriverWord, MoodAlert
from tweet_sentiment.schema import LABELS


def frame(texts: list[str], labels: list[str], day: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": labels, "text_hash": [str(hash(t)) for t in texts], "day": day})


def test_the_pool_holds_negative_tweets_about_the_topic_and_none_of_them_is_replayed():
    train = frame(["a scam again", "scam alert", "great scam deal", "no news", "scammers everywhere"],
                  ["Negative", "Extremely Negative", "Positive", "Negative", "Negative"], FIRST_DAY)
    test = frame(["phone scam", "scam ok"], ["Negative", "Neutral"], FIRST_DAY)
    replay, pool = split_pool(train, test, r"\bscam", 1.0)
    assert sorted(pool["text"]) == ["a scam again", "phone scam", "scam alert", "scammers everywhere"]
    assert sorted(replay["text"]) == ["great scam deal", "no news"]
    replay, pool = split_pool(train, test, r"\bscam", 0.0)
    assert pool["text"].tolist() == ["phone scam"] and len(replay) == len(train)


def alert(label: str, words: list[str]) -> MoodAlert:
    return MoodAlert(FIRST_DAY.to_pydatetime(), "day", label, "v1", tuple(DriverWord(w, 5.0, ()) for w in words),
                     0.3, 0.3, 0.2, 0.4, 100)


def test_episodes_and_driver_ranks_are_counted_as_the_delivery_counts_them():
    runs = [[], [alert("Negative", ["a"])], [alert("Negative", ["b"])], [], [alert("Negative", ["c"]),
                                                                             alert("Positive", ["d"])]]
    assert episodes_begun(runs) == 3  # Negative twice (it ended between), Positive once
    assert driver_rank([alert("Negative", ["x", "scams", "scam"])], "scam") == 2
    assert driver_rank([alert("Negative", ["x"])], "scam") is None


def synthetic_tweets(days: int, per_day: int) -> Tweets:
    rng = np.random.default_rng(4)
    parts = [(synthetic_day(rng, per_day), FIRST_DAY + pd.Timedelta(days=d)) for d in range(days)]
    replay = pd.concat([pd.DataFrame({"text": t, "day": when}) for (t, _), when in parts], ignore_index=True)
    pool_texts = [f"scam {t}" for t in synthetic_day(rng, 60)[0]]
    pool_p = np.full((60, len(LABELS)), 0.05)
    pool_p[:, LABELS.index("Negative")] = 0.8
    return Tweets(replay, np.vstack([p for (_, p), _ in parts]), pd.DataFrame({"text": pool_texts}), pool_p,
                  {"version": "lab-test", "rows": 0, "validation_macro_f1": 0.0})


def test_the_scenario_at_small_size_alerts_on_the_burst_and_reports_its_figures(tmp_path):
    settings = Settings(data_root=str(tmp_path / "unused"), mood_alert_baseline_periods=4,
                        mood_alert_min_baseline_periods=3, mood_alert_q=0.01)
    options = ShiftOptions(start_day=str((FIRST_DAY + pd.Timedelta(days=5)).date()), shares=(0.1,), shuffles=2)
    figures = mood_shift(settings, options, synthetic_tweets(7, 300))
    assert (figures["alert_delay_runs_10pct"], figures["injected_driver_rank_10pct"]) == (0, 1)
    assert len(figures["false_alerts_per_week_each_shuffle"]) == 2
    assert figures["false_alerts_per_week_shuffled"] == np.median(figures["false_alerts_per_week_each_shuffle"])
    assert figures["real_order_alerts"] == []  # the real order has no burst: synthetic days are alike
