"""The FastAPI app mounted in the Airflow API server: pages and JSON endpoints, each behind Airflow's login."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tweet_sentiment.assets import CHAMPION, INBOX, champion_event, inbox_event
from tweet_sentiment.config import DatasetMissingError, Settings
from tweet_sentiment.drift_watch import drift_candidates
from tweet_sentiment.infinity import EmbeddingServiceError
from tweet_sentiment.label_agreement import annotator_figures, pair_agreement
from tweet_sentiment.label_answers import AnswerRefused, NotQueued, UnknownAnswer
from tweet_sentiment.label_review import ReviewError, pending_reviews, resolve_review, review_counts
from tweet_sentiment.labelling import LabellingInputError, LabellingQueue
from tweet_sentiment.model_overview import RollbackRefused, holdouts_png, overview, report_image, roll_back
from tweet_sentiment.mood_overview import mood_chart, mood_overview
from tweet_sentiment.prediction import NoChampionError, PredictionRequestError, Predictor
from tweet_sentiment.registry import ChampionUnavailableError, ModelRegistry
from tweet_sentiment.schema import LABELS
from tweet_sentiment.services import infinity_client
from tweet_sentiment_ui.access import Operator, Reader, Writer
from tweet_sentiment_ui.events import record_asset_event

ASSETS = Path(__file__).parent / "assets"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class Services:
    """The registry, predictor and labelling queue of the configured data root, built on first use."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.layout = self.settings.layout()
        self.registry = ModelRegistry(self.layout.registry)

    @cached_property
    def predictor(self) -> Predictor:
        return Predictor(self.registry, infinity_client(self.settings), self.layout.embeddings,
                         self.settings.predict_max_texts, self.settings.max_text_chars)

    @cached_property
    def labelling(self) -> LabellingQueue:
        return LabellingQueue(self.layout, self.predictor, self.settings.max_text_chars,
                              self.settings.annotator_names, self.settings.label_overlap_share)


_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    global _services
    with _services_lock:
        if _services is None:
            _services = Services()
        return _services


class PredictBody(BaseModel):
    texts: list[str] = Field(description="the raw tweets to label, one or many")


class LabelBody(BaseModel):
    id: str
    label: str = Field(description="one of the five classes (any case), or Unsure")


class SkipBody(BaseModel):
    id: str


class ReviewBody(BaseModel):
    review_id: str
    decision: str = Field(description="accept | relabel | drop")
    label: str | None = Field(None, description="the new label, for relabel")


class RollbackBody(BaseModel):
    version: str
    reason: str = ""


