"""The "Mood" page's API: the scored stream's series and drift checks, and its chart."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from tweet_sentiment.pages.mood import mood_chart, mood_overview
from tweet_sentiment_ui.access import Reader
from tweet_sentiment_ui.services import services

router = APIRouter(prefix="/api")


@router.get("/mood")
def mood(_: Reader) -> dict:
    """The mood series of the scored stream, who scored it, the champion changes and the last drift check."""
    svc = services()
    return mood_overview(svc.layout, svc.registry)


@router.get("/mood/chart.png", include_in_schema=False)
def mood_picture(_: Reader) -> Response:
    try:
        return Response(mood_chart(services().layout), media_type="image/png", headers={"Cache-Control": "no-store"})
    except FileNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no mood chart yet: the scoring DAG has not run") from exc
