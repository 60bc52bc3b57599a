"""The "Labels" page's API: agreement between annotators, a third answer on a disputed tweet, and the decisions
on the rows the label check held for review."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tweet_sentiment.intake.quarantine import quarantined
from tweet_sentiment.label_check.review import REVIEW_ID_PATTERN, resolve_review
from tweet_sentiment.pages.labels import labels_page
from tweet_sentiment_ui.access import Reader, Writer
from tweet_sentiment_ui.routes_labelling import LabelBody
from tweet_sentiment_ui.services import services

router = APIRouter(prefix="/api")


class ReviewBody(BaseModel):
    review_id: str = Field(pattern=REVIEW_ID_PATTERN, description="<batch id>--<row number>")
    decision: str = Field(description="accept | relabel | drop")
    label: str | None = Field(None, description="the new label, for relabel")


@router.get("/label-quality")
def label_quality(_: Reader, disputed_offset: int = Query(0, ge=0)) -> dict:
    """Overlap setting, agreement per annotator pair and of each annotator with the model (counted by the state
    database), one page of disputed tweets (100 from ``disputed_offset``), the rows the label check held."""
    return labels_page(services().labelling, disputed_offset)


@router.post("/reviews")
def review(body: ReviewBody, user: Writer) -> dict:
    """A person's decision on a row the label check held: accept, relabel (to ``label``) or drop; an accepted
    or relabelled row goes to the inbox as a one-row CSV (the next run takes it)."""
    return resolve_review(services().layout, body.review_id, body.decision, body.label, user.get_name())


@router.post("/adjudications")
def adjudicate(body: LabelBody, user: Writer) -> dict:
    """The third answer on a disputed tweet; it goes in the caller's next batch."""
    return services().labelling.adjudicate(body.id, body.label, user.get_name())


@router.get("/quarantine")
def quarantine(_: Reader) -> dict:
    """The files the labelled inbox refused whole and has not released, with their reasons (the newest batches
    first, at most 100), and how many rows were rejected in all (``python -m tweet_sentiment quarantine list``)."""
    found = quarantined(services().layout.labelled_stream)
    files = [q.to_dict() for q in found if not q.row and not q.released_as]
    return {"files": sorted(files, key=lambda q: q["batch_id"], reverse=True)[:100],
            "rows_rejected": sum(1 for q in found if q.row)}
