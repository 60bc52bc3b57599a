"""What the Mood page shows of the alerts: a page of episodes (newest first) with their latest alert's words,
z-scores and examples, who acknowledged each and whether its key is muted; acknowledging and muting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tweet_sentiment.monitoring.alert_delivery import describe
from tweet_sentiment.monitoring.alert_store import acknowledge, episodes, mute

PAGE_EPISODES = 10
MUTE_HOURS_MAX = 24 * 30


def _shown(episode: dict, now: str) -> dict:
    headline, lines = describe(episode["last_extra"])
    muted = episode["muted_until"] is not None and episode["muted_until"] > now
    return {"id": episode["id"], "kind": episode["kind"], "episode_key": episode["episode_key"],
            "began_at": episode["began_at"], "ended_at": episode["ended_at"], "open": episode["ended_at"] is None,
            "alerts": episode["alerts"], "headline": headline, "summary": lines[0], "alert": episode["last_extra"],
            "acked_by": episode["acked_by"], "acked_at": episode["acked_at"],
            "muted_by": episode["muted_by"] if muted else None,
            "muted_until": episode["muted_until"] if muted else None}


def alerts_page(state_db: str, before_id: int | None = None, limit: int = PAGE_EPISODES) -> dict:
    """One page of alert episodes, newest first (older than ``before_id``), and where the next page starts."""
    rows = episodes(state_db, limit + 1, before_id)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {"episodes": [_shown(e, now) for e in rows[:limit]],
            "next_before": rows[limit - 1]["id"] if len(rows) > limit else None}


def acknowledge_alert(state_db: str, episode_id: int, who: str) -> dict:
    """``who`` acknowledged the episode now (KeyError: no such episode)."""
    return acknowledge(state_db, episode_id, who, datetime.now(UTC))


def mute_alert(state_db: str, episode_key: str, hours: float, who: str) -> dict:
    """Mute ``episode_key``'s notifications for ``hours`` from now."""
    now = datetime.now(UTC)
    return mute(state_db, episode_key, who, now, now + timedelta(hours=hours))
