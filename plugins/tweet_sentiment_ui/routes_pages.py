"""The four pages and the files they load (``assets/``), for any logged-in user who may read this view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from tweet_sentiment_ui.access import Reader

ASSETS = Path(__file__).parent / "assets"

router = APIRouter(include_in_schema=False)


PAGES = ("labelling", "labels", "model", "mood")  # /<page> serves assets/<page>.html


def page_route(page: str) -> Callable[[BaseUser], FileResponse]:
    """The route serving ``assets/<page>.html``."""

    def serve(_: Reader) -> FileResponse:
        return FileResponse(ASSETS / f"{page}.html")

    return serve


for _page in PAGES:
    router.add_api_route(f"/{_page}", page_route(_page), methods=["GET"], name=f"{_page}_page")


@router.get("/assets/{name}")
def asset(name: str, _: Reader) -> FileResponse:
    """A file of ``assets/`` by its exact name (nothing outside that folder)."""
    if name not in {p.name for p in ASSETS.iterdir()}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name!r}")
    return FileResponse(ASSETS / name)
