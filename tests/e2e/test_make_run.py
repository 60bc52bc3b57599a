"""`make run`'s script for real, and a newcomer's first ten minutes on its stack.

The stack comes up (infinity, the bootstrap champion, Airflow) with every DAG under dags/ unpaused and the login
it prints working. Then the README's walk: the Labels, Model and Mood pages in headless Chromium; once the first
runs that unpausing starts have ended, `make feed` (a retrain run in the grid and the batch, 500 rows here, learnt
within a minute), `make feed-unlabelled` (scored and on the Mood API within a minute); the three pages again
(screenshots newcomer-*.png in test-output/). Last, Ctrl-C (SIGINT) stops every process it
started, task processes included. The walk's times go to test-output/make_run_walk_figures.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from support import DATASET_DIR, ROOT, TEST_OUTPUT, free_port, local_registry, poll, write_slice
from ui.test_browser import browser, log_in, open_from_navigation, screenshot, wait

from benchmarks.processes import descendants
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.storage.fs import DataLayout

__all__ = ["browser"]
pytestmark = pytest.mark.e2e
DAG_IDS = sorted(p.stem for p in (ROOT / "dags").glob("*.py"))
UNLABELLED = "covid_tweets_unlabelled_2022.csv"
STEP_S = 60  # each step of the walk shows its effect within a minute


@dataclass
class MakeRun:
    """run.sh's process, its output so far, its environment and login, and when it printed its prompt."""

    proc: subprocess.Popen
    output: list[str]
    env: dict[str, str]
    home: Path
    data_root: Path
    base: str = ""
    admin: tuple[str, str] = ("", "")
    prompt_at: float = 0.0
    figures: dict = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        token = httpx.post(f"{self.base}/auth/token", json={"username": self.admin[0], "password": self.admin[1]},
                           timeout=30)
        assert token.status_code in (200, 201), token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    def make(self, target: str) -> str:
        """What ``make TARGET`` runs (its recipe without the ``setup`` prerequisite), in this stack's environment."""
        recipe = f'source scripts/env.sh && api_connection && "$VENV/bin/python" -m tweet_sentiment {target}'
        done = subprocess.run(["bash", "-c", recipe], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def walk_dataset(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small labelled slices plus the first 300 tweets of the real unlabelled 2022 file."""
    folder = tmp_path_factory.mktemp("walk-dataset")
    for name in ("Corona_NLP_train.csv", "Corona_NLP_test.csv"):
        shutil.copy(small_dataset / name, folder / name)
    write_slice(DATASET_DIR / UNLABELLED, folder / UNLABELLED, 300)
    return folder


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory, walk_dataset: Path, feature_cache: Path) -> Iterator[MakeRun]:
    """scripts/run.sh up to its prompt (stopped with SIGINT at the end if a test has not stopped it)."""
    tmp = tmp_path_factory.mktemp("make-run")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TWEET_SENTIMENT", "INFINITY"))}
    env.update({
        "AIRFLOW_HOME": str(tmp / "airflow"), "AIRFLOW_PORT": str(port), "INFINITY_PORT": str(free_port()),
        "TWEET_SENTIMENT_DATA_ROOT": str(tmp / "data"), "TWEET_SENTIMENT_DATASET_DIR": str(walk_dataset),
        "TWEET_SENTIMENT_CACHE_ROOT": str(feature_cache), "TWEET_SENTIMENT_BOOTSTRAP_ROWS": "500",
        "TWEET_SENTIMENT_FEED_BATCH_ROWS": "500",  # a minute for a cycle on the shared 2-core machine
    })
    # Ctrl-C as in a person's terminal: a shell cannot trap SIGINT if it was ignored when it started (a test run
    # started in the background inherits that), so run.sh starts with SIGINT's default disposition.
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    run = MakeRun(proc, [], env, tmp / "airflow", tmp / "data", base=f"http://localhost:{port}")
    threading.Thread(target=lambda: run.output.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 900
        while not any(line.startswith("  Stop:") for line in run.output):
            assert proc.poll() is None, "run.sh exited early:\n" + "".join(run.output)
            assert time.monotonic() < deadline, "run.sh did not come up:\n" + "".join(run.output)
            time.sleep(0.2)
        run.prompt_at = time.monotonic()
        # the closing lines name the user and where the password is; the password itself is never printed
        user = re.search(r"user: ([^,\s]+),\s+password: AIRFLOW_ADMIN_PASSWORD in (\S+)\)", "".join(run.output))
        assert user and Path(user[2]) == run.home / "secrets.env", "".join(run.output)
        password = re.search(r"AIRFLOW_ADMIN_PASSWORD=(\S+)", (run.home / "secrets.env").read_text())
        assert password[1] not in "".join(run.output)
        run.admin = (user[1], password[1])
        yield run
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


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


def test_make_run_starts_every_loop_and_its_login_works(make_run):
    banner, base = "".join(make_run.output), make_run.base
    headers = make_run.headers()
    # the tasks' service login (role user) was generated beside the admin's
    bot_password = re.search(r"TWEET_SENTIMENT_BOT_PASSWORD=(\S+)", (make_run.home / "secrets.env").read_text())
    bot = httpx.post(f"{base}/auth/token", json={"username": "tweet-sentiment-bot", "password": bot_password[1]},
                     timeout=30)
    assert bot.status_code in (200, 201), bot.text
    dags = httpx.get(f"{base}/api/v2/dags", headers=headers, timeout=30).json()["dags"]
    assert {d["dag_id"]: d["is_paused"] for d in dags} == dict.fromkeys(DAG_IDS, False)
    assert "DAGs, each unpaused:" in banner
    for dag_id in DAG_IDS:  # one closing line per DAG, with what starts it
        assert re.search(rf"^    {dag_id}  +\S.* (on|when) ", banner, re.MULTILINE), banner
    assert httpx.get(f"{base}/api/v2/dags", timeout=30).status_code == 401  # nothing anonymous
    assert local_registry(DataLayout(make_run.data_root).registry).champion_version() is not None


def learnt_versions(registry: ModelRegistry, after: datetime) -> list[str]:
    """Versions trained after ``after`` that the gate has decided on (promoted, kept out, or awaiting a person)."""
    return [c["version"] for c in registry.versions()
            if datetime.fromisoformat(c["created_at"]) >= after and c.get("decided_at")]


def runs(run: MakeRun, dag_id: str, headers: dict) -> list[dict]:
    resp = httpx.get(f"{run.base}/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["dag_runs"]


def idle(run: MakeRun, headers: dict) -> bool:
    """No run of any DAG queued or running (unpausing starts each timetable's first run at once)."""
    return not [r for dag_id in DAG_IDS for r in runs(run, dag_id, headers) if r["state"] in ("queued", "running")]


def open_the_pages(driver, champion: str, shots: str = "", mood_points: bool = False) -> None:
    """Labels, Sentiment model and Mood from the navigation bar, each showing its data (and, if asked, the Mood
    page its points); screenshots ``<shots>-<page>.png`` if named."""
    mood = (By.CSS_SELECTOR, "#points tbody tr", "") if mood_points else (By.ID, "champion", champion)
    for item, shown, name in (("Labels", (By.ID, "review-counts", "Waiting:"), "labels"),
                              ("Sentiment model", (By.ID, "champion", champion), "model"),
                              ("Mood", mood, "mood")):
        open_from_navigation(driver, item)
        wait(driver).until(ec.text_to_be_present_in_element(shown[:2], shown[2]))
        if shots:
            screenshot(driver, f"{shots}-{name}.png")


def test_a_newcomers_walk_shows_each_step_within_a_minute(make_run, browser):
    headers, registry = make_run.headers(), local_registry(DataLayout(make_run.data_root).registry)
    figures, since_prompt = make_run.figures, lambda: round(time.monotonic() - make_run.prompt_at, 1)
    log_in(browser, SimpleNamespace(url=make_run.base, passwords=dict([make_run.admin])), make_run.admin[0])
    open_the_pages(browser, registry.champion_version())
    poll(lambda: idle(make_run, headers), "the first runs of the unpaused DAGs ended", 180, every_s=2)
    figures["prompt_to_first_runs_ended_s"] = since_prompt()

    fed_at, fed_wall = time.monotonic(), datetime.now(UTC).replace(microsecond=0)
    out = make_run.make("feed")
    assert "recorded tweet_sentiment_inbox event" in out, out
    started = poll(lambda: [r for r in runs(make_run, "tweet_sentiment_retrain", headers)
                            if r["run_type"] == "asset_triggered"], "a retrain run started by the inbox event", STEP_S)
    figures["feed_to_run_in_grid_s"] = round(time.monotonic() - fed_at, 1)
    poll(lambda: learnt_versions(registry, fed_wall), "the fed batch learnt", STEP_S - (time.monotonic() - fed_at))
    figures["feed_to_learnt_s"] = round(time.monotonic() - fed_at, 1)
    figures["prompt_to_first_learnt_s"] = since_prompt()
    ended = poll(lambda: [r for r in runs(make_run, "tweet_sentiment_retrain", headers)
                          if r["dag_run_id"] == started[0]["dag_run_id"] and r["state"] in ("success", "failed")],
                 "the retrain run ended", 120)
    assert ended[0]["state"] == "success", ended

    fed_at = time.monotonic()
    out = make_run.make("feed-unlabelled")
    assert "recorded tweet_sentiment_unlabelled event" in out, out

    def mood() -> dict | None:
        resp = httpx.get(f"{make_run.base}/tweet-sentiment/api/mood", headers=headers, timeout=30)
        return resp.json() if resp.status_code == 200 and resp.json()["points"] else None

    scored = poll(mood, "the unlabelled chunk scored and on the Mood API", STEP_S)
    figures["feed_unlabelled_to_mood_s"] = round(time.monotonic() - fed_at, 1)
    figures["prompt_to_first_scored_s"] = since_prompt()
    assert 0 < scored["rows"] <= 300 and scored["scored_by"] == registry.champion_version()

    open_the_pages(browser, registry.champion_version(), shots="newcomer", mood_points=True)
    (TEST_OUTPUT / "make_run_walk_figures.json").write_text(json.dumps({**figures, "load_1m": os.getloadavg()[0]}))


def test_ctrl_c_stops_every_process_make_run_started(make_run):
    proc = make_run.proc
    assert processes_with_env(f"AIRFLOW_HOME={make_run.home}")
    # Processes that set their title no longer show their environment: the tree below run.sh names them.
    started = {pid: since for pid in descendants({proc.pid}) if (since := running_since(pid))}
    assert len(started) >= 8, started
    os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the script
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("run.sh did not stop within 90 s of Ctrl-C:\n" + "".join(make_run.output[-20:]))
    deadline = time.monotonic() + 10  # run.sh waited for them; give the kernel a moment to reap what it killed
    while (left := outliving(make_run.home, started)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == [], f"processes outlived Ctrl-C: {left}\n" + "".join(make_run.output[-20:])
    assert "stopped." in "".join(make_run.output)


def outliving(airflow_home: Path, started: dict[int, str]) -> list[int]:
    """Processes of this `make run` still alive: by their environment, or the same pid started at the same time."""
    left = processes_with_env(f"AIRFLOW_HOME={airflow_home}")
    return left + [pid for pid, started_at in started.items() if running_since(pid) == started_at]
