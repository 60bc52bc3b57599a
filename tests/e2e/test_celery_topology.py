"""The production topology, run: the retrain DAG on Airflow's CeleryExecutor with two workers that share no local
folder, Redis as the broker, PostgreSQL as the metadata DB and result backend, a real infinity, and the data root
and feature cache on an S3 API (moto) addressed as ``s3://…`` through the pipeline's UPath layer.

Everything the compose file starts as containers is started here as processes (no Docker engine); the Airflow
settings both share come from benchmarks/topology.py (tests/unit/test_deploy_files.py checks the compose file
against them). The module's servers live for all its tests: the fault cases run on the stack the happy path built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from native_services import MotoS3, RedisServer, postgres_server, running
from support import DATASET_DIR, TEST_OUTPUT, poll
from upath import UPath

from benchmarks.airflow_stack import DAG_ID, AirflowStack, now_iso
from benchmarks.celery_stack import CeleryStack
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import batch_id_for
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.label_check.check import ledger_balances
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.monitoring.mood import count_words
from tweet_sentiment.storage.fs import list_dir, read_json
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.scored_stream import PART_MARK, ScoredStream, batch_predicate

pytestmark = pytest.mark.e2e
BUCKET = "tweet-sentiment-topology"
BOOTSTRAP_ROWS, BATCH_ROWS = 800, 300
SCORE_DAG, UNLABELLED_ROWS, PART_ROWS = "tweet_sentiment_score", 600, 100
KILLED_ROWS = 1000  # the worker-kill case's file: 5 parts of PART_ROWS per partition


@dataclasses.dataclass
class Topology:
    stack: CeleryStack
    settings: Settings
    redis: RedisServer
    s3: MotoS3
    fed: int = 0  # training rows written to the inbox so far

    def feed(self, rows: int, name: str) -> None:
        """The next ``rows`` chronological training rows into the S3 inbox as ``name``."""
        header, body = chronological_rows(self.settings.train_file)
        write_rows(self.settings.layout().inbox, name, header, body[self.fed:self.fed + rows])
        self.fed += rows

    def champion(self) -> str | None:
        _fresh()
        return ModelRegistry.of(self.settings).champion_version()


def _fresh() -> None:
    """Forget s3fs's cached listings in this process: the workers changed the bucket."""
    UPath(f"s3://{BUCKET}").fs.invalidate_cache()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, infinity_url: str, small_dataset) -> Iterator[Topology]:
    base = tmp_path_factory.mktemp("topology")
    with postgres_server(max_connections=200) as postgres_url, running(RedisServer(base / "redis")) as redis, \
            running(MotoS3(base / "s3")) as s3, pytest.MonkeyPatch.context() as mp:
        for name, value in s3.env().items():
            mp.setenv(name, value)  # this process reads and writes the bucket too
        # scoring over the workers: two partitions, each through its own infinity URL (here two names of the one
        # server), a claimed unlabelled batch stored in parts of PART_ROWS rows (the unit a partition takes)
        port = infinity_url.rsplit(":", 1)[1]
        mp.setenv("INFINITY_URLS", f"http://127.0.0.1:{port},http://localhost:{port}")
        mp.setenv("TWEET_SENTIMENT_STREAM_PART_ROWS", str(PART_ROWS))
        UPath(f"s3://{BUCKET}").fs.mkdir(BUCKET)
        settings = dataclasses.replace(
            Settings.from_env(), data_root=f"s3://{BUCKET}/data", cache_root=f"s3://{BUCKET}/features",
            state_db_url=postgres_url, dataset_dir=str(small_dataset), infinity_url=infinity_url)
        with CeleryStack(settings, base / "airflow", postgres_url, redis.url, s3.env()) as stack:
            yield Topology(stack, settings, redis, s3)


