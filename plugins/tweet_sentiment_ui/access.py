"""Airflow's own login for every page and endpoint: the JWT of the UI session (``_token`` cookie) or a Bearer
token, checked by the configured auth manager, which also decides who may use this custom view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, status

RESOURCE_NAME = "Tweet sentiment"


def authorized_user(method: ResourceMethod) -> Callable[[BaseUser], BaseUser]:
    """A dependency: the logged-in Airflow user, if the auth manager lets them ``method`` this view, else 403."""

    def check(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
        if not get_auth_manager().is_authorized_custom_view(method=method, resource_name=RESOURCE_NAME, user=user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not {method} {RESOURCE_NAME}")
        return user

    return check


Reader = Annotated[BaseUser, Depends(authorized_user("GET"))]
Writer = Annotated[BaseUser, Depends(authorized_user("POST"))]
Admin = Annotated[BaseUser, Depends(authorized_user("PUT"))]
