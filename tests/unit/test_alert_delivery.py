"""Alerts delivered to a real SMTP server (aiosmtpd on a free port, through the SMTP provider's SmtpNotifier): one
notification when an episode begins, none while it goes on, a notice when it ends; a muted key is not notified;
a notice the mail server could not take is sent by the next check; any Airflow notifier by setting."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from mail_support import body, mailing, smtp_server

from tweet_sentiment.config import SettingError, Settings
from tweet_sentiment.monitoring.alert_delivery import deliver
from tweet_sentiment.monitoring.alert_store import EPISODES, RAISED, acknowledge, episodes, mute
from tweet_sentiment.monitoring.alert_types import DriverWord, HealthAlert, MoodAlert
from tweet_sentiment.storage.database import read_connection

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)


def mood_alert(label: str = "Extremely Negative", hour: int = 0) -> MoodAlert:
    return MoodAlert(period_start=datetime(2020, 3, 18, hour, tzinfo=UTC), resolution="hour", label=label,
                     champion_version="v7", words=(DriverWord("#toiletpaper", 6.2, ("no #toiletpaper left",
                                                                                   "shelves empty", "panic")),
                                                   DriverWord("hoarding", 4.1, ("stop hoarding",))),
                     share=0.31, baseline_share=0.2, share_low=0.17, share_high=0.24, tweets=1200)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return mailing(Settings(data_root=str(tmp_path / "data")))


def _episodes(settings: Settings) -> list[dict]:
    with read_connection(settings.state_db) as conn:
        return [dict(r) for r in conn.execute(sa.select(EPISODES).order_by(EPISODES.c.id)).mappings()]


def test_one_mail_when_an_episode_begins_none_while_it_goes_on_and_a_notice_when_it_ends(settings, monkeypatch):
    with smtp_server(monkeypatch) as mails:
        first = deliver(settings, "mood", [mood_alert()], T0)
        assert len(mails) == 1 and first["began"] == ["mood:Extremely Negative"]
        assert first["events"] == [mood_alert().to_extra()]  # the asset event's extra: the alert
        second = deliver(settings, "mood", [mood_alert(hour=1)], T0 + timedelta(hours=1))
        assert len(mails) == 1 and second["ongoing"] == ["mood:Extremely Negative"] and second["events"] == []
        third = deliver(settings, "mood", [], T0 + timedelta(hours=2))
        assert len(mails) == 2 and third["ended"] == ["mood:Extremely Negative"]
    began, ended = mails
    assert began["To"] == "watch@example.org" and began["Subject"].startswith("[tweet-sentiment] ALERT: mood:")
    assert "#toiletpaper (z 6.2): no #toiletpaper left | shelves empty | panic" in body(began)
    assert "scored by v7" in body(began)
    assert ended["Subject"].startswith("[tweet-sentiment] ended: mood:") and "This episode is over" in body(ended)
    [episode] = _episodes(settings)
    assert episode["began_at"] == T0.isoformat() and episode["ended_at"] == (T0 + timedelta(hours=2)).isoformat()
    assert episode["alerts"] == 2 and episode["last_extra"]["period_start"].startswith("2020-03-18T01")
    with read_connection(settings.state_db) as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(RAISED)) == 2


def test_a_health_check_and_a_mood_check_keep_their_own_episodes(settings, monkeypatch):
    health = HealthAlert("scoring_behind", 7200, 3600, "the oldest unscored tweet waits 2 h", T0)
    with smtp_server(monkeypatch) as mails:
        deliver(settings, "mood", [mood_alert()], T0)
        deliver(settings, "health", [health], T0)
        assert deliver(settings, "health", [health], T0 + timedelta(minutes=5))["ongoing"] == ["health:scoring_behind"]
        assert deliver(settings, "mood", [mood_alert()], T0)["ended"] == []  # a health check ends no mood episode
    assert [m["Subject"].split(": ", 2)[1] for m in mails] == ["mood", "loop health"]


def test_a_muted_key_is_not_notified_and_its_episode_is_kept(settings, monkeypatch):
    mute(settings.state_db, "mood:Extremely Negative", "ann", T0, T0 + timedelta(hours=3))
    with smtp_server(monkeypatch) as mails:
        deliver(settings, "mood", [mood_alert()], T0 + timedelta(hours=1))
        deliver(settings, "mood", [], T0 + timedelta(hours=2))
        assert mails == []
        deliver(settings, "mood", [mood_alert()], T0 + timedelta(hours=4))  # the mute is over
        assert len(mails) == 1
    page = episodes(settings.state_db, limit=10)
    assert [(e["began_notice"], e["ended_notice"]) for e in page] == [("sent", None), ("muted", "muted")]
    assert page[1]["ended_at"] and page[1]["muted_by"] == "ann"


def test_a_notice_the_mail_server_refused_is_sent_by_the_next_check(settings, monkeypatch):
    with smtp_server(monkeypatch):
        pass  # the connection stays; its server is gone
    down = deliver(settings, "mood", [mood_alert()], T0)
    assert down["began"] == ["mood:Extremely Negative"] and "Error" in down["notify_error"]
    assert down["events"] == [mood_alert().to_extra()]  # the alert is kept and its event emitted all the same
    with smtp_server(monkeypatch) as mails:
        again = deliver(settings, "mood", [mood_alert()], T0 + timedelta(hours=1))
    assert again["notified"] == ["began:mood:Extremely Negative"] and len(mails) == 1


def test_acknowledgement_is_kept_with_who_and_when(settings, monkeypatch):
    with smtp_server(monkeypatch):
        deliver(settings, "mood", [mood_alert()], T0)
    [episode] = episodes(settings.state_db, limit=5)
    assert acknowledge(settings.state_db, episode["id"], "ann", T0 + timedelta(minutes=3))["by"] == "ann"
    assert acknowledge(settings.state_db, episode["id"], "bob", T0 + timedelta(minutes=9))["by"] == "ann"
    [acked] = episodes(settings.state_db, limit=5)
    assert acked["acked_by"] == "ann" and acked["acked_at"] == (T0 + timedelta(minutes=3)).isoformat()
    with pytest.raises(KeyError):
        acknowledge(settings.state_db, episode["id"] + 1, "ann", T0)


def test_history_pages_newest_first(settings, monkeypatch):
    with smtp_server(monkeypatch):
        for i in range(5):  # five episodes: each check raises another label than the last
            deliver(settings, "mood", [mood_alert(label=f"L{i}")], T0 + timedelta(hours=i))
    first = episodes(settings.state_db, limit=2)
    second = episodes(settings.state_db, limit=2, before_id=first[-1]["id"])
    assert [e["episode_key"] for e in first + second] == ["mood:L4", "mood:L3", "mood:L2", "mood:L1"]


def test_any_airflow_notifier_by_setting(settings, tmp_path):
    out = tmp_path / "notices.txt"
    other = dataclasses.replace(settings, alert_notifier="mail_support.LineNotifier", alert_notifier_kwargs=json.dumps(
        {"path": str(out), "message": "{{ alert_event }} {{ alert.episode_key }}: {{ alert_subject }}"}))
    deliver(other, "mood", [mood_alert()], T0)
    deliver(other, "mood", [], T0 + timedelta(hours=1))
    lines = out.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["began mood", "ended mood"]
    assert "[tweet-sentiment] ALERT: mood: Extremely Negative talk rose (#toiletpaper, hoarding)" in lines[0]


def test_notifier_arguments_must_be_a_json_object(monkeypatch):
    monkeypatch.setenv("TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS", "[1, 2]")
    with pytest.raises(SettingError, match="TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS must be a JSON object"):
        _ = Settings.from_env().alert_notifier_options