@pytest.mark.topology
def test_the_loop_runs_on_two_celery_workers_with_its_data_on_s3(topology):
    stack, layout = topology.stack, topology.settings.layout()
    started = time.monotonic()
    topology.feed(BOOTSTRAP_ROWS, "bootstrap.csv")
    first = stack.run(first=True)  # unpausing starts the first (scheduled) run: a champion from scratch
    assert first["states"]["promote"] == "success" and first["states"]["keep_champion"] == "skipped", first
    champion = topology.champion()
    assert champion is not None

    # Celery gives each task to whichever worker polls first; should one have taken the whole first run, it is
    # drained (as an operator drains a node) so that the second run shows the other one working too
    busy = [name for name, tasks in stack.tasks_taken({first["run_id"]}).items() if tasks]
    if len(busy) == 1:
        stack.consume(busy[0], False)
    topology.feed(BATCH_ROWS, "batch-1.csv")
    try:
        second = stack.run(first=False)
    finally:
        if len(busy) == 1:
            stack.consume(busy[0], True)
    elapsed = time.monotonic() - started
    states = second["states"]
    assert states["archive"] == "success" and {states["promote"], states["keep_champion"]} == {"success", "skipped"}
    _fresh()
    registry = ModelRegistry.of(topology.settings)
    assert (registry.champion_version() != champion) == (states["promote"] == "success")
    with sa.create_engine(topology.settings.state_db_url).connect() as postgres:  # the state database is Postgres
        assert postgres.execute(sa.text("SELECT version FROM champion")).scalar_one() == registry.champion_version()

    # every fed row is in the labelled store once, in quarantine, or held for review (the label check); the
    # files are archived, the inbox empty
    ledgers = [read_json(p) for p in list_dir(layout.ledger)]
    assert sorted(e["rows_in"] for e in ledgers) == [BATCH_ROWS, BOOTSTRAP_ROWS]
    assert all(ledger_balances(e) and not e["rows_superseding"] for e in ledgers)
    stored = LabelledStore(layout.labelled).read_all()
    assert len(stored) == sum(e["rows_accepted"] for e in ledgers)
    assert not stored.duplicated(["source_file", "source_row"]).any()
    archived = sorted(f.name for day in list_dir(layout.archive) for run in list_dir(day) for f in list_dir(run))
    assert archived == ["batch-1.csv.gz", "bootstrap.csv.gz"]  # compressed
    assert list_dir(layout.inbox) == [] and list_dir(layout.processing) == []
    assert list_dir(UPath(topology.settings.cache_root))  # the feature cache is on S3 too

    # the tasks ran on both workers, in folders of their own
    taken = stack.tasks_taken({first["run_id"], second["run_id"]})
    assert all(sum(tasks.values()) > 0 for tasks in taken.values()), taken
    assert set().union(*taken.values()) == {t for run in (first, second) for t, s in run["states"].items()
                                            if s != "skipped"}
    _write_figures("celery_topology.json", first, second, elapsed,
                   tasks_per_worker={name: dict(tasks) for name, tasks in taken.items()})


@contextlib.contextmanager
def _scoring_on_one_slot_workers(topology: Topology, env: dict[str, str] | None = None) -> Iterator[str]:
    """The scoring DAG unpaused (its timetable starts a run) on workers of one task slot each (and ``env``), so
    that two partitions cannot land on one worker, with the retrain DAG paused (no retrain run takes a slot
    meanwhile); yields when it was unpaused. After: both DAGs and the workers as before (a killed worker started
    again)."""
    stack = topology.stack
    for name in stack.worker_names:
        stack.kill_worker(name)
        stack.start_worker(name, {"AIRFLOW__CELERY__WORKER_CONCURRENCY": "1", **(env or {})})
    poll(lambda: stack._query("SELECT 1 FROM dag WHERE dag_id = ?", SCORE_DAG), "the scoring DAG parsed", 300)
    (retrain_paused,), = stack._query("SELECT is_paused FROM dag WHERE dag_id = ?", DAG_ID)
    stack.airflow("dags", "pause", DAG_ID)
    since = now_iso()
    assert stack.airflow("dags", "unpause", SCORE_DAG).returncode == 0
    try:
        yield since
    finally:
        stack.airflow("dags", "pause", SCORE_DAG)
        if not retrain_paused:
            stack.airflow("dags", "unpause", DAG_ID)
        for name in stack.worker_names:
            stack.kill_worker(name)
            stack.start_worker(name)


