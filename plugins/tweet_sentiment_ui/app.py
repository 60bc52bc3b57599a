"""The FastAPI app mounted in the Airflow API server: pages and JSON endpoints, each behind Airflow's login."""

from __future__ import annotations

from fastapi import FastAPI

from tweet_sentiment_ui import routes_feeds, routes_labelling, routes_labels, routes_model, routes_mood, routes_pages
from tweet_sentiment_ui.errors import add_error_handlers

ROUTERS = (routes_pages.router, routes_model.router, routes_labelling.router, routes_labels.router,
           routes_mood.router, routes_feeds.router)


def create_app() -> FastAPI:
    """The plugin's app; every route depends on Airflow's login (``Reader``/``Writer``/``Operator``)."""
    app = FastAPI(title="Tweet sentiment", description="Labelling queue, prediction API, model and mood pages.",
                  docs_url=None, redoc_url=None, openapi_url=None)  # FastAPI's own pages would skip the login
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
