"""The alerts on the "Mood" page: a page of alert episodes, acknowledging one, muting an episode key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from tweet_sentiment.pages.alerts import MUTE_HOURS_MAX, PAGE_EPISODES, acknowledge_alert, alerts_page, mute_alert
from tweet_sentiment_ui.access import Reader, Scorer
from tweet_sentiment_ui.services import services

router = APIRouter(prefix="/api")


class MuteBody(BaseModel):
    episode_key: str = Field(min_length=1, max_length=200, description="e.g. mood:Negative, health:scoring_behind")
    hours: float = Field(gt=0, le=MUTE_HOURS_MAX, description="how long its notifications stay off")


@router.get("/alerts")
def alerts(_: Reader, before: Annotated[int | None, Query(ge=1)] = None,
           limit: Annotated[int, Query(ge=1, le=100)] = PAGE_EPISODES) -> dict:
    """Alert episodes, newest first, a page at a time (``before``: the page's ``next_before``)."""
    return alerts_page(services().settings.state_db, before, limit)


@router.post("/alerts/{episode_id}/ack")
def acknowledge(episode_id: int, user: Scorer) -> dict:
    """The caller acknowledges an alert episode (the first acknowledgement is kept, with who and when)."""
    try:
        return acknowledge_alert(services().settings.state_db, episode_id, user.get_name())
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from exc


@router.post("/alerts/mute")
def mute(body: MuteBody, user: Scorer) -> dict:
    """The caller mutes an episode key's notifications for some hours (kept with who, when and until)."""
    return mute_alert(services().settings.state_db, body.episode_key, body.hours, user.get_name())