@pytest.mark.topology
def test_scoring_partitions_run_on_both_workers_and_score_every_row_exactly_once(topology):
    stack, settings = topology.stack, topology.settings
    champion = _with_champion(topology)
    header, body = chronological_rows(DATASET_DIR / "covid_tweets_unlabelled_2022.csv")
    write_rows(settings.layout().unlabelled, "stream-1.csv", header, body[:UNLABELLED_ROWS])
    with _scoring_on_one_slot_workers(topology) as since:
        # the run that claimed the file (the retrain runs' champion events may start others, which skip)
        run_id, state = poll(lambda: _scoring_run_of(topology, since, "stream-1.csv"), "the file scored", 900,
                             every_s=2)
    assert state == "success", stack.task_states(run_id)
    assert stack.mapped_states(run_id, "score_partition") == {0: ("success", 1), 1: ("success", 1)}
    taken = stack.tasks_taken({run_id})
    assert sorted(tasks["score_partition"] for tasks in taken.values()) == [1, 1], taken  # one on each worker

    _fresh()
    layout = settings.layout()
    report = read_json(layout.scoring / "runs" / f"{batch_id_for(run_id)}.json")
    accepted = report["ledger"]["rows_accepted"]
    assert accepted + report["ledger"]["rows_quarantined"] == UNLABELLED_ROWS and accepted > 0
    parts = report["score"]["per_partition"]
    assert sorted(p["url"] for p in parts) == sorted(settings.embedding_urls) and all(p["scored_rows"] for p in parts)
    assert report["score"]["scored_rows"] == sum(p["scored_rows"] for p in parts) == accepted
    tables = ScoredStream(layout.stream)
    live = tables.live_batches()
    assert len(live) == -(-accepted // PART_ROWS)  # stored in parts
    scores = tables.query("SELECT batch_id, seq, champion_version FROM scores", ["scores"])
    assert len(scores) == accepted and not scores.duplicated(["batch_id", "seq"]).any()
    assert set(scores["champion_version"]) == {champion}
    manifest = tables.query("SELECT batch_id FROM scored WHERE champion_version = ?", ["scored"], [champion])
    assert sorted(manifest["batch_id"]) == sorted(live["batch_id"])  # each part once
    assert int(tables.query("SELECT sum(n) AS n FROM counts", ["counts"])["n"].iloc[0]) == accepted


def _scoring_run_of(topology: Topology, since: str, file: str, finished: bool = True) -> tuple[str, str] | None:
    """(run id, state) of the scoring run since ``since`` whose batch claimed ``file`` (once ``finished``), if any."""
    _fresh()
    ledger = topology.settings.layout().unlabelled_stream.ledger
    runs = topology.stack._query("SELECT run_id, state FROM dag_run WHERE dag_id = ? AND queued_at >= ?", SCORE_DAG,
                                 since)
    for run_id, state in runs:
        entry = ledger / f"{batch_id_for(run_id)}.json"
        if (state in ("success", "failed") or not finished) and entry.exists() and file in entry.read_text():
            return run_id, state
    return None


@pytest.mark.faults
def test_a_worker_killed_while_its_partition_commits_chunks_is_retried_and_no_row_is_lost_or_scored_twice(
        topology):
    stack, settings = topology.stack, topology.settings
    _with_champion(topology)
    header, body = chronological_rows(DATASET_DIR / "covid_tweets_unlabelled_2022.csv")
    rows = body[UNLABELLED_ROWS:UNLABELLED_ROWS + KILLED_ROWS]
    write_rows(settings.layout().unlabelled, "stream-killed.csv", header, rows)
    tables = ScoredStream(settings.layout().stream)
    # each partition commits every part (PART_ROWS rows) on its own: several chunks, so the kill falls between
    with _scoring_on_one_slot_workers(topology, {"TWEET_SENTIMENT_SCORE_CHUNK_ROWS": str(PART_ROWS)}) as since:
        run_id, _ = poll(lambda: _scoring_run_of(topology, since, "stream-killed.csv", finished=False),
                         "the file claimed", 900, every_s=1)
        plan = poll(lambda: _xcom(stack, run_id, "plan_scoring"), "the run's plan", 300, every_s=0.5)
        part = plan[0]
        victim = poll(lambda: stack.taken_by(run_id, "score_partition", 0), "partition 0 taken", 300, every_s=0.2)
        committed = poll(lambda: _part_way(tables, part), "partition 0 part-way through its chunks", 600, every_s=0.2)
        stack.kill_worker(victim)  # SIGKILL: the task's heartbeat stops; Airflow fails it after its timeout
        run_id, state = poll(lambda: _scoring_run_of(topology, since, "stream-killed.csv"), "the run finished", 900,
                             every_s=2)
    assert state == "success", stack.task_states(run_id)
    mapped = stack.mapped_states(run_id, "score_partition")
    assert mapped[0] == ("success", 2) and mapped[1][0] == "success", mapped  # partition 0 retried once
    survivor = next(n for n in stack.worker_names if n != victim)
    assert stack.taken_by(run_id, "score_partition", 0, try_number=2) == survivor

    _fresh()
    report = read_json(settings.layout().scoring / "runs" / f"{batch_id_for(run_id)}.json")
    accepted = report["ledger"]["rows_accepted"]
    assert accepted + report["ledger"]["rows_quarantined"] == KILLED_ROWS and accepted > 0
    retried = next(p for p in report["score"]["per_partition"] if p["index"] == 0)
    planned_rows = sum(n for _, n in part["new"] + part["stale"])
    # the retry skipped what the killed try had committed, and scored the rest
    assert committed and 0 < retried["already_scored_rows"] < planned_rows
    assert retried["already_scored_rows"] + retried["scored_rows"] + retried["rescored_rows"] == planned_rows
    assert report["score"]["scored_rows"] + report["score"]["already_scored_rows"] \
        + report["score"]["rescored_rows"] == sum(n for p in plan for _, n in p["new"] + p["stale"])
    _scored_exactly_once(tables, plan, accepted, batch_id_for(run_id))


def _xcom(stack: CeleryStack, run_id: str, task_id: str) -> object:
    """The return value ``task_id`` pushed in ``run_id`` (None before it did)."""
    found = stack._query("SELECT value FROM xcom WHERE run_id = ? AND task_id = ? AND key = 'return_value'", run_id,
                         task_id)
    if not found:
        return None
    value = found[0][0]
    return json.loads(value) if isinstance(value, str) else value


def _part_way(tables: ScoredStream, part: dict) -> int | None:
    """How many of the partition's batches its version has committed since the plan, once at least one is and at
    least one is not (None before: not yet part-way, or done)."""
    _fresh()
    batches = [b for b, _ in part["new"] + part["stale"]]
    done = tables.query(f"SELECT DISTINCT batch_id FROM scored WHERE {batch_predicate(batches)} AND "
                        "champion_version = ? AND scored_at >= ?::TIMESTAMPTZ", ["scored"],
                        [part["version"], part["planned_at"]])
    return len(done) if 0 < len(done) < len(batches) else None


def _scored_exactly_once(tables: ScoredStream, plan: list[dict], accepted: int, batch_id: str) -> None:
    """Every row of the plan's batches has one score, by the plan's version; each batch is once in the manifest
    for it; the mood's counts and word counts are those of the stored rows and scores (none lost, none twice);
    the run's own batch holds ``accepted`` rows."""
    version = plan[0]["version"]
    batches = sorted(b for p in plan for b, _ in p["new"] + p["stale"])
    where = batch_predicate(batches)
    rows = tables.read_rows(batches, ["batch_id", "seq", "text", "tweet_at"])
    ours = (rows["batch_id"] == batch_id) | rows["batch_id"].str.startswith(f"{batch_id}{PART_MARK}")
    assert ours.sum() == accepted
    scores = tables.query(f"SELECT * FROM scores WHERE {where}", ["scores"])
    assert len(scores) == len(rows) and not scores.duplicated(["batch_id", "seq"]).any()
    assert set(scores["champion_version"]) == {version}
    joined = rows.merge(scores, on=["batch_id", "seq"], validate="one_to_one")
    assert len(joined) == len(rows)  # every stored row scored
    manifest = tables.query(f"SELECT batch_id FROM scored WHERE {where} AND champion_version = ? AND scored_at >= "
                            "?::TIMESTAMPTZ", ["scored"], [version, plan[0]["planned_at"]])
    assert sorted(manifest["batch_id"]) == batches  # each batch once
    counts = tables.query(f"SELECT sum(n) AS n FROM counts WHERE {where} AND champion_version = ?", ["counts"],
                          [version])
    assert int(counts["n"].iloc[0]) == len(rows)
    words = tables.query(f"SELECT sum(n) AS n FROM words WHERE {where} AND champion_version = ?", ["words"], [version])
    assert int(words["n"].iloc[0]) == int(count_words(joined, joined)["n"].sum())


def _write_figures(name: str, first: dict, second: dict, elapsed: float, **more: object) -> None:
    """The two runs' figures (the second, a fed batch, is the cycle) into test-output/``name``."""
    figures = {"cycle_s": second["decision_s"], "overhead_s": second["overhead_s"], "tasks_s": second["tasks_s"],
               "bootstrap_run_s": first["decision_s"], "two_runs_wall_s": round(elapsed, 1), **more}
    TEST_OUTPUT.mkdir(exist_ok=True)
    (TEST_OUTPUT / name).write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))


