"""What every request passes before a route sees it: writes that need more than a cookie, bounded bodies, and a
frame policy on every answer.

- **Cross-site writes refused.** Airflow's UI logs in with the ``_token`` cookie, which a browser attaches to any
  request to this host, also a form another site posts (Airflow offers no CSRF protection to plugin apps; its
  ``SameSite=Lax`` cookie still goes along from sibling subdomains). So a write (any method but GET/HEAD/OPTIONS)
  needs a JSON body or the ``X-Requested-With`` header (neither can a plain HTML form send; a cross-site script
  setting them is stopped by the browser's CORS preflight, which this app never grants) and, when it comes from a
  browser, an ``Origin`` of this host (or of ``[api] base_url``). Only a request carrying the session cookie must
  have an ``Origin``: one that logs in with a Bearer token (which no browser adds on its own) needs none.
- **Bounded bodies.** A write's body is read, up to its limit, before any parsing: beyond it (by
  ``Content-Length`` or by the bytes that arrive) the answer is 413 and the rest is never read.
- **Frames.** Every answer carries ``Content-Security-Policy: frame-ancestors 'self'`` (the Airflow UI, same
  origin, may frame the pages; no other site may).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.configuration import conf
from fastapi import status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_HEADER = "X-Requested-With"
FRAME_POLICY = "frame-ancestors 'self'"

BodyLimit = Callable[[str], int]  # the path of a write -> the most bytes its body may have


class BodyTooLarge(Exception):
    """A request body went past its limit."""


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case (empty for one without a host)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else ""


def same_origin(origin: str, host: str | None) -> bool:
    """Whether a browser's ``Origin`` is this server: the ``Host`` it asked, or the configured ``[api] base_url``."""
    origin = origin.lower()
    if host and urlsplit(origin).netloc == host.lower():
        return True
    return bool(origin) and origin == _origin_of(conf.get("api", "base_url", fallback="") or "")


def cross_site_refusal(scope: Scope) -> str | None:
    """Why a write may not come from where it comes (None when it may, or is no write)."""
    if scope["method"] in SAFE_METHODS:
        return None
    headers = Headers(scope=scope)
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and WRITE_HEADER not in headers:
        return f"a change needs a JSON body or the {WRITE_HEADER} header (a plain form cannot send it)"
    origin = headers.get("origin")
    if origin is not None:
        return None if same_origin(origin, headers.get("host")) else "a change from another site is refused"
    by_cookie = COOKIE_NAME_JWT_TOKEN in cookie_parser(headers.get("cookie", "")) and \
        not headers.get("authorization", "").lower().startswith("bearer ")
    return "a change sent with the session cookie needs the browser's Origin header" if by_cookie else None


async def read_bounded(receive: Receive, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as more than ``limit`` bytes have arrived."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits on the real one (for the disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def with_frame_policy(send: Send) -> Send:
    """``send`` that adds the frame policy to the response's headers."""

    async def framed(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Content-Security-Policy"] = FRAME_POLICY
        await send(message)

    return framed


class RequestGuard:
    """ASGI middleware: the checks above, in that order, before the app."""

    def __init__(self, app: ASGIApp, body_limit: BodyLimit) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_frame_policy(send)
        refusal = cross_site_refusal(scope)
        if refusal is not None:
            await JSONResponse({"detail": refusal}, status.HTTP_403_FORBIDDEN)(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            limit = self.body_limit(scope["path"])
            declared = Headers(scope=scope).get("content-length", "")
            try:
                if declared.isdigit() and int(declared) > limit:
                    raise BodyTooLarge
                receive = replay(await read_bounded(receive, limit), receive)
            except BodyTooLarge:
                detail = f"the request body is larger than {limit} bytes"
                await JSONResponse({"detail": detail}, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)(scope, receive, send)
                return
        await self.app(scope, receive, send)
