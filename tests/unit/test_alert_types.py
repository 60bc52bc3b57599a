"""Alerts survive the trip through an asset event's JSON extra, and consecutive checks group them into episodes."""

import json
from datetime import UTC, datetime

from tweet_sentiment.monitoring.alert_types import DriverWord, HealthAlert, MoodAlert, episode_change

MOOD = MoodAlert(period_start=datetime(2020, 3, 18, tzinfo=UTC), resolution="day", label="Extremely Negative",
                 champion_version="v1", words=(DriverWord("#toiletpaper", 6.2, ("no #toiletpaper left", "empty")),),
                 share=0.31, baseline_share=0.2, share_low=0.17, share_high=0.24, tweets=1200)
HEALTH = HealthAlert(check="retrain_stalled", value=7200.0, limit=3600.0, detail="no retrain for 2 h, 3 files wait",
                     raised_at=datetime(2026, 12, 7, 12, tzinfo=UTC))


def test_alerts_round_trip_through_json_extras() -> None:
    for alert in (MOOD, HEALTH):
        extra = json.loads(json.dumps(alert.to_extra()))
        assert type(alert).from_extra(extra) == alert and extra["episode_key"] == alert.episode_key


def test_an_episode_begins_once_goes_on_quietly_and_ends_with_a_notice() -> None:
    first = episode_change([], [MOOD, HEALTH])
    assert first.began == ("health:retrain_stalled", "mood:Extremely Negative") and not first.ongoing
    second = episode_change(first.began, [MOOD])
    assert second.ongoing == ("mood:Extremely Negative",) and second.ended == ("health:retrain_stalled",)
    assert not second.began
