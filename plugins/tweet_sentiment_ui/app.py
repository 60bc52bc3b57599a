"""The FastAPI app mounted in the Airflow API server: pages and JSON endpoints, each behind Airflow's login."""

from __future__ import annotations

from fastapi import FastAPI

from tweet_sentiment_ui import (
    routes_alerts,
    routes_feeds,
    routes_labelling,
    routes_labels,
    routes_model,
    routes_mood,
    routes_pages,
)
from tweet_sentiment_ui.errors import add_error_handlers
from tweet_sentiment_ui.guard import RequestGuard
from tweet_sentiment_ui.services import services

ROUTERS = (routes_pages.router, routes_model.router, routes_labelling.router, routes_labels.router,
           routes_mood.router, routes_alerts.router, routes_feeds.router)
UPLOAD_PATH = "/api/queue/load"  # the one write that takes a file (multipart); every other takes JSON or nothing
FORM_OVERHEAD = 64 * 1024  # bytes of multipart boundaries and small fields around a file, slack of a JSON body
JSON_BYTES_PER_CHAR = 6  # a character escaped in JSON (\uXXXX) takes at most six bytes


def body_limit(path: str) -> int:
    """The most bytes a write's body to ``path`` may have: an upload its file limit (``max_file_mb``), any
    other the largest prediction request the settings allow (``predict_max_texts`` x ``max_text_chars``)."""
    settings = services().settings
    if path.rstrip("/").endswith(UPLOAD_PATH):
        return settings.max_file_bytes + FORM_OVERHEAD
    return settings.predict_max_texts * (JSON_BYTES_PER_CHAR * settings.max_text_chars + 8) + FORM_OVERHEAD


def create_app() -> FastAPI:
    """The plugin's app; every route depends on Airflow's login (``Reader``/``Writer``/``Operator``), every
    request passes ``RequestGuard`` first (no cross-site writes, bounded bodies, no framing by other sites)."""
    app = FastAPI(title="Tweet sentiment", description="Labelling queue, prediction API, model and mood pages.",
                  docs_url=None, redoc_url=None, openapi_url=None)  # FastAPI's own pages would skip the login
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(RequestGuard, body_limit=body_limit)
    return app
