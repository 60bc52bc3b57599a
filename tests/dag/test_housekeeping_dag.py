"""The housekeeping DAG: daily and triggerable, one task per registered maintenance, never part of the retrain
DAG; a run through dag.test() against the Airflow metadata DB compacts a real labelled table."""

import pandas as pd
import pytest
from support import ROOT, run_dag

from tweet_sentiment.text import text_hash


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


def test_daily_one_task_per_maintenance_and_no_step_of_the_cycle(bag):
    from airflow.sdk import CronTriggerTimetable

    from tweet_sentiment.pipeline.housekeeping import MAINTENANCE

    dag = bag.dags["tweet_sentiment_housekeeping"]
    assert isinstance(dag.timetable, CronTriggerTimetable) and dag.timetable.expression == "30 3 * * *"
    assert sorted(dag.task_dict) == sorted(m.name for m in MAINTENANCE)
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert not set(dag.task_dict) & set(bag.dags["tweet_sentiment_retrain"].task_dict)


def test_a_run_compacts_the_labelled_table(bag, airflow_db, tmp_path, monkeypatch):
    from tweet_sentiment.storage.labelled_store import LabelledStore

    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TWEET_SENTIMENT_TABLE_RETENTION_HOURS", "0")
    store = LabelledStore(tmp_path / "data" / "labelled")
    for b in range(4):
        texts = [f"tweet {b} {i}" for i in range(20)]
        store.write_batch(f"b{b}", pd.DataFrame({
            "text": texts, "label": "Neutral", "tweet_at": "", "text_hash": [text_hash(t) for t in texts],
            "raw_text": texts, "source_file": "f.csv", "source_row": range(20), "batch_id": f"b{b}",
            "ingested_at": str(b), "seq": range(20)}))
    rows = store.read_all()
    states = run_dag(bag.dags["tweet_sentiment_housekeeping"], {})
    assert states == {"labelled_rows": "success", "vectors": "success", "rejected_models": "success",
                      "scored_stream": "success"}
    assert len(store.rows.files()) == 1 and len(list((tmp_path / "data" / "labelled").glob("*.parquet"))) == 1
    pd.testing.assert_frame_equal(store.read_all(), rows)
