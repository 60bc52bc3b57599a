"""Airflow's own login for every page and endpoint: the JWT of the UI session (``_token`` cookie) or a Bearer
token, checked by the configured auth manager, which also decides who may use this custom view and what they may
change through it.

The custom-view check alone cannot guard a write: an auth manager may ignore its ``method`` (the simple auth
manager checks every custom view as a GET open to role ``viewer``). So each write also asks the auth manager for
the Airflow right of what the action really does, as Airflow's own REST API would:

- ``Writer`` (label, skip, undo, load, adjudicate, resolve a review, send a batch, record an inbox event for a
  file ``make feed`` dropped): the labelling work ends in the
  inbox, and an inbox event is a run of the retrain DAG, so the right to trigger that DAG
  (``is_authorized_dag(POST, RUN, tweet_sentiment_retrain)``: role ``user`` and above in the simple manager,
  "can create DAG Runs" on that DAG in FAB);
- ``Scorer`` (record an event of the unlabelled inbox for a file ``make feed-unlabelled`` dropped; acknowledge or
  mute an alert): the right to trigger the scoring DAG that event starts, the DAG whose runs raise the alerts
  (role ``user`` and above in the simple manager);
- ``Operator`` (roll back the champion): a rollback switches the model in use and records a champion asset
  event, the same event ``POST /api/v2/assets/events`` records, so the right to record asset events
  (``is_authorized_asset(POST)``: role ``op`` and above in the simple manager, "can create Assets" in FAB).

Under FAB the custom view's method is checked (GET ``can_read``, POST ``can_create``, PUT ``can_edit`` on
"Tweet sentiment"): ``fab_roles.py`` creates those permissions; FAB's User also may create Assets, so there the
view's ``can_edit`` (Op and Admin only) is what keeps annotators from rolling back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager, ResourceMethod
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import AssetDetails, DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, status

from tweet_sentiment.pipeline.assets import RETRAIN_DAG_ID, SCORE_DAG_ID

RESOURCE_NAME = "Tweet sentiment"

Right = Callable[[BaseAuthManager, BaseUser], bool]


def may_trigger(dag_id: str) -> Right:
    """The right to start a run of ``dag_id`` (what an event of the asset it is scheduled on does)."""

    def right(manager: BaseAuthManager, user: BaseUser) -> bool:
        return manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN,
                                         details=DagDetails(id=dag_id), user=user)

    return right


def may_record_asset_events(manager: BaseAuthManager, user: BaseUser) -> bool:
    """Whether ``user`` may record asset events (what a rollback does to the champion asset)."""
    return manager.is_authorized_asset(method="POST", details=AssetDetails(), user=user)


def authorized_user(method: ResourceMethod, right: Right | None = None,
                    action: str = "") -> Callable[[BaseUser], BaseUser]:
    """A dependency: the logged-in Airflow user, if the auth manager lets them ``method`` this view and (for a
    write) grants them ``right``, the Airflow permission of ``action``; else 403."""

    def check(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
        manager = get_auth_manager()
        if not manager.is_authorized_custom_view(method=method, resource_name=RESOURCE_NAME, user=user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not {method} {RESOURCE_NAME}")
        if right is not None and not right(manager, user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not {action}")
        return user

    return check


Reader = Annotated[BaseUser, Depends(authorized_user("GET"))]
Writer = Annotated[BaseUser, Depends(authorized_user(
    "POST", may_trigger(RETRAIN_DAG_ID), f"trigger the DAG {RETRAIN_DAG_ID} (what sending labels to the inbox does)"))]
Scorer = Annotated[BaseUser, Depends(authorized_user(
    "POST", may_trigger(SCORE_DAG_ID), f"trigger the DAG {SCORE_DAG_ID} (what an unlabelled-inbox event does)"))]
Operator = Annotated[BaseUser, Depends(authorized_user(
    "PUT", may_record_asset_events, "record asset events (what rolling back the champion does)"))]
