"""The labelling queue's API (the "Label tweets" page): load, answer, skip, undo, send a batch, past batches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile, status
from pydantic import BaseModel, Field

from tweet_sentiment.labelling.sources import LoadReport
from tweet_sentiment.monitoring.drift_check import drift_candidates
from tweet_sentiment.pipeline.assets import INBOX, inbox_event
from tweet_sentiment.schema import LABELS
from tweet_sentiment_ui.access import Reader, Writer
from tweet_sentiment_ui.events import record_asset_event
from tweet_sentiment_ui.services import Services, services

router = APIRouter(prefix="/api")


class LabelBody(BaseModel):
    id: str
    label: str = Field(description="one of the five classes (any case), or Unsure")


class SkipBody(BaseModel):
    id: str


@router.get("/labels")
def labels(_: Reader) -> dict:
    return {"labels": list(LABELS)}


@router.get("/queue")
def queue(user: Reader, predicted: str | None = None, limit: Annotated[int, Query(ge=0, le=500)] = 50) -> dict:
    """The caller's queue (overlap tweets reserved for others left out), their counts, the overlap setting."""
    return {**services().labelling.view(predicted or None, limit, user.get_name()), "annotator": user.get_name()}


async def load_upload(svc: Services, file: UploadFile, limit: int) -> LoadReport:
    """Queue up to ``limit`` tweets of an uploaded CSV (413 beyond ``max_file_mb``)."""
    most = svc.settings.max_file_bytes
    data = await file.read(most + 1)
    if len(data) > most:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                            f"{file.filename} is larger than {svc.settings.max_file_mb:g} MiB")
    return svc.labelling.load(Path(file.filename or "").name, data, limit)


def load_unlabelled(svc: Services, limit: int) -> LoadReport:
    """Queue the next ``limit`` tweets of the configured 2022 file (DatasetMissingError, a 404, if missing)."""
    path = svc.settings.unlabelled_file
    # while drift holds, a share of the load comes from the drifted window (what the model now sees)
    return svc.labelling.load(path.name, path.read_bytes(), limit, resume=True, drifted=drift_candidates(svc.layout),
                              drift_share=svc.settings.labelling_drift_share)


@router.post("/queue/load")
async def load(_: Writer, file: Annotated[UploadFile | None, File()] = None,
               rows: Annotated[int | None, Form(ge=1, le=5000)] = None) -> dict:
    """Queue tweets from an uploaded CSV, or the next ones of the configured 2022 file."""
    svc = services()
    limit = rows or svc.settings.labelling_load_rows
    if file is not None and file.filename:
        return (await load_upload(svc, file, limit)).to_dict()
    return load_unlabelled(svc, limit).to_dict()


@router.post("/queue/labels")
def record_label(body: LabelBody, user: Writer) -> dict:
    return services().labelling.record(body.id, body.label, user.get_name())


@router.post("/queue/skip")
def skip(body: SkipBody, user: Writer) -> dict:
    return services().labelling.skip(body.id, user.get_name())


@router.post("/queue/undo")
def undo(user: Writer) -> dict:
    """Take back the caller's newest answer or skip since their last send."""
    return services().labelling.undo(user.get_name())


@router.post("/queue/send")
def send_batch(user: Writer) -> dict:
    """Write the caller's labelled tweets into the inbox as one CSV and record an inbox asset event, which
    starts a retrain run (``asset_event``: the event's id, null if none could be recorded)."""
    batch = services().labelling.send_batch(user.get_name())
    event = record_asset_event(INBOX, inbox_event(batch), user.get_name()) if batch["file"] else None
    return {**batch, "asset_event": event}


@router.get("/batches")
def batches(_: Reader) -> dict:
    return {"batches": services().labelling.batches()}
