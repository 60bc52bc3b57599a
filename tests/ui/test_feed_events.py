"""A feed's asset event through the real API server, as ``make feed`` records it (``record_feed_event``): a login
of role ``user`` gets its event recorded (or is told the asset is not registered yet, where no DAG declaring it
was parsed into this metadata DB), a ``viewer`` is refused. The event starting a run: tests/e2e/test_make_run.py.
"""

from __future__ import annotations

from airflow.models.asset import AssetEvent, AssetModel
from airflow.utils.session import create_session
from sqlalchemy import select

from tweet_sentiment.pipeline.api_login import ApiLogin
from tweet_sentiment.pipeline.assets import INBOX, UNLABELLED
from tweet_sentiment.pipeline.feed_events import record_feed_event


def test_a_user_records_a_feed_event_and_a_viewer_is_refused(ui_server):
    viewer = ApiLogin(ui_server.url, "viewer", ui_server.passwords["viewer"])
    event, why = record_feed_event(viewer, UNLABELLED, "chunk.csv", timeout_s=60)
    # the simple manager lets a viewer POST the view and refuses the DAG's right; FAB refuses the view's action
    assert event is None and "refused: 403" in why
    assert "viewer may not trigger the DAG tweet_sentiment_score" in why or "viewer may not POST Tweet sentiment" in why

    anna = ApiLogin(ui_server.url, "anna", ui_server.passwords["anna"])
    event, why = record_feed_event(anna, INBOX, "feed-08000-10000.csv", timeout_s=60)
    if ui_server.auth_manager == "fab":  # FAB's server has its own metadata DB, into which no DAG was parsed
        assert (event, why) == (None, f"Airflow does not know the asset {INBOX.name} yet")  # past every right
        return
    with create_session() as session:  # the simple manager's server shares this process's DB
        registered = session.scalar(select(AssetModel).where(AssetModel.name == INBOX.name, AssetModel.active.has()))
        if registered is None:  # no DAG declaring the inbox was parsed into this DB
            assert (event, why) == (None, f"Airflow does not know the asset {INBOX.name} yet")
            return
        recorded = session.get(AssetEvent, event)
        assert why == "" and recorded.asset_id == registered.id
        assert {k: recorded.extra[k] for k in ("file", "source", "user")} == {
            "file": "feed-08000-10000.csv", "source": "feed", "user": "anna"}
