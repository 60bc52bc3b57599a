"""A DAG run's note, written through Airflow's REST API: Airflow 3.3's Task SDK cannot set a run's note.

The login is a service account of its own with the least role that may edit DAG runs (``user`` under Airflow's
simple auth manager), kept in an Airflow connection, never an admin's password. Writing the note is best
effort: without the connection, or when the API refuses, the reason stays in the task log only.
"""

from __future__ import annotations

import logging
from typing import NamedTuple
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)
MAX_NOTE_CHARS = 1000  # Airflow's limit


class ApiLogin(NamedTuple):
    """The Airflow API's base URL and the service account's login."""

    url: str
    username: str
    password: str


def api_login(host: str, port: int | None, username: str, password: str) -> ApiLogin:
    """An ApiLogin from a connection's parts: ``host`` is a base URL (``http://api:8080``) or a host name."""
    url = host if "://" in host else f"http://{host}{f':{port}' if port else ''}"
    return ApiLogin(url.rstrip("/"), username, password)


def set_run_note(login: ApiLogin, dag_id: str, run_id: str, note: str, timeout_s: float = 10.0) -> bool:
    """Set the run's note (``PATCH /api/v2/dags/{dag}/dagRuns/{run}``); False, logged, if it could not be set."""
    try:
        with httpx.Client(base_url=login.url, timeout=timeout_s) as client:
            token = client.post("/auth/token", json={"username": login.username, "password": login.password})
            token.raise_for_status()
            resp = client.patch(f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                                params={"update_mask": "note"}, json={"note": note[:MAX_NOTE_CHARS]},
                                headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            resp.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("could not set the note of %s %s through %s: %s", dag_id, run_id, login.url, exc)
        return False
    return True
