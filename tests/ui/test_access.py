"""Who may do what, through the real API server under each auth manager (tests/ui/conftest.py: the simple one
and FAB, the same users in the same roles): a ``viewer`` reads every page and API but changes nothing, an
annotator (role ``user``, the right to trigger the retrain DAG) labels and sends, and records a feed's events (the
right to trigger the DAG the event starts), and only ``op`` and above (the right to record asset events) roll back
the champion. Under FAB the plugin's view needs the permissions the roles command
(``python -m tweet_sentiment_ui.fab_roles``) creates: before it ran, everyone got 403.

The write routes are every non-GET route of the plugin's app except the read-only ones listed here, so a new
write route is checked without being named."""

from __future__ import annotations

import re

import pytest

from tweet_sentiment.pipeline.assets import RETRAIN_DAG_ID, SCORE_DAG_ID

from .conftest import ROLES

READ_ONLY_POSTS = {("POST", "/api/predict")}  # a prediction stores nothing
OPERATOR_ROUTES = {("POST", "/api/model/rollback")}  # switch the champion, record a champion asset event
SCORER_ROUTES = {("POST", "/api/events/tweet_sentiment_unlabelled"),  # an event that starts the scoring DAG
                 ("POST", "/api/alerts/{episode_id}/ack"), ("POST", "/api/alerts/mute")}  # its alerts
PATH_VALUES = {"name": "app.css"}  # /static/{name}: a real file; a missing report image is 404 for everyone
# requests each write route refuses for its input, not its caller: the test changes no one's queue
UNKNOWN_VERSION = "v20000101T000000-abcdef"  # of the right form, never made
HARMLESS = {"/api/queue/load": {"data": {"rows": "0"}}}


def url_of(path: str) -> str:
    return re.sub(r"\{(\w+)[^}]*\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path).lstrip("/")


def routes_of(app, reads: bool) -> list[tuple[str, str]]:
    routes = [(method, route.path) for route in app.routes for method in sorted(route.methods)]
    return [r for r in routes if (r[0] == "GET" or r in READ_ONLY_POSTS) == reads]


def send(client, method: str, path: str):
    return client.request(method, url_of(path), **HARMLESS.get(path, {"json": {}}))


@pytest.fixture(scope="module")
def clients(ui_server):
    users = ("admin", "viewer", "anna", "operator")
    made = {user: ui_server.client(user=user) for user in users}
    yield made
    for client in made.values():
        client.close()


def test_a_viewer_reads_every_page_and_api(plugin_app, clients):
    reads = routes_of(plugin_app, reads=True)
    assert ("GET", "/labelling") in reads and ("POST", "/api/predict") in reads
    for method, path in reads:
        body = {"json": {"texts": ["Shelves empty again"]}} if method == "POST" else {}
        viewer = clients["viewer"].request(method, url_of(path), **body)
        admin = clients["admin"].request(method, url_of(path), **body)
        assert viewer.status_code == admin.status_code, (method, path, viewer.text)
        if "{name:path}" not in path and path != "/api/mood/chart.png":  # no report image, no scoring run yet
            assert viewer.status_code == 200, (method, path, viewer.text)
    assert clients["viewer"].get("api/queue").json()["annotator"] == "viewer"


def test_a_viewer_changes_nothing(plugin_app, clients):
    writes = routes_of(plugin_app, reads=False)
    assert {("POST", "/api/queue/send"), ("POST", "/api/reviews"), *OPERATOR_ROUTES} <= set(writes)
    for method, path in writes:
        resp = send(clients["viewer"], method, path)
        assert resp.status_code == 403, (method, path, resp.text)
        # the simple manager lets a viewer POST the view and refuses the right; FAB refuses the view's action
        right = ("record asset events" if (method, path) in OPERATOR_ROUTES else
                 f"trigger the DAG {SCORE_DAG_ID if (method, path) in SCORER_ROUTES else RETRAIN_DAG_ID}")
        assert resp.json()["detail"].startswith((f"viewer may not {right}", "viewer may not POST Tweet sentiment",
                                                 "viewer may not PUT Tweet sentiment")), (method, path, resp.text)


def test_an_annotator_may_label_and_send_but_not_roll_back(plugin_app, clients):
    for method, path in routes_of(plugin_app, reads=False):
        resp = send(clients["anna"], method, path)
        if (method, path) in OPERATOR_ROUTES:
            assert resp.status_code == 403, (method, path, resp.text)
            assert resp.json()["detail"].startswith(("anna may not record asset events",
                                                     "anna may not PUT Tweet sentiment")), resp.text
        else:  # past the rights check, refused for the empty request itself (nothing queued, sent or undone)
            assert resp.status_code in (400, 409, 422), (method, path, resp.status_code, resp.text)


def test_an_operator_or_admin_may_roll_back(clients):
    for user in ("operator", "admin"):
        resp = clients[user].post("api/model/rollback", json={"version": UNKNOWN_VERSION})
        assert resp.status_code == 404 and f"no model version '{UNKNOWN_VERSION}'" in resp.text, (user, resp.text)


def test_under_fab_everyone_was_refused_until_the_roles_command_ran(ui_server):
    if ui_server.auth_manager != "fab":
        pytest.skip("the simple auth manager has no permissions to create")
    # what production (FAB) answered before this change: 403 to every user, the admin as well
    assert ui_server.before_roles == dict.fromkeys(ROLES, 403)
    for user in ROLES:
        with ui_server.client(user=user) as client:
            assert client.get("api/labels").status_code == 200, user
