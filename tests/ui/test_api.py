"""The plugin's API served by a real `airflow api-server`, logged in through Airflow's own auth endpoint."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

import numpy as np
import pytest
from support import local_registry

from tweet_sentiment.intake.feed import next_batch
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.sent_batch import BATCH_COLUMNS
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.schema import LABELS, FeatureSchema
from tweet_sentiment.storage.fs import DataLayout, as_path
from tweet_sentiment.text import clean_tweet

from .conftest import BOOTSTRAP_ROWS

TWEETS = [
    "Panic buying again, shelves empty and people fighting over toilet paper. Disgusting!!",
    "So grateful for the nurses and supermarket staff keeping us safe #thankyou",
    "The store opens at 8am for elderly shoppers https://t.co/abc",
]


def registry_of(server) -> ModelRegistry:
    return local_registry(as_path(server.data_root / "registry"))


@pytest.fixture(scope="module")
def api(ui_server):
    with ui_server.client() as client:
        yield client


def test_every_route_of_the_plugin_refuses_anonymous_and_forged_requests(ui_server, plugin_app):
    routes = [(method, route.path) for route in plugin_app.routes for method in sorted(route.methods)]
    assert ("GET", "/api/labels") in routes and ("GET", "/api/model/images/{name:path}") in routes
    with ui_server.client(token="") as anonymous, ui_server.client(token="not.a.jwt") as forged:
        for method, path in routes:
            url = re.sub(r"\{[^}]*\}", "x", path).lstrip("/")
            assert anonymous.request(method, url, json={}).status_code == 401, (method, path)
            assert forged.request(method, url, json={}).status_code == 403, (method, path)
        for default in ("docs", "redoc", "openapi.json", "docs/oauth2-redirect"):  # FastAPI's, turned off
            assert anonymous.get(default).status_code == 404, default


def test_a_person_opening_a_page_without_a_session_is_sent_to_airflows_login(ui_server):
    with ui_server.client(token="") as anonymous:
        resp = anonymous.get("labelling", headers={"Accept": "text/html"})
    assert resp.status_code == 307
    assert urlsplit(resp.headers["location"]).path.startswith("/auth/login")  # FAB's is absolute


def test_pages_are_served_to_a_logged_in_user(api):
    for page, title in (("labelling", "Label tweets"), ("model", "Sentiment model")):
        resp = api.get(page)
        assert resp.status_code == 200 and f"<title>{title}</title>" in resp.text


def test_predict_one_and_many_match_the_champion_on_training_features(ui_server, api, infinity_url, feature_cache):
    registry = registry_of(ui_server)
    version, booster, card = registry.champion()
    one = api.post("api/predict", json={"texts": TWEETS[:1]})
    many = api.post("api/predict", json={"texts": TWEETS})
    assert one.status_code == 200 and many.status_code == 200, (one.text, many.text)
    assert len(one.json()["predictions"]) == 1 and len(many.json()["predictions"]) == 3

    schema = FeatureSchema.from_dict(card["feature_schema"])
    with InfinityClient(infinity_url, schema.embedding_model) as client:
        features = feature_matrix([clean_tweet(t) for t in TWEETS], schema, client, as_path(feature_cache))
    expected = booster.predict(features)
    for text, got, probs in zip(TWEETS, many.json()["predictions"], expected, strict=True):
        assert got["text"] == text and got["version"] == version
        assert list(got["probabilities"]) == list(LABELS)
        assert np.allclose([got["probabilities"][label] for label in LABELS], probs, atol=1e-4)
        assert got["label"] == LABELS[int(probs.argmax())]
    assert one.json()["predictions"][0]["probabilities"] == many.json()["predictions"][0]["probabilities"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"texts": []}, 400, "no texts"),
    ({"texts": ["covid"] * 257}, 400, "too many texts: 257 sent, at most 256"),
    ({"texts": ["fine", "x" * 1001]}, 400, "text 1 is too long: 1001 characters"),
    ({"texts": ["https://t.co/only-a-link"]}, 400, "text 0 is empty"),
    ({"text": "the wrong field"}, 422, "texts"),
    ({"texts": [3]}, 422, "string"),
])
def test_bad_prediction_requests_get_a_clear_4xx(api, body, status, message):
    resp = api.post("api/predict", json=body)
    assert resp.status_code == status
    assert message in resp.text


def test_labelling_queue_pre_annotates_orders_filters_records_and_sends_a_batch(ui_server, api):
    champion = registry_of(ui_server).champion_version()
    loaded = api.post("api/queue/load", data={"rows": "40"})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["source"] == "covid_tweets_unlabelled_2022.csv" and loaded.json()["queued"] > 30

    view = api.get("api/queue", params={"limit": 500}).json()
    margins = [item["margin"] for item in view["items"]]
    assert margins == sorted(margins) and view["remaining"] == len(view["items"])
    assert {item["version"] for item in view["items"]} == {champion}
    for item in view["items"]:
        top, second = sorted(item["probabilities"].values(), reverse=True)[:2]
        assert item["margin"] == pytest.approx(top - second, abs=1e-4)
    some_class = view["items"][0]["suggested"]
    filtered = api.get("api/queue", params={"predicted": some_class}).json()
    assert filtered["items"] and {i["suggested"] for i in filtered["items"]} == {some_class}
    assert api.get("api/queue", params={"predicted": "Happy"}).status_code == 400

    first, second = view["items"][:2]
    other = next(label for label in LABELS if label != second["suggested"])
    assert api.post("api/queue/labels", json={"id": first["id"], "label": first["suggested"]}).status_code == 200
    assert api.post("api/queue/labels", json={"id": second["id"], "label": other.upper()}).status_code == 200
    assert api.post("api/queue/labels", json={"id": first["id"], "label": "Happy"}).status_code == 400
    assert api.post("api/queue/labels", json={"id": "nope", "label": "Neutral"}).status_code == 404
    assert api.get("api/queue").json()["labelled_unsent"] == 2
    on_disk = LabellingQueue(DataLayout(ui_server.data_root), ui_server.settings.state_db, predictor=None,
                             max_chars=1000).view()
    assert on_disk["labelled_unsent"] == 2  # the queue lives under the data root: a restart keeps it

    sent = api.post("api/queue/send")
    assert sent.status_code == 200, sent.text
    batch = sent.json()
    assert batch["rows"] == 2 and batch["corrected"] == 1 and batch["correction_rate"] == 0.5
    assert batch["annotator"] == "admin" and batch["champion_versions"] == [champion]
    with open(ui_server.data_root / "inbox" / batch["file"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == BATCH_COLUMNS
    assert sorted((r["OriginalTweet"], r["Sentiment"], r["SuggestedSentiment"], r["Corrected"], r["Annotator"])
                  for r in rows) == sorted([(first["text"], first["suggested"], first["suggested"], "false", "admin"),
                                            (second["text"], other, second["suggested"], "true", "admin")])
    assert (batch["holdout_rows"], batch["holdout_version"]) == (0, None)  # no fixed-holdout tweet was answered
    logged = {k: v for k, v in batch.items() if k not in ("asset_event", "holdout_rows", "holdout_version")}
    assert api.get("api/batches").json()["batches"][-1] == logged
    assert "asset_event" in batch  # its id, or null while no DAG run or dag-processor has registered the asset
    assert api.post("api/queue/send").status_code == 400  # nothing left to send
    assert api.get("api/queue").json()["labelled_unsent"] == 0


def test_uploaded_csv_is_queued_and_a_bad_one_is_refused_with_its_name(api):
    good = io.BytesIO(b"TweetAt,OriginalTweet\n2022-01-02 10:00:00,Masks again?? Fine by me.\n,\n"
                      b"2022-01-03 10:00:00,https://t.co/x\n")
    resp = api.post("api/queue/load", files={"file": ("mine.csv", good, "text/csv")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["queued"] == 1
    assert resp.json()["skipped_rows"] == [{"row": 2, "reason": "empty text after cleaning"}]
    bad = io.BytesIO(b"id,text\n1,hello\n")
    resp = api.post("api/queue/load", files={"file": ("bad.csv", bad, "text/csv")})
    assert resp.status_code == 400 and "bad.csv: no OriginalTweet column" in resp.text


def test_a_promotion_is_picked_up_without_restart_and_a_rollback_restores_the_old_champion(ui_server, api):
    registry = registry_of(ui_server)
    before = registry.champion_version()
    assert api.post("api/predict", json={"texts": TWEETS[:1]}).json()["predictions"][0]["version"] == before

    settings = ui_server.settings
    next_batch(DataLayout(settings.data_root), settings.train_file, 300, BOOTSTRAP_ROWS)
    run_cycle(settings, "ui_test_batch", RunOptions(force_promote=True))
    promoted = registry.champion_version()
    assert promoted != before
    assert api.post("api/predict", json={"texts": TWEETS[:1]}).json()["predictions"][0]["version"] == promoted

    model = api.get("api/model").json()
    assert model["champion"] == promoted
    assert {v["version"]: v["can_roll_back"] for v in model["versions"]}[before] is True

    resp = api.post("api/model/rollback", json={"version": before, "reason": "the new one misbehaves"})
    assert resp.status_code == 200, resp.text
    assert registry.champion_version() == before
    event = registry_of(ui_server).card(before)
    assert event["status"] == "champion"
    last = api.get("api/model").json()["history"][-1]
    assert (last["action"], last["version"], last["previous"]) == ("rollback", before, promoted)
    assert last["reason"] == "rollback by admin: the new one misbehaves"
    assert api.post("api/predict", json={"texts": TWEETS[:1]}).json()["predictions"][0]["version"] == before

    assert api.post("api/model/rollback", json={"version": before}).status_code == 400
    assert api.post("api/model/rollback", json={"version": "v20000101T000000-abcdef"}).status_code == 404
