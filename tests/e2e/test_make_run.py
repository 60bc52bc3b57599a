"""`make run`'s script for real: infinity, the bootstrap champion, Airflow up with the DAG unpaused and the
login it prints working; then Ctrl-C (SIGINT) stops every process it started, task processes included.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from support import ROOT, free_port

from benchmarks.processes import descendants
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.storage.fs import DataLayout

pytestmark = pytest.mark.e2e


def running_since(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (tells a reused pid apart), or None once it has ended
    (gone, or a zombie waiting for its parent to collect it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def processes_with_env(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (e.g. this test's AIRFLOW_HOME)."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


def test_make_run_serves_the_ui_and_ctrl_c_stops_everything(tmp_path, small_dataset, feature_cache):
    airflow_home = tmp_path / "airflow"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TWEET_SENTIMENT", "INFINITY"))}
    env.update({
        "AIRFLOW_HOME": str(airflow_home), "AIRFLOW_PORT": str(port), "INFINITY_PORT": str(free_port()),
        "TWEET_SENTIMENT_DATA_ROOT": str(tmp_path / "data"), "TWEET_SENTIMENT_DATASET_DIR": str(small_dataset),
        "TWEET_SENTIMENT_CACHE_ROOT": str(feature_cache), "TWEET_SENTIMENT_BOOTSTRAP_ROWS": "500",
    })
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 900
        while not any("Airflow UI:" in line for line in output):
            assert proc.poll() is None, "run.sh exited early:\n" + "".join(output)
            assert time.monotonic() < deadline, "run.sh did not come up:\n" + "".join(output)
            time.sleep(1)
        banner = "".join(output)
        login = re.search(r"user: (\S+)\s+password: (\S+)\)", banner)
        assert login, banner
        base = f"http://localhost:{port}"
        token = httpx.post(f"{base}/auth/token", json={"username": login[1], "password": login[2]}, timeout=30)
        assert token.status_code in (200, 201), token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # the tasks' service login for run notes (role user) was generated beside the admin's
        bot_password = re.search(r"TWEET_SENTIMENT_BOT_PASSWORD=(\S+)", (airflow_home / "secrets.env").read_text())
        bot = httpx.post(f"{base}/auth/token", json={"username": "tweet-sentiment-bot", "password": bot_password[1]},
                         timeout=30)
        assert bot.status_code in (200, 201), bot.text
        dag = httpx.get(f"{base}/api/v2/dags/tweet_sentiment_retrain", headers=headers, timeout=30)
        assert dag.status_code == 200 and dag.json()["is_paused"] is False
        assert httpx.get(f"{base}/api/v2/dags", timeout=30).status_code == 401  # nothing anonymous
        assert ModelRegistry(DataLayout(tmp_path / "data").registry).champion_version() is not None
        assert processes_with_env(f"AIRFLOW_HOME={airflow_home}")
        # Processes that set their title no longer show their environment: the tree below run.sh names them.
        started = {pid: since for pid in descendants({proc.pid}) if (since := running_since(pid))}
        assert len(started) >= 8, started
    finally:
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the script
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("run.sh did not stop within 90 s of Ctrl-C")
    deadline = time.monotonic() + 10  # run.sh waited for them; give the kernel a moment to reap what it killed
    while (left := outliving(airflow_home, started)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == [], f"processes outlived Ctrl-C: {left}\n" + "".join(output[-20:])
    assert "stopped." in "".join(output)


def outliving(airflow_home: Path, started: dict[int, str]) -> list[int]:
    """Processes of this `make run` still alive: by their environment, or the same pid started at the same time."""
    left = processes_with_env(f"AIRFLOW_HOME={airflow_home}")
    return left + [pid for pid, started_at in started.items() if running_since(pid) == started_at]
