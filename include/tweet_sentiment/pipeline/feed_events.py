"""Tells Airflow that a feed dropped a file (``make feed``, ``make feed-unlabelled``): an event of the inbox or
unlabelled asset, so the DAG scheduled on it starts at once instead of at its next tick.

The UI plugin records the event the way "Send batch" does: its route checks the login's right to trigger that DAG,
then calls Airflow's asset manager. (Airflow's own ``POST /api/v2/assets/events`` asks for role ``op``, more than
the service login's ``user``.) Best effort: without an Airflow or a login the file waits for the next tick.
"""

from __future__ import annotations

import httpx

from tweet_sentiment.pipeline.api_login import ApiLogin, api_client
from tweet_sentiment.pipeline.assets import AssetName

PLUGIN_PREFIX = "/tweet-sentiment"  # where Airflow serves the UI plugin (plugins/tweet_sentiment_ui/plugin.py)


def events_route(asset: AssetName) -> str:
    """The plugin's route (under ``PLUGIN_PREFIX``) that records an event of ``asset`` for a dropped file."""
    return f"/api/events/{asset.name}"


def record_feed_event(login: ApiLogin | None, asset: AssetName, file: str,
                      timeout_s: float = 10.0) -> tuple[int | None, str]:
    """Record an event of ``asset`` for the dropped ``file`` (its name) as ``login``: (the event's id, "") or
    (None, why it was not recorded)."""
    if login is None:
        return None, "no login to Airflow's API (make run defines it)"
    try:
        with api_client(login, timeout_s) as client:
            resp = client.post(f"{PLUGIN_PREFIX}{events_route(asset)}", json={"file": file})
            resp.raise_for_status()
            event = resp.json()["event"]
    except httpx.HTTPStatusError as exc:
        return None, f"Airflow at {login.url} refused: {exc.response.status_code} {exc.response.text[:200]}"
    except httpx.HTTPError as exc:
        return None, f"no Airflow answered at {login.url} ({type(exc).__name__})"
    except (KeyError, ValueError) as exc:
        return None, f"Airflow at {login.url} answered without an event: {exc}"
    return (event, "") if event is not None else (None, f"Airflow does not know the asset {asset.name} yet")