@pytest.mark.slow
def test_the_same_two_runs_on_the_local_executor_for_comparison(tmp_path, infinity_url, small_dataset):
    """The happy path's two runs on `make run`'s topology (LocalExecutor, SQLite, a local data root): the figure
    the Celery + S3 cycle is compared with (test-output/local_topology.json)."""
    settings = dataclasses.replace(Settings.from_env(), data_root=str(tmp_path / "data"),
                                   cache_root=str(tmp_path / "features"), dataset_dir=str(small_dataset),
                                   infinity_url=infinity_url)
    header, body = chronological_rows(settings.train_file)
    with AirflowStack(settings, tmp_path / "airflow") as stack:
        started = time.monotonic()
        write_rows(settings.layout().inbox, "bootstrap.csv", header, body[:BOOTSTRAP_ROWS])
        first = stack.run(first=True)
        write_rows(settings.layout().inbox, "batch-1.csv", header, body[BOOTSTRAP_ROWS:BOOTSTRAP_ROWS + BATCH_ROWS])
        second = stack.run(first=False)
        elapsed = time.monotonic() - started
    assert second["states"]["archive"] == "success"
    _write_figures("local_topology.json", first, second, elapsed)


# ---- faults on the same topology (`make test-faults`; see the README) ----

def _with_champion(topology: Topology) -> str:
    """The champion; trained first with the CLI's bootstrap when this module's happy path did not run."""
    if (champion := topology.champion()) is None:
        bootstrap(dataclasses.replace(topology.settings, bootstrap_rows=BOOTSTRAP_ROWS), refit=False)
        topology.fed = BOOTSTRAP_ROWS
        champion = topology.champion()
    assert champion is not None
    return champion


