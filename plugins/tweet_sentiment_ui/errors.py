"""How the plugin's errors reach the client: a refused input 400, an unknown tweet 404, a refused answer 409, a
missing champion or embedding service 503, and a page opened without a session a redirect to Airflow's login.

A fault of the server side (the embedding service, the champion's files) reaches the client as a generic text:
its details (infinity's URL, file paths) go to the API server's log only, for an operator."""

from __future__ import annotations

import logging

from airflow.api_fastapi.app import get_auth_manager
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tweet_sentiment.config import DatasetMissingError
from tweet_sentiment.label_check.review import ReviewError
from tweet_sentiment.labelling.answers import AnswerRefused, NotQueued, UnknownAnswer
from tweet_sentiment.labelling.queue import LabellingInputError
from tweet_sentiment.model.infinity import EmbeddingServiceError
from tweet_sentiment.model.prediction import NoChampionError, PredictionRequestError
from tweet_sentiment.model.registry import ChampionUnavailableError
from tweet_sentiment.pages.model import RollbackRefused

log = logging.getLogger(__name__)

STATUS_OF: dict[type[Exception], int] = {
    PredictionRequestError: status.HTTP_400_BAD_REQUEST,
    LabellingInputError: status.HTTP_400_BAD_REQUEST,
    UnknownAnswer: status.HTTP_400_BAD_REQUEST,
    ReviewError: status.HTTP_400_BAD_REQUEST,
    RollbackRefused: status.HTTP_400_BAD_REQUEST,
    NotQueued: status.HTTP_404_NOT_FOUND,
    AnswerRefused: status.HTTP_409_CONFLICT,
    NoChampionError: status.HTTP_503_SERVICE_UNAVAILABLE,
    ChampionUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
    EmbeddingServiceError: status.HTTP_503_SERVICE_UNAVAILABLE,
    DatasetMissingError: status.HTTP_404_NOT_FOUND,
}
LOG_HINT = "an operator finds the details in the Airflow API server's log"
# What the client sees of a server-side fault instead of its message.
GENERIC_TEXT: dict[type[Exception], str] = {
    ChampionUnavailableError: f"the champion model cannot be loaded; {LOG_HINT}",
    EmbeddingServiceError: f"the embedding service did not answer as expected; {LOG_HINT}",
    DatasetMissingError: f"the dataset file to load from is missing on the server; {LOG_HINT}",
}


def _nearest(table: dict[type[Exception], object], exc: Exception) -> object | None:
    return next((table[kind] for kind in type(exc).__mro__ if kind in table), None)


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """The error's message as ``detail`` (a server-side fault's generic text, its message logged), with the
    status of its nearest class in ``STATUS_OF``."""
    detail = _nearest(GENERIC_TEXT, exc)
    if detail is None:
        detail = str(exc)
    else:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse({"detail": detail}, _nearest(STATUS_OF, exc))


async def login_for_pages(request: Request, exc: StarletteHTTPException) -> Response:
    """A person opening a page without a session is sent to Airflow's login, and back here after it."""
    if exc.status_code == status.HTTP_401_UNAUTHORIZED and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return await http_exception_handler(request, exc)


def add_error_handlers(app: FastAPI) -> None:
    """Install the handlers above on ``app``."""
    for kind in STATUS_OF:
        app.add_exception_handler(kind, domain_error)
    app.add_exception_handler(StarletteHTTPException, login_for_pages)
