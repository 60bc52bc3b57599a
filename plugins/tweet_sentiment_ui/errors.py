"""How the plugin's errors reach the client: a refused input 400, an unknown tweet 404, a refused answer 409, a
missing champion or embedding service 503, and a page opened without a session a redirect to Airflow's login."""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tweet_sentiment.label_check.review import ReviewError
from tweet_sentiment.labelling.answers import AnswerRefused, NotQueued, UnknownAnswer
from tweet_sentiment.labelling.queue import LabellingInputError
from tweet_sentiment.model.infinity import EmbeddingServiceError
from tweet_sentiment.model.prediction import NoChampionError, PredictionRequestError
from tweet_sentiment.model.registry import ChampionUnavailableError
from tweet_sentiment.pages.model import RollbackRefused

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
}


async def domain_error(_: Request, exc: Exception) -> JSONResponse:
    """The error's message as ``detail``, with the status of its nearest class in ``STATUS_OF``."""
    code = next(STATUS_OF[kind] for kind in type(exc).__mro__ if kind in STATUS_OF)
    return JSONResponse({"detail": str(exc)}, code)


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
