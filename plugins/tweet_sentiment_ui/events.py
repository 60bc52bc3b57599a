"""AssetName events recorded by the plugin inside the API server: "Send batch" (inbox) and a rollback (champion).

The plugin calls Airflow's asset manager directly, in the API server's own process and metadata-DB session, the
same call ``POST /api/v2/assets/events`` makes. That route asks the auth manager for the asset-event right (OP
or ADMIN under the simple auth manager), which an annotator does not have; here the plugin's own check (the
route's ``Writer``: the right to trigger the retrain DAG the inbox event starts; ``Operator``: the asset-event
right) has already decided who may send a batch or roll back, and the event follows from that action.
Recording is best effort: the file is in the inbox (or the pointer switched) either way, and files that come
without an event are taken by the next scheduled run.
"""

from __future__ import annotations

import logging

from airflow.assets.manager import asset_manager
from airflow.models.asset import AssetModel
from airflow.utils.session import create_session
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tweet_sentiment.pipeline.assets import AssetName

log = logging.getLogger(__name__)


def record_asset_event(asset: AssetName, extra: dict, user: str) -> int | None:
    """Record an event of ``asset`` (queueing the DAGs scheduled on it); its id, or None if it was not recorded
    (the asset is unknown until the DAG that declares it has been parsed)."""
    extra = {**extra, "from_plugin": "tweet_sentiment_ui", "user": user}
    try:
        with create_session(scoped=False) as session:  # commits on leaving
            model = session.scalar(select(AssetModel).where(
                AssetModel.name == asset.name, AssetModel.uri == asset.uri, AssetModel.active.has()))
            if model is None:
                log.warning("asset %s is not registered (its DAG not parsed yet): no event recorded", asset.name)
                return None
            event = asset_manager.register_asset_change(asset=model, extra=extra, source_is_api=True,
                                                        session=session)
            return event.id if event is not None else None
    except SQLAlchemyError:
        log.exception("could not record an event of asset %s", asset.name)
        return None
