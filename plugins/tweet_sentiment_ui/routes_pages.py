"""The four pages and the files they load (``static/``), for any logged-in user who may read this view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from tweet_sentiment_ui.access import Reader

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


PAGES = ("labelling", "labels", "model", "mood")  # /<page> serves static/<page>.html


def page_route(page: str) -> Callable[[BaseUser], FileResponse]:
    """The route serving ``static/<page>.html``."""

    def serve(_: Reader) -> FileResponse:
        return FileResponse(STATIC / f"{page}.html")

    return serve


for _page in PAGES:
    router.add_api_route(f"/{_page}", page_route(_page), methods=["GET"], name=f"{_page}_page")


@router.get("/static/{name}")
def asset(name: str, _: Reader) -> FileResponse:
    """A file of ``static/`` by its exact name (nothing outside that folder)."""
    if name not in {p.name for p in STATIC.iterdir()}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name!r}")
    return FileResponse(STATIC / name)
