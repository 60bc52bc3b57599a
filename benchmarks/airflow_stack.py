"""A real Airflow for the cycle: api-server, scheduler (LocalExecutor) and dag-processor on a temp AIRFLOW_HOME with
SQLite, and the reads of its metadata DB that time a DAG run."""

from __future__ import annotations

import contextlib
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

from benchmarks.options import PROJECT_ROOT
from benchmarks.processes import PeakRss, answers, descendants, free_port, stop_process_group
from tweet_sentiment.config import Settings

log = logging.getLogger(__name__)
DAG_ID = "tweet_sentiment_retrain"
DECISION_TASKS = ("promote", "keep_champion")
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _epoch(value: str) -> float:
    """A timestamp as SQLite holds Airflow's (UTC, no zone) in seconds since the epoch."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def airflow_env(root: Settings, airflow_home: Path, port: int) -> dict[str, str]:
    """The environment of `make run`'s Airflow on ``airflow_home`` and ``port``, the pipeline pointing at ``root``."""
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
        "TWEET_SENTIMENT_DATA_ROOT": root.data_root, "TWEET_SENTIMENT_CACHE_ROOT": root.cache_root,
        "INFINITY_URL": root.infinity_url}


class AirflowStack:
    """api-server, scheduler (LocalExecutor) and dag-processor on a temp AIRFLOW_HOME with SQLite, as `make run`
    starts them, the pipeline's settings pointing at ``root``. Task processes are forked by the scheduler's
    LocalExecutor workers, so they are found as the scheduler's descendants."""

    def __init__(self, root: Settings, airflow_home: Path) -> None:
        self.home = airflow_home
        self.port = free_port()
        self.env = airflow_env(root, airflow_home, self.port)
        self.db = airflow_home / "airflow.db"
        self._procs: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def __enter__(self) -> AirflowStack:
        self.home.mkdir(parents=True, exist_ok=True)
        log.info("Airflow: migrating a SQLite metadata DB in %s", self.home)
        migrated = self.airflow("db", "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")
        for service in (["api-server", "--port", str(self.port)], ["scheduler"], ["dag-processor"]):
            with open(self.home / f"{service[0]}.log", "wb") as out:
                self._procs[service[0]] = subprocess.Popen(
                    [AIRFLOW, *service], stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 300
        while not answers(f"http://localhost:{self.port}/api/v2/version"):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs.values()):
                raise RuntimeError(f"Airflow did not start; see the logs in {self.home}")
            time.sleep(1)
        log.info("Airflow answers on port %d", self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        leftovers = descendants({proc.pid for proc in self._procs.values()})  # tasks may leave their group
        for proc in self._procs.values():
            stop_process_group(proc)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def run(self, first: bool) -> dict:
        """One DAG run, trigger to end: the first by unpausing (the scheduler starts it), the others triggered."""
        since = _now_iso()
        started = self.airflow("dags", "unpause", DAG_ID) if first else self.airflow("dags", "trigger", DAG_ID)
        if started.returncode != 0:
            raise RuntimeError(f"could not start {DAG_ID}:\n{started.stderr[-2000:]}")
        with PeakRss(self._procs["scheduler"].pid) as rss:
            run_id = self._wait_run(since)
        return {**self._run_times(run_id), "peak_rss_mb": rss.peak_mb, "processes": rss.processes}

    def _query(self, sql: str, *args: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql, args).fetchall()

    def _wait_run(self, since: str, timeout_s: float = 900) -> str:
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
