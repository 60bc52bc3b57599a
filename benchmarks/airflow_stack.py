"""A real Airflow for the cycle: api-server, scheduler (LocalExecutor) and dag-processor on a temp AIRFLOW_HOME with
SQLite, its logins, and the reads of its metadata DB that time a DAG run."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.options import PROJECT_ROOT
from benchmarks.processes import PeakRss, answers, descendants, free_port, stop_process_groups
from tweet_sentiment.config import Settings

log = logging.getLogger(__name__)
DAG_ID = "tweet_sentiment_retrain"
DECISION_TASKS = ("promote", "keep_champion")
AIRFLOW = str(Path(sys.executable).parent / "airflow")
SERVICE_USER = "tweet-sentiment-bot"  # the login that writes run notes (role user), as `make run` has it


def now_iso() -> str:
    """Now, as SQLite holds Airflow's timestamps (UTC, no zone)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _epoch(value: str) -> float:
    """A timestamp as SQLite holds Airflow's (UTC, no zone) in seconds since the epoch."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def airflow_env(root: Settings, airflow_home: Path, port: int, users: dict[str, str],
                service_password: str) -> dict[str, str]:
    """The environment of `make run`'s Airflow on ``airflow_home`` and ``port``, the pipeline pointing at ``root``;
    ``users``: name → role of the simple auth manager; the run notes' connection logs in as SERVICE_USER."""
    note_login = {"conn_type": "http", "host": f"http://localhost:{port}", "login": SERVICE_USER,
                  "password": service_password}
    return {
        **os.environ, "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True", "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for name, role in users.items()),
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False", f"AIRFLOW_CONN_{root.api_conn_id.upper()}": json.dumps(note_login),
        "TWEET_SENTIMENT_DATA_ROOT": root.data_root, "TWEET_SENTIMENT_CACHE_ROOT": root.cache_root,
        "TWEET_SENTIMENT_STATE_DB_URL": root.state_db_url,
        "TWEET_SENTIMENT_DATASET_DIR": root.dataset_dir, "INFINITY_URL": root.infinity_url,
        "INFINITY_MODEL": root.embedding_model}


class AirflowStack:
    """api-server, scheduler (LocalExecutor) and dag-processor on a temp AIRFLOW_HOME with SQLite, as `make run`
    starts them, the pipeline's settings pointing at ``root``. Task processes are forked by the scheduler's
    LocalExecutor workers, so they are found as the scheduler's descendants. Users: ``admin``, SERVICE_USER and
    ``users`` (name → role), each with a random password (``passwords``)."""

    def __init__(self, root: Settings, airflow_home: Path, users: dict[str, str] | None = None) -> None:
        self.home = airflow_home
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        roles = {"admin": "admin", SERVICE_USER: "user", **(users or {})}
        self.passwords = {name: secrets.token_hex(8) for name in roles}
        self.env = airflow_env(root, airflow_home, self.port, roles, self.passwords[SERVICE_USER])
        self.db = airflow_home / "airflow.db"
        self._procs: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def __enter__(self) -> AirflowStack:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps(self.passwords))
        log.info("Airflow: migrating a SQLite metadata DB in %s", self.home)
        migrated = self.airflow("db", "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")
        try:
            for service in (["api-server", "--port", str(self.port)], ["scheduler"], ["dag-processor"]):
                self.start(service[0], service)
            self.start_more()
            self.wait_started()
        except BaseException:
            self.__exit__(None, None, None)  # no component is left running when the stack cannot start
            raise
        return self

    def wait_started(self) -> None:
        """Until the API answers; an error if a component died or it takes more than 5 minutes."""
        deadline = time.monotonic() + 300
        while not answers(f"http://localhost:{self.port}/api/v2/version"):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs.values()):
                raise RuntimeError(f"Airflow did not start; see the logs in {self.home}")
            time.sleep(1)
        log.info("Airflow answers on port %d", self.port)

    def start_more(self) -> None:
        """Components started with the three above (none here; a subclass's workers), while the API comes up."""

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        """Start ``airflow <args>`` as component ``name`` in its own process group, its output in ``<name>.log``."""
        with open(self.home / f"{name}.log", "ab") as out:
            self._procs[name] = subprocess.Popen([AIRFLOW, *args], stdout=out, stderr=subprocess.STDOUT,
                                                 env=env or self.env, cwd=cwd, start_new_session=True)

    def __exit__(self, *exc: object) -> None:
        leftovers = descendants({proc.pid for proc in self._procs.values()})  # tasks may leave their group
        stop_process_groups(list(self._procs.values()))
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def login(self, user: str = "admin") -> httpx.Client:
        """An HTTP client of the API server, logged in as ``user`` through Airflow's own token endpoint; it sends
        ``X-Requested-With``, as any client of the plugin's API must for a write that is not JSON."""
        token = httpx.post(f"{self.url}/auth/token", json={"username": user, "password": self.passwords[user]},
                           timeout=30)
        token.raise_for_status()
        return httpx.Client(base_url=self.url, timeout=120,
                            headers={"Authorization": f"Bearer {token.json()['access_token']}",
                                     "X-Requested-With": "tweet-sentiment-bench"})

    def run(self, first: bool) -> dict:
        """One DAG run, trigger to end: the first by unpausing (the scheduler starts it), the others triggered."""
        since = now_iso()
        started = self.airflow("dags", "unpause", DAG_ID) if first else self.airflow("dags", "trigger", DAG_ID)
        if started.returncode != 0:
            raise RuntimeError(f"could not start {DAG_ID}:\n{started.stderr[-2000:]}")
        with PeakRss(self._procs["scheduler"].pid) as rss:
            run_id = self.wait_run(since)
        return {"run_id": run_id, **self._run_times(run_id), "peak_rss_mb": rss.peak_mb, "processes": rss.processes}

    def _query(self, sql: str, *args: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql, args).fetchall()

    def wait_run(self, since: str, timeout_s: float = 900) -> str:
        """The id of the newest run queued since ``since``, once it has finished; an error if it failed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = self._query("SELECT run_id, state FROM dag_run WHERE dag_id = ? AND queued_at >= ? "
                               "ORDER BY queued_at", DAG_ID, since)
            if rows and rows[-1][1] in ("success", "failed"):
                if rows[-1][1] == "failed":
                    raise RuntimeError(f"DAG run {rows[-1][0]} failed; see {self.home}/logs")
                return rows[-1][0]
            time.sleep(1)
        raise RuntimeError(f"no finished {DAG_ID} run within {timeout_s} s; see {self.home}")

    def _run_times(self, run_id: str) -> dict:
        (queued,), = self._query("SELECT queued_at FROM dag_run WHERE run_id = ?", run_id)
        tis = self._query("SELECT task_id, state, start_date, end_date FROM task_instance WHERE run_id = ?", run_id)
        t0 = _epoch(queued)
        tasks = {task: (state, _epoch(start), _epoch(end)) for task, state, start, end in tis if start and end}
        decided = max(end for name, (state, _, end) in tasks.items() if name in DECISION_TASKS and state == "success")
        ran = {n: round(end - start, 3) for n, (state, start, end) in tasks.items() if state == "success"}
        return {"decision_s": round(decided - t0, 3), "tasks_s": ran,
                "overhead_s": round(decided - t0 - sum(v for n, v in ran.items() if n != "archive"), 3),
                "states": {n: state for n, (state, _, _) in tasks.items()}}
