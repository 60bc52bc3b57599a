"""The service login to Airflow's REST API: its base URL and account, and a client holding its token.

The account is a service user of its own with the least role that may edit DAG runs (``user`` under Airflow's
simple auth manager), never an admin. Tasks read it from the Airflow connection ``api_conn_id``; the command line
(``make feed``) from the same connection's environment variable ``AIRFLOW_CONN_<ID>`` in Airflow's JSON form,
which ``make run`` defines (see scripts/env.sh).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import httpx


class ApiLogin(NamedTuple):
    """The Airflow API's base URL and the service account's login."""

    url: str
    username: str
    password: str


def api_login(host: str, port: int | None, username: str, password: str) -> ApiLogin:
    """An ApiLogin from a connection's parts: ``host`` is a base URL (``http://api:8080``) or a host name."""
    url = host if "://" in host else f"http://{host}{f':{port}' if port else ''}"
    return ApiLogin(url.rstrip("/"), username, password)


def login_from_env(conn_id: str) -> ApiLogin | None:
    """The login of connection ``conn_id`` from ``AIRFLOW_CONN_<ID>`` (Airflow's JSON form); None if unset.

    Raises ValueError when the variable is set but is not a JSON connection with a host.
    """
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    try:
        conn = json.loads(raw)
        return api_login(conn["host"], conn.get("port"), conn.get("login") or "", conn.get("password") or "")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"AIRFLOW_CONN_{conn_id.upper()} is not a JSON connection with a host: {exc}") from exc


@contextmanager
def api_client(login: ApiLogin, timeout_s: float = 10.0) -> Iterator[httpx.Client]:
    """An HTTP client on ``login.url`` carrying the account's token (``POST /auth/token``); raises httpx errors."""
    with httpx.Client(base_url=login.url, timeout=timeout_s) as client:
        token = client.post("/auth/token", json={"username": login.username, "password": login.password})
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client
