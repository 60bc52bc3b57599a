"""The DAG end to end on a real PostgreSQL metadata DB (the production one), not only SQLite.

A throw-away PostgreSQL server (Debian's `postgresql`, installed by scripts/test_deps.sh) runs on a free
loopback port; `airflow db migrate` builds the schema in it, and the DAG runs with dag.test() against a real
infinity server. Airflow reads its DB URL when first imported, and this test session's Airflow already points
at SQLite, so the migration and the run happen in a child process configured for PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import psycopg2
import pytest
from native_services import postgres_server, run
from support import ROOT, local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows

pytestmark = pytest.mark.e2e
DAG_ID = "tweet_sentiment_retrain"

# Run in the child: the DAG once with dag.test(); print the run's and each task's final state as JSON.
RUN_DAG = f"""
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session

bag = DagBag({str(ROOT / "dags")!r})
assert not bag.import_errors, bag.import_errors
run = bag.dags[{DAG_ID!r}].test()
with create_session() as session:
    tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
    states = {{ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis}}
print(json.dumps({{"run_id": run.run_id, "state": str(getattr(run.state, "value", run.state)), "tasks": states}}))
"""


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_the_dag_runs_end_to_end_on_a_postgres_metadata_db(postgres_url, pipeline_env, tmp_path):
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url,
           "AIRFLOW_HOME": str(tmp_path / "airflow-home")}
    airflow = str(ROOT / ".venv" / "bin" / "airflow")
    run([airflow, "db", "migrate"], env=env, timeout=600)

    # The first labelled batch: with no champion yet the DAG trains one from scratch and promotes it.
    settings = Settings.from_env()
    layout = settings.layout()
    header, rows = chronological_rows(settings.train_file)
    write_rows(layout.inbox, "bootstrap.csv", header, rows[:settings.bootstrap_rows])

    child = run([str(ROOT / ".venv" / "bin" / "python"), "-c", RUN_DAG], env=env, timeout=900)
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["state"] == "success", outcome
    assert outcome["tasks"].pop("keep_champion") == "skipped"
    assert set(outcome["tasks"].values()) == {"success"}, outcome["tasks"]

    registry = local_registry(layout.registry)
    champion = registry.champion_version()
    assert champion is not None
    card = registry.card(champion)
    assert card["status"] == "champion" and card["strategy"] == "refit"
    ledger = read_ledger(layout.ledger)
    assert card["rows_trained"] == ledger["rows_accepted"] - ledger["rows_recent_holdout"] > 800

    with psycopg2.connect(postgres_url.replace("postgresql+psycopg2", "postgresql")) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, state FROM dag_run WHERE dag_id = %s", (DAG_ID,))
        assert cur.fetchall() == [(outcome["run_id"], "success")]
        cur.execute("SELECT count(*) FROM task_instance WHERE run_id = %s", (outcome["run_id"],))
        assert cur.fetchone()[0] == len(outcome["tasks"]) + 1


def read_ledger(folder) -> dict:
    (entry,) = [json.loads(p.read_text()) for p in folder.iterdir()]
    return entry
