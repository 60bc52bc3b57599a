"""The production topology, natively: Airflow on the CeleryExecutor (Redis broker, PostgreSQL result backend and
metadata DB) with an api-server, a scheduler, a dag-processor and Celery workers that share nothing local: each
has its own HOME, TMPDIR, working directory, AIRFLOW_HOME and log server port, as on separate machines. The
settings the compose file also sets come from benchmarks/topology.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from benchmarks.airflow_stack import AIRFLOW, DAG_ID, AirflowStack, now_iso
from benchmarks.processes import descendants, free_port
from benchmarks.topology import SHARED
from tweet_sentiment.config import Settings

CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
# A Celery worker logs each task it takes: "[<celery id>] Executing workload in Celery: ... task_id='embed' ..."
_TAKEN = re.compile(r"Executing workload in Celery: .*?task_id='([^']+)'.*?run_id='([^']+)'")


def celery_env(base: dict[str, str], postgres_url: str, redis_url: str, extra: dict[str, str]) -> dict[str, str]:
    """``base`` (the embedded stack's environment) turned into the production topology's: PostgreSQL (the
    pipeline's state database too, unless ``base`` names another, as the compose file does), Celery on Redis, the
    shared settings of benchmarks/topology.py, and ``extra`` (e.g. the S3 endpoint and credentials)."""
    return {**base, **SHARED, **extra,
            "TWEET_SENTIMENT_STATE_DB_URL": base.get("TWEET_SENTIMENT_STATE_DB_URL") or postgres_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres_url,
            "AIRFLOW__CELERY__BROKER_URL": redis_url}


class CeleryStack(AirflowStack):
    """AirflowStack on the CeleryExecutor (``postgres_url``, ``redis_url``), one Celery worker per name in
    ``worker_names``; ``extra_env`` for every component (the S3 endpoint and credentials)."""

    def __init__(self, root: Settings, airflow_home: Path, postgres_url: str, redis_url: str,
                 extra_env: dict[str, str], worker_names: tuple[str, ...] = ("worker-a", "worker-b")) -> None:
        super().__init__(root, airflow_home)
        self.env = celery_env(self.env, postgres_url, redis_url, extra_env)
        self.dsn = postgres_url.replace("+psycopg2", "")
        self.worker_names = worker_names

    def wait_started(self) -> None:
        """Until the API answers, every worker is ready and the DAG is parsed."""
        super().wait_started()
        for name in self.worker_names:
            self.wait_worker(name)
        deadline = time.monotonic() + 300
        while not self._query("SELECT 1 FROM dag WHERE dag_id = ?", DAG_ID):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dag-processor did not parse {DAG_ID}; see {self.home}/dag-processor.log")
            time.sleep(1)

    def start_more(self) -> None:
        for name in self.worker_names:
            self.start_worker(name, wait=False)

    def worker_dir(self, name: str) -> Path:
        return self.home / name

    def start_worker(self, name: str, extra_env: dict[str, str] | None = None, wait: bool = True) -> None:
        """A Celery worker that shares no local folder with the others (a machine of its own, but the hostname)."""
        folder = self.worker_dir(name)
        for sub in ("home", "tmp", "cwd", "airflow"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        env = {**self.env, "HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp"),
               "AIRFLOW_HOME": str(folder / "airflow"), "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
               **(extra_env or {})}
        self.start(name, ["celery", "worker", "--celery-hostname", self.node(name)], env=env, cwd=folder / "cwd")
        if wait:
            self.wait_worker(name)

    def wait_worker(self, name: str) -> None:
        """Until the worker's Celery says it is ready (connected to the broker, consuming)."""
        log = self.home / f"{name}.log"
        deadline = time.monotonic() + 180
        while "ready." not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or self._procs[name].poll() is not None:
                raise RuntimeError(f"Celery worker {name} did not start; see {log}")
            time.sleep(0.5)

    def node(self, name: str) -> str:
        """The Celery node name of worker ``name`` (``--celery-hostname name@%h``)."""
        return f"{name}@{socket.gethostname()}"

    def consume(self, name: str, on: bool) -> None:
        """Let worker ``name`` take tasks from the default queue again (``on``), or drain it: it finishes what it
        runs and takes nothing new (Celery's remote control, as an operator drains a node)."""
        queue = self.env.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE", "default")
        command = "add_consumer" if on else "cancel_consumer"
        done = subprocess.run([str(Path(AIRFLOW).with_name("celery")), "--app", CELERY_APP, "control", command,
                               queue, "--destination", self.node(name)], env=self.env, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0 or self.node(name) not in done.stdout:
            raise RuntimeError(f"celery control {command} {name} failed:\n{done.stdout}\n{done.stderr}")

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and everything it started (its task's supervisor and task process): a lost machine (a
        worker killed already: nothing)."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        below = descendants({proc.pid})  # a task process may have left the worker's process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in below:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def tasks_taken(self, run_ids: set[str] | None = None) -> dict[str, Counter]:
        """Per worker, how many task instances (of ``run_ids``, or all) it took, by task id, from its log."""
        taken = {}
        for name in self.worker_names:
            log = self.home / f"{name}.log"
            found = _TAKEN.findall(log.read_text(errors="replace")) if log.exists() else []
            taken[name] = Counter(task for task, run in found if run_ids is None or run in run_ids)
        return taken

    def taken_by(self, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1) -> str | None:
        """The worker that took try ``try_number`` of ``task_id`` (its mapped instance ``map_index``) of ``run_id``,
        from the workers' logs (None: not taken yet)."""
        line = re.compile(rf"Executing workload in Celery: .*?task_id='{re.escape(task_id)}'.*?"
                          rf"run_id='{re.escape(run_id)}'.*?try_number={try_number}\b.*?map_index={map_index}\b")
        for name in self.worker_names:
            log = self.home / f"{name}.log"
            if log.exists() and line.search(log.read_text(errors="replace")):
                return name
        return None

    def _query(self, sql: str, *args: object) -> list[tuple]:
        """Rows of the PostgreSQL metadata DB, timestamps as AirflowStack's SQLite reads give them (UTC text)."""
        with contextlib.closing(psycopg2.connect(self.dsn)) as db, db.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql.replace("?", "%s"), args)
            return [tuple(_as_text(v) for v in row) for row in cur.fetchall()]

    def trigger(self) -> str:
        """Trigger a run now; the time it was asked (to find it with ``finished_run``)."""
        since = now_iso()
        started = self.airflow("dags", "trigger", DAG_ID)
        if started.returncode != 0:
            raise RuntimeError(f"could not trigger {DAG_ID}:\n{started.stderr[-2000:]}")
        return since

    def newest_run(self, since: str, dag_id: str = DAG_ID) -> tuple[str, str] | None:
        """(run id, state) of the newest run of ``dag_id`` queued since ``since``, if any."""
        rows = self._query("SELECT run_id, state FROM dag_run WHERE dag_id = ? AND queued_at >= ? ORDER BY queued_at",
                           dag_id, since)
        return rows[-1] if rows else None

    def finished_run(self, since: str, timeout_s: float = 600, dag_id: str = DAG_ID) -> tuple[str, str]:
        """(run id, final state) of the newest run of ``dag_id`` queued since ``since``, success or failed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (run := self.newest_run(since, dag_id)) and run[1] in ("success", "failed"):
                return run
            time.sleep(1)
        raise RuntimeError(f"no finished {dag_id} run within {timeout_s} s; see {self.home}")

    def mapped_states(self, run_id: str, task_id: str) -> dict[int, tuple[str, int]]:
        """Each mapped instance of ``task_id`` in a run: map index → (state, try number)."""
        rows = self._query("SELECT map_index, state, try_number FROM task_instance WHERE run_id = ? AND task_id = ?",
                           run_id, task_id)
        return {int(index): (state, tries) for index, state, tries in rows}

    def task_states(self, run_id: str) -> dict[str, tuple[str, int]]:
        """Each task of a run: (state, try number)."""
        rows = self._query("SELECT task_id, state, try_number FROM task_instance WHERE run_id = ?", run_id)
        return {task: (state, tries) for task, state, tries in rows}


def _as_text(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
