"""What a client reads of a server-side fault: a generic text, the details only in the API server's log.
The handlers are the ones the plugin's app (as Airflow loads it) has installed; no server is started."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.requests import Request

from tweet_sentiment.config import DatasetMissingError
from tweet_sentiment.labelling.queue import LabellingInputError
from tweet_sentiment.model.infinity import EmbeddingServiceError
from tweet_sentiment.model.registry import ChampionUnavailableError

SECRET_URL = "http://10.1.2.3:7997"
SECRET_PATH = "/srv/airflow/data/registry/versions/v1/model.txt"


def answer(app, exc: Exception) -> tuple[int, str]:
    handler = next(app.exception_handlers[kind] for kind in type(exc).__mro__ if kind in app.exception_handlers)
    request = Request({"type": "http", "method": "POST", "path": "/api/predict", "headers": [], "query_string": b""})
    response = asyncio.run(handler(request, exc))
    return response.status_code, json.loads(response.body)["detail"]


def test_server_side_faults_reach_the_client_as_generic_texts_and_the_log_in_full(plugin_app, caplog):
    faults = (EmbeddingServiceError(f"infinity at {SECRET_URL} refused the connection"),
              ChampionUnavailableError(f"cannot read {SECRET_PATH}"),
              DatasetMissingError(f"{SECRET_PATH} not found"))
    with caplog.at_level(logging.ERROR):
        for fault in faults:
            code, detail = answer(plugin_app, fault)
            assert code in (404, 503) and "API server's log" in detail, (fault, detail)
            assert SECRET_URL not in detail and SECRET_PATH not in detail and "/srv" not in detail, detail
    assert SECRET_URL in caplog.text and SECRET_PATH in caplog.text


def test_an_input_error_still_names_what_is_wrong(plugin_app):
    code, detail = answer(plugin_app, LabellingInputError("upload.csv row 3: no text"))
    assert (code, detail) == (400, "upload.csv row 3: no text")
