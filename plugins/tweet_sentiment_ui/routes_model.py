"""The prediction API and the "Sentiment model" page's API: versions, holdout curve, report images, rollback."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tweet_sentiment.model.registry import VERSION_ID_PATTERN
from tweet_sentiment.pages.model import PAGE_ROWS, holdouts_png, overview, report_image, roll_back
from tweet_sentiment.pipeline.assets import CHAMPION, champion_event
from tweet_sentiment_ui.access import Operator, Reader
from tweet_sentiment_ui.events import record_asset_event
from tweet_sentiment_ui.services import services

router = APIRouter(prefix="/api")


class PredictBody(BaseModel):
    texts: list[str] = Field(description="the raw tweets to label, one or many")


class RollbackBody(BaseModel):
    version: str = Field(pattern=VERSION_ID_PATTERN, description="a model version id: v<date>T<time>-<6 hex>")
    reason: str = ""


@router.post("/predict")
def predict(body: PredictBody, _: Reader) -> dict:
    """Label and class probabilities of each text from the current champion (a read: nothing is stored)."""
    predictions = services().predictor.predict(body.texts)
    return {"predictions": [{"text": t, **p.to_dict()} for t, p in zip(body.texts, predictions, strict=True)]}


@router.get("/model")
def model(_: Reader, offset: int = Query(0, ge=0), limit: int = Query(PAGE_ROWS, ge=1, le=500)) -> dict:
    """The model page's data, with one page of versions (newest first) from ``offset``."""
    svc = services()
    return overview(svc.registry, svc.layout.reports, offset, limit)


@router.get("/model/holdouts.png", include_in_schema=False)
def holdouts_curve(_: Reader) -> Response:
    """The two-holdout learning curve, drawn from the live registry."""
    return Response(holdouts_png(services().registry), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


@router.get("/model/images/{name:path}", include_in_schema=False)
def model_image(name: str, _: Reader) -> Response:
    try:
        return Response(report_image(services().layout.reports, name), media_type="image/png")
    except FileNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/model/rollback")
def rollback(body: RollbackBody, user: Operator) -> dict:
    """Make an earlier champion the champion again (recorded in the registry like a promotion) and record a
    champion asset event."""
    svc = services()
    if not svc.registry.exists(body.version):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model version {body.version!r}")
    done = roll_back(svc.registry, body.version, user.get_name(), body.reason)
    event = champion_event(svc.registry, "rollback")
    return {**done, "asset_event": record_asset_event(CHAMPION, event, user.get_name())}
