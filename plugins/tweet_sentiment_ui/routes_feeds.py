"""Events for files a feed dropped (``make feed`` into the inbox, ``make feed-unlabelled`` into the unlabelled
inbox): the asset event that starts the DAG scheduled on it at once, recorded the way "Send batch" records its own
(``Writer``: the right to trigger the retrain DAG; ``Scorer``: the scoring DAG)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tweet_sentiment.pipeline.assets import INBOX, UNLABELLED, AssetName
from tweet_sentiment.pipeline.feed_events import events_route
from tweet_sentiment_ui.access import Scorer, Writer
from tweet_sentiment_ui.events import record_asset_event

router = APIRouter()


class DroppedFile(BaseModel):
    file: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\]+$", description="the file's name in the inbox")


def _record(asset: AssetName, body: DroppedFile, user: str) -> dict:
    """The event's id (None: the asset is not registered yet, the file waits for the next tick)."""
    return {"asset": asset.name, "event": record_asset_event(asset, {"file": body.file, "source": "feed"}, user)}


@router.post(events_route(INBOX))
def inbox_file(body: DroppedFile, user: Writer) -> dict:
    return _record(INBOX, body, user.get_name())


@router.post(events_route(UNLABELLED))
def unlabelled_file(body: DroppedFile, user: Scorer) -> dict:
    return _record(UNLABELLED, body, user.get_name())