def _start_run(topology: Topology, batch_name: str) -> tuple[str, str]:
    """A fed batch and a triggered run on it, once queued: (the time it was asked, its run id)."""
    _with_champion(topology)
    topology.feed(BATCH_ROWS, batch_name)
    since = topology.stack.trigger()
    return since, poll(lambda: (topology.stack.newest_run(since) or (None,))[0], "the run", 120)


def _taken_by(stack: CeleryStack, run_id: str, task_id: str) -> str | None:
    """The worker that took ``task_id`` of ``run_id`` last, from the workers' logs."""
    for name, tasks in stack.tasks_taken({run_id}).items():
        if tasks[task_id]:
            return name
    return None


def _stored_once(topology: Topology, run_id: str, rows: int) -> None:
    """The run's batch: ``rows`` in, each accepted row stored once."""
    _fresh()
    layout = topology.settings.layout()
    entry = read_json(layout.ledger / f"{batch_id_for(run_id)}.json")
    assert entry["rows_in"] == rows == entry["rows_accepted"] + entry["rows_quarantined"]
    stored = LabelledStore(layout.labelled).read_all()
    assert (stored["batch_id"] == batch_id_for(run_id)).sum() == entry["rows_accepted"]
    assert not stored.duplicated(["source_file", "source_row"]).any()