def create_app() -> FastAPI:
    """The plugin's app; every route depends on Airflow's login (``Reader``/``Writer``/``Operator``)."""
    app = FastAPI(title="Tweet sentiment", description="Labelling queue, prediction API, model and mood pages.",
                  docs_url=None, redoc_url=None, openapi_url=None)  # FastAPI's own pages would skip the login

    @app.exception_handler(PredictionRequestError)
    @app.exception_handler(LabellingInputError)
    @app.exception_handler(UnknownAnswer)
    @app.exception_handler(ReviewError)
    @app.exception_handler(RollbackRefused)
    async def bad_request(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(StarletteHTTPException)
    async def login_for_pages(request: Request, exc: StarletteHTTPException) -> Response:
        """A person opening a page without a session is sent to Airflow's login, and back here after it."""
        if exc.status_code == status.HTTP_401_UNAUTHORIZED and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
        return await http_exception_handler(request, exc)

    @app.exception_handler(NotQueued)
    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(AnswerRefused)
    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)

    @app.exception_handler(NoChampionError)
    @app.exception_handler(ChampionUnavailableError)
    @app.exception_handler(EmbeddingServiceError)
    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get("/labelling", include_in_schema=False)
    def labelling_page(_: Reader) -> FileResponse:
        return FileResponse(ASSETS / "labelling.html")

    @app.get("/labels", include_in_schema=False)
    def labels_page(_: Reader) -> FileResponse:
        return FileResponse(ASSETS / "labels.html")

    @app.get("/model", include_in_schema=False)
    def model_page(_: Reader) -> FileResponse:
        return FileResponse(ASSETS / "model.html")

    @app.get("/mood", include_in_schema=False)
    def mood_page(_: Reader) -> FileResponse:
        return FileResponse(ASSETS / "mood.html")

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str, _: Reader) -> FileResponse:
        if name not in {p.name for p in ASSETS.iterdir()}:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name!r}")
        return FileResponse(ASSETS / name)

    @app.post("/api/predict")
    def predict(body: PredictBody, _: Reader) -> dict:
        """Label and class probabilities of each text from the current champion."""
        predictions = services().predictor.predict(body.texts)
        return {"predictions": [{"text": t, **p.to_dict()} for t, p in zip(body.texts, predictions, strict=True)]}

    @app.get("/api/labels")
    def labels(_: Reader) -> dict:
        return {"labels": list(LABELS)}

    @app.get("/api/queue")
    def queue(user: Reader, predicted: str | None = None, limit: Annotated[int, Query(ge=0, le=500)] = 50) -> dict:
        """The caller's queue (overlap tweets reserved for others left out), their counts, the overlap setting."""
        return {**services().labelling.view(predicted or None, limit, user.get_name()), "annotator": user.get_name()}

    @app.post("/api/queue/load")
    async def load(_: Writer, file: Annotated[UploadFile | None, File()] = None,
                   rows: Annotated[int | None, Form(ge=1, le=5000)] = None) -> dict:
        """Queue tweets from an uploaded CSV, or the next ones of the configured 2022 file."""
        svc = services()
        limit = rows or svc.settings.labelling_load_rows
        if file is not None and file.filename:
            data = await file.read(MAX_UPLOAD_BYTES + 1)
            if len(data) > MAX_UPLOAD_BYTES:
                raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                    f"{file.filename} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
            report = svc.labelling.load(Path(file.filename).name, data, limit)
        else:
            try:
                path = svc.settings.unlabelled_file
            except DatasetMissingError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
            # while drift holds, a share of the load comes from the drifted window (what the model now sees)
            report = svc.labelling.load(path.name, path.read_bytes(), limit, resume=True,
                                        drifted=drift_candidates(svc.layout),
                                        drift_share=svc.settings.labelling_drift_share)
        return report.to_dict()

    @app.post("/api/queue/labels")
    def record_label(body: LabelBody, user: Writer) -> dict:
        return services().labelling.record(body.id, body.label, user.get_name())

    @app.post("/api/queue/skip")
    def skip(body: SkipBody, user: Writer) -> dict:
        return services().labelling.skip(body.id, user.get_name())

    @app.post("/api/queue/undo")
    def undo(user: Writer) -> dict:
        """Take back the caller's newest answer or skip since their last send."""
        return services().labelling.undo(user.get_name())

    @app.get("/api/label-quality")
    def label_quality(_: Reader) -> dict:
        """Overlap setting, agreement per annotator pair and of each annotator with the model, disputed tweets."""
        queue = services().labelling
        records = queue.answer_records()
        layout = services().layout
        return {"overlap": queue.overlap(), "pairs": pair_agreement(records),
                "annotators": annotator_figures(records), "disputed": queue.disputed(), "labels": list(LABELS),
                "flagged": {"pending": pending_reviews(layout, limit=100), "counts": review_counts(layout)}}

    @app.post("/api/reviews")
    def review(body: ReviewBody, user: Writer) -> dict:
        """A person's decision on a row the label check held: accept, relabel (to ``label``) or drop; an accepted
        or relabelled row goes to the inbox as a one-row CSV (the next run takes it)."""
        return resolve_review(services().layout, body.review_id, body.decision, body.label, user.get_name())

    @app.post("/api/adjudications")
    def adjudicate(body: LabelBody, user: Writer) -> dict:
        """The third answer on a disputed tweet; it goes in the caller's next batch."""
        return services().labelling.adjudicate(body.id, body.label, user.get_name())

    @app.post("/api/queue/send")
    def send_batch(user: Writer) -> dict:
        """Write the caller's labelled tweets into the inbox as one CSV and record an inbox asset event, which
        starts a retrain run (``asset_event``: the event's id, null if none could be recorded)."""
        batch = services().labelling.send_batch(user.get_name())
        event = record_asset_event(INBOX, inbox_event(batch), user.get_name()) if batch["file"] else None
        return {**batch, "asset_event": event}

    @app.get("/api/batches")
    def batches(_: Reader) -> dict:
        return {"batches": services().labelling.batches()}

    @app.get("/api/model")
    def model(_: Reader) -> dict:
        svc = services()
        return overview(svc.registry, svc.layout.reports)

    @app.get("/api/model/holdouts.png", include_in_schema=False)
    def holdouts_curve(_: Reader) -> Response:
        """The two-holdout learning curve, drawn from the live registry."""
        return Response(holdouts_png(services().registry), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    @app.get("/api/model/images/{name:path}", include_in_schema=False)
    def model_image(name: str, _: Reader) -> Response:
        try:
            return Response(report_image(services().layout.reports, name), media_type="image/png")
        except FileNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    @app.get("/api/mood")
    def mood(_: Reader) -> dict:
        """The mood series of the scored stream, who scored it, the champion changes and the last drift check."""
        svc = services()
        return mood_overview(svc.layout, svc.registry)

    @app.get("/api/mood/chart.png", include_in_schema=False)
    def mood_picture(_: Reader) -> Response:
        try:
            return Response(mood_chart(services().layout), media_type="image/png",
                            headers={"Cache-Control": "no-store"})
        except FileNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no mood chart yet: the scoring DAG has not run") from exc

    @app.post("/api/model/rollback")
    def rollback(body: RollbackBody, user: Operator) -> dict:
        """Make an earlier champion the champion again (recorded in the registry like a promotion) and record a
        champion asset event."""
        svc = services()
        if not (svc.registry.versions_dir / body.version / "card.json").exists():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model version {body.version!r}")
        done = roll_back(svc.registry, body.version, user.get_name(), body.reason)
        event = champion_event(svc.registry, "rollback")
        return {**done, "asset_event": record_asset_event(CHAMPION, event, user.get_name())}

    return app
