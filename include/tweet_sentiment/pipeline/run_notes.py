"""A DAG run's note, written through Airflow's REST API: Airflow 3.3's Task SDK cannot set a run's note.

The login is the service account of ``api_login``, kept in an Airflow connection. Writing the note is best
effort: without the connection, or when the API refuses, the reason stays in the task log only.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from tweet_sentiment.pipeline.api_login import ApiLogin, api_client

log = logging.getLogger(__name__)
MAX_NOTE_CHARS = 1000  # Airflow's limit


def set_run_note(login: ApiLogin, dag_id: str, run_id: str, note: str, timeout_s: float = 10.0) -> bool:
    """Set the run's note (``PATCH /api/v2/dags/{dag}/dagRuns/{run}``); False, logged, if it could not be set."""
    try:
        with api_client(login, timeout_s) as client:
            resp = client.patch(f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                                params={"update_mask": "note"}, json={"note": note[:MAX_NOTE_CHARS]})
            resp.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("could not set the note of %s %s through %s: %s", dag_id, run_id, login.url, exc)
        return False
    return True