@pytest.mark.faults
def test_a_worker_killed_mid_task_is_retried_on_the_other(topology):
    stack = topology.stack
    since, run_id = _start_run(topology, "batch-killed.csv")
    victim = poll(lambda: _taken_by(stack, run_id, "embed"), "embed taken by a worker", 300, every_s=0.2)
    stack.kill_worker(victim)
    try:
        run_id, state = stack.finished_run(since, timeout_s=600)
        assert state == "success", stack.task_states(run_id)
        embed_state, tries = stack.task_states(run_id)["embed"]
        assert embed_state == "success" and tries >= 2
        survivor = next(n for n in stack.worker_names if n != victim)
        assert stack.tasks_taken({run_id})[survivor]["embed"] >= 1
        _stored_once(topology, run_id, BATCH_ROWS)
    finally:
        stack.start_worker(victim)


@pytest.mark.faults
def test_redis_restarted_between_two_tasks_the_run_completes(topology):
    stack = topology.stack
    since, run_id = _start_run(topology, "batch-redis.csv")
    poll(lambda: stack.task_states(run_id).get("claim_and_ingest", ("",))[0] == "success", "claim_and_ingest", 300,
         every_s=0.2)
    topology.redis.stop()
    time.sleep(3)
    topology.redis.start()  # the same port, empty: what was queued in it is lost
    run_id, state = stack.finished_run(since, timeout_s=600)
    assert state == "success", stack.task_states(run_id)
    _stored_once(topology, run_id, BATCH_ROWS)


@pytest.mark.faults
def test_a_worker_that_cannot_reach_infinity_fails_its_task_and_the_other_worker_retries_it(topology):
    stack = topology.stack
    good, cut_off = stack.worker_names
    stack.kill_worker(cut_off)
    stack.start_worker(cut_off, {"INFINITY_URL": "http://127.0.0.1:9"})  # nothing listens there
    stack.consume(good, False)  # drained: the run's tasks go to the cut-off worker
    try:
        since, run_id = _start_run(topology, "batch-no-infinity.csv")
        poll(lambda: stack.task_states(run_id).get("embed", ("",))[0] == "up_for_retry", "embed failing", 300)
        stack.consume(cut_off, False)  # first: the retry waits in the queue rather than land here again
        stack.consume(good, True)
        run_id, state = stack.finished_run(since, timeout_s=600)
        assert state == "success", stack.task_states(run_id)
        assert stack.task_states(run_id)["embed"] == ("success", 2)
        taken = stack.tasks_taken({run_id})
        assert taken[cut_off]["embed"] == 1 and taken[good]["embed"] == 1, taken
        _stored_once(topology, run_id, BATCH_ROWS)
    finally:
        stack.consume(good, True)
        stack.kill_worker(cut_off)
        stack.start_worker(cut_off)


@pytest.mark.faults
def test_an_s3_outage_fails_the_run_clearly_and_leaves_the_champion(topology):
    stack = topology.stack
    champion = _with_champion(topology)
    pointer = ModelRegistry.of(topology.settings).history()
    since, run_id = _start_run(topology, "batch-outage.csv")
    poll(lambda: _taken_by(stack, run_id, "embed"), "embed taken by a worker", 300, every_s=0.2)
    topology.s3.outage(True)
    try:
        run_id, state = stack.finished_run(since, timeout_s=600)
    finally:
        topology.s3.outage(False)
    states = stack.task_states(run_id)
    failed = [task for task, (task_state, _) in states.items() if task_state == "failed"]
    assert state == "failed" and len(failed) == 1 and states[failed[0]][1] == 3, states  # 1 + 2 retries
    assert states["promote"][0] == "upstream_failed"
    logs = "".join(p.read_text(errors="replace")
                   for p in stack.home.glob(f"worker-*/airflow/logs/**/task_id={failed[0]}/*.log"))
    assert "Service Unavailable" in logs, f"no S3 error in the logs of {failed[0]}"
    assert topology.champion() == champion and ModelRegistry.of(topology.settings).history() == pointer
