"""Writes that need more than a cookie, bounded bodies, no framing by other sites, and predictions that store
nothing: through the real API server, logged in with the UI's session cookie (``_token``) as a browser is."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from support import local_registry

from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.storage.fs import as_path
from tweet_sentiment.storage.vector_cache import wait_for_cache_writes

from .conftest import PLUGIN_PREFIX

EVIL = "https://evil.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def browser(ui_server):
    """A client that logs in as the annotator ``anna`` only by the session cookie, as the UI does."""
    with httpx.Client(base_url=f"{ui_server.url}{PLUGIN_PREFIX}", cookies={"_token": ui_server.token("anna")},
                      timeout=120) as client:
        yield client


def test_a_cross_site_form_post_with_a_valid_cookie_is_refused(ui_server, browser):
    assert browser.get("api/queue").json()["annotator"] == "anna"  # the cookie alone logs in
    for path in ("api/queue/send", "api/queue/undo", "api/queue/load"):
        cross_site = browser.post(path, content="rows=1", headers={**FORM, "Origin": EVIL})
        assert cross_site.status_code == 403, (path, cross_site.text)
        # even with the header (a script of another site; the browser would stop it at the preflight)
        scripted = browser.post(path, json={}, headers={"Origin": EVIL, "X-Requested-With": "evil"})
        assert scripted.status_code == 403 and "another site" in scripted.text, (path, scripted.text)
        # a form from this very origin is refused too: a form cannot set the header or send JSON
        plain_form = browser.post(path, content="rows=1", headers={**FORM, "Origin": ui_server.url})
        assert plain_form.status_code == 403 and "X-Requested-With" in plain_form.text, (path, plain_form.text)
    # a cookie-only JSON post with no Origin at all (not what a browser sends) is refused
    no_origin = browser.post("api/queue/labels", json={"id": "x", "label": "Positive"})
    assert no_origin.status_code == 403 and "Origin" in no_origin.text


def test_a_same_origin_write_with_the_header_or_json_passes(ui_server, browser):
    own = {"Origin": ui_server.url}
    form = browser.post("api/queue/load", content="rows=0", headers={**FORM, **own, "X-Requested-With": "ui"})
    assert form.status_code == 422 and "rows" in form.text, form.text  # past the guard: refused for rows=0
    unknown = browser.post("api/queue/labels", json={"id": "no-such-tweet", "label": "Positive"}, headers=own)
    assert unknown.status_code == 404, unknown.text


def test_every_answer_forbids_framing_by_other_sites(ui_server, browser):
    for resp in (browser.get("labelling"), browser.get("api/labels"),
                 browser.post("api/queue/send", headers={"Origin": EVIL, "X-Requested-With": "x"})):
        assert resp.headers["content-security-policy"] == "frame-ancestors 'self'", resp.request.url


def test_oversized_bodies_are_refused_before_parsing(ui_server):
    settings = ui_server.settings
    most_json = settings.predict_max_texts * (6 * settings.max_text_chars + 8) + 64 * 1024
    with ui_server.client(user="viewer") as viewer, ui_server.client(user="anna") as anna:
        too_big = json.dumps({"texts": ["x" * settings.max_text_chars] * (most_json // settings.max_text_chars)})
        assert len(too_big) > most_json
        resp = viewer.post("api/predict", content=too_big, headers={"Content-Type": "application/json"})
        assert resp.status_code == 413 and f"larger than {most_json} bytes" in resp.text, resp.text[:300]

        def chunks():  # no Content-Length: the bytes are counted as they arrive
            for _ in range(most_json // 65536 + 2):
                yield b" " * 65536

        streamed = anna.post("api/queue/labels", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413, streamed.text[:300]
        upload = anna.post("api/queue/load", files={"file": ("big.csv", b"x" * (settings.max_file_bytes + 70_000))},
                           headers={"X-Requested-With": "test"})
        assert upload.status_code == 413 and "larger than" in upload.text, upload.text[:300]
        fine = viewer.post("api/predict", json={"texts": ["Shelves empty again"]})
        assert fine.status_code == 200, fine.text


def cache_files(ui_server) -> set[str]:
    root = as_path(ui_server.settings.layout().embeddings)
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_a_prediction_stores_nothing(ui_server, infinity_url):
    before = cache_files(ui_server)
    fresh = [f"never seen before {secrets.token_hex(8)} shelves empty" for _ in range(3)]
    with ui_server.client(user="viewer") as viewer:
        assert viewer.post("api/predict", json={"texts": fresh[:1]}).status_code == 200
    # the same request in this process, where the write-behind queue can be waited on
    layout = ui_server.settings.layout()
    registry = local_registry(layout.registry)
    _, _, card = registry.champion()
    with InfinityClient(infinity_url, card["feature_schema"]["embedding_model"]) as client:
        predictions = Predictor(registry, client, layout.embeddings).predict(fresh[1:])
    wait_for_cache_writes()
    assert len(predictions) == 2
    assert cache_files(ui_server) == before
