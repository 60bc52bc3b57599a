"""How fast the loop reacts (issue 12), under a real Airflow with the UI plugin, on a copy of the history's data
root (the champion refitted on it):

- ``feedback_to_run_s``: an annotator's "Send batch" (the plugin's API call returning) to the retrain run it
  starts having its first task running; the median of ``runs`` sends with the scheduler warm.
  ``feedback_to_run_cold_s``: the first send after Airflow started (only the no-op run of unpausing before it);
- ``manual_refit_start_s``: a manual trigger with ``strategy=refit`` on an empty inbox (the REST call returning) to
  its train task running; the median of ``runs``;
- ``nothing_to_do_run_s``: the scheduled run that unpausing starts, on an empty inbox, from start to end.
The annotator labels ``texts`` (uploaded to the labelling queue) as the champion suggests, accepting each.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from benchmarks.airflow_stack import DAG_ID, AirflowStack, now_iso
from benchmarks.options import median
from tweet_sentiment.config import Settings
from tweet_sentiment.schema import TEXT_COLUMN
from tweet_sentiment.storage.csvio import to_csv_bytes

log = logging.getLogger(__name__)
ANNOTATOR = "annotator"
SEND_ROWS = 20
PLUGIN = "/tweet-sentiment/api"


def _ok(resp: httpx.Response) -> dict:
    if not resp.is_success:
        raise RuntimeError(f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text[:500]}")
    return resp.json()


def api_epoch(value: str) -> float:
    """A timestamp as Airflow's REST API writes it (ISO 8601, ``Z`` or an offset) in seconds since the epoch."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _run(admin: httpx.Client, run_id: str) -> dict:
    return _ok(admin.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"))


def _task_started(admin: httpx.Client, run_id: str, task_id: str) -> float:
    ti = _ok(admin.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"))
    if not ti["start_date"]:
        raise RuntimeError(f"{task_id} of {run_id} never ran (state {ti['state']})")
    return api_epoch(ti["start_date"])


def _unpause(stack: AirflowStack, admin: httpx.Client) -> float:
    """Unpause once the DAG is parsed; the seconds the run this starts (on an empty inbox) took."""
    deadline = time.monotonic() + 300
    while admin.get(f"/api/v2/dags/{DAG_ID}").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{DAG_ID} was not parsed within 300 s; see {stack.home}")
        time.sleep(1)
    since = now_iso()
    _ok(admin.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}))
    run = _run(admin, stack.wait_run(since))
    return round(api_epoch(run["end_date"]) - api_epoch(run["start_date"]), 2)


def _send_to_run(stack: AirflowStack, admin: httpx.Client, annotator: httpx.Client) -> float:
    """Label SEND_ROWS queued tweets, send them; seconds from the send returning to the run's first task."""
    for item in _ok(annotator.get(f"{PLUGIN}/queue", params={"limit": SEND_ROWS}))["items"]:
        _ok(annotator.post(f"{PLUGIN}/queue/labels", json={"id": item["id"], "label": item["suggested"]}))
    since = now_iso()
    batch = _ok(annotator.post(f"{PLUGIN}/queue/send"))
    sent = time.time()
    if not batch["asset_event"]:
        raise RuntimeError(f"no inbox asset event was recorded for {batch['file']}")
    run_id = stack.wait_run(since)
    log.info("send → %s", run_id)
    return round(_task_started(admin, run_id, "sense_inbox") - sent, 2)


def _refit_to_train(stack: AirflowStack, admin: httpx.Client) -> float:
    """Trigger a refit on the empty inbox; seconds from the trigger returning to its train task running."""
    since = now_iso()
    run_id = _ok(admin.post(f"/api/v2/dags/{DAG_ID}/dagRuns",
                            json={"logical_date": None, "conf": {"strategy": "refit"}}))["dag_run_id"]
    triggered = time.time()
    stack.wait_run(since)
    return round(_task_started(admin, run_id, "train") - triggered, 2)


def measure_reaction(base: Settings, texts: list[str], runs: int, scratch: Path) -> dict:
    """The reaction figures (see the module docstring) on a copy of ``base``; ``texts``: tweets to label."""
    root = dataclasses.replace(base, data_root=str(scratch / "reaction"), cache_root=str(scratch / "reaction-cache"))
    shutil.copytree(base.data_root, root.data_root)
    shutil.copytree(base.cache_root, root.cache_root)
    with AirflowStack(root, scratch / "airflow-reaction", users={ANNOTATOR: "user"}) as stack, \
            stack.login() as admin, stack.login(ANNOTATOR) as annotator:
        nothing_s = _unpause(stack, admin)
        upload = to_csv_bytes([TEXT_COLUMN], [[text] for text in texts])
        _ok(annotator.post(f"{PLUGIN}/queue/load", data={"rows": str(SEND_ROWS * (runs + 1))},
                           files={"file": ("to-label.csv", upload, "text/csv")}))
        log.info("reaction: %d sends, then %d manual refits", runs + 1, runs)
        sends = [_send_to_run(stack, admin, annotator) for _ in range(runs + 1)]
        refits = [_refit_to_train(stack, admin) for _ in range(runs)]
    return {"feedback_to_run_s": median(sends[1:], 2), "feedback_to_run_s_runs": sends[1:],
            "feedback_to_run_cold_s": sends[0], "manual_refit_start_s": median(refits, 2),
            "manual_refit_start_s_runs": refits, "nothing_to_do_run_s": nothing_s}
