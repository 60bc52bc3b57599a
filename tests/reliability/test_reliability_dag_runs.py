"""Through the DAG itself (dag.test() against the real Airflow DB, the tasks in this process): a dead run's claimed
batch is taken over with an empty inbox, and a trigger payload can neither redirect a run nor pass bad values."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import ParamValidationError
from reliability_support import SMALL_BOOSTING, assert_consistent, champion_snapshot, settings_for, write_train_rows
from support import load_retrain_dag, run_dag

from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import PARAMS
from tweet_sentiment.storage.labelled_store import LabelledStore

# every Param stated (dag.test() keeps a run's values in the DAG object): a quick, forced promotion
CONF = {**{name: spec.default for name, spec in PARAMS.items()}, **SMALL_BOOSTING, "force_promote": True}


@pytest.fixture
def dag_root(pipeline_copy: Path, monkeypatch: pytest.MonkeyPatch, infinity_url: str, small_dataset: Path,
             feature_cache: Path, airflow_db: str) -> Path:
    """A bootstrapped data root that the DAG's tasks (reading the environment, as in production) work on."""
    for name, value in {"TWEET_SENTIMENT_DATA_ROOT": pipeline_copy, "TWEET_SENTIMENT_DATASET_DIR": small_dataset,
                        "TWEET_SENTIMENT_CACHE_ROOT": feature_cache, "INFINITY_URL": infinity_url}.items():
        monkeypatch.setenv(name, str(value))
    return pipeline_copy


def live_ledgers(root: Path) -> dict[str, dict]:
    ledgers = {p.stem: json.loads(p.read_text()) for p in (root / "ledger").glob("*.json")}
    return {batch: entry for batch, entry in ledgers.items() if "superseded_by" not in entry}


def assert_the_run_finished(root: Path, states: dict[str, str], texts_tag: str, rows: int) -> str:
    """The run claimed, trained, promoted and archived the batch: each row once, in the store and one live ledger."""
    assert {task: states[task] for task in ("sense_inbox", "claim_and_ingest", "promote", "archive")} == dict.fromkeys(
        ("sense_inbox", "claim_and_ingest", "promote", "archive"), "success"), states
    live = live_ledgers(root)
    (batch,) = set(live) - {"boot"}
    entry = live[batch]  # rows the label check holds for review are a term of the ledger
    assert entry["rows_in"] == entry["rows_accepted"] + entry.get("rows_held", 0) == rows
    store = LabelledStore(root / "labelled")
    assert store.batch_ids() == ["boot", batch]
    stored = store.read_all()
    assert stored["text_hash"].is_unique and stored["text"].str.endswith(texts_tag).sum() == entry["rows_accepted"]
    assert not any((root / "processing").iterdir())
    assert len(list((root / "archive").glob(f"*/{batch}/batch.csv.gz"))) == 1
    return batch


def test_a_dead_runs_claim_is_taken_over_by_the_next_dag_run_with_an_empty_inbox(
        dag_root, infinity_url, small_dataset, feature_cache, tally):
    root = dag_root
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 1900, 1940, text_suffix=" #orphan")
    dead = retrain.claim_and_ingest(settings_for(root, infinity_url, small_dataset, feature_cache), "dead_run")
    assert dead["rows_accepted"] == 40  # the run died after its claim task: its rows are stored, its files claimed
    assert not any((root / "inbox").iterdir()) and (root / "processing" / "dead_run" / "batch.csv").exists()
    with tally.fault("a dead run's claim taken over by the DAG, inbox empty"):
        states = run_dag(load_retrain_dag(), CONF)
        batch = assert_the_run_finished(root, states, " #orphan", 40)
        assert json.loads((root / "ledger" / "dead_run.json").read_text())["superseded_by"] == batch
        assert_consistent(root, feature_cache)


def freeze(folder: Path, at: float) -> dict[str, tuple[int, int]]:
    """Set every entry's access and modification times to ``at`` (so a read of it would move its access time, on this
    relatime filesystem) and return them by path."""
    entries = [folder, *folder.rglob("*")]
    for path in entries:
        os.utime(path, (at, at))
    return {str(p): (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in entries}


def test_a_trigger_payload_naming_paths_cannot_redirect_a_real_run(dag_root, small_dataset, tmp_path, tally):
    """Unknown keys naming paths and a URL are ignored: the run works on the configured data root, and the
    hostile folder is neither read (no access time moved) nor written (no modification time moved, nothing new)."""
    root, hostile = dag_root, tmp_path / "hostile"
    for folder in ("inbox", "registry", "labelled", "embeddings"):
        (hostile / folder).mkdir(parents=True)
    write_train_rows(small_dataset, hostile / "inbox" / "planted.csv", 0, 20, text_suffix=" #hostile")
    (hostile / "registry" / "champion.json").write_text('{"version": "planted", "history": []}')
    before = freeze(hostile, time.time() - 3600)
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 1940, 1970, text_suffix=" #configured")
    payload = {"data_root": str(hostile), "inbox": str(hostile / "inbox"), "dataset_dir": str(hostile),
               "cache_root": str(hostile / "embeddings"), "registry": str(hostile / "registry"),
               "infinity_url": "http://127.0.0.1:9"}
    with tally.fault("trigger payload naming paths"):
        states = run_dag(load_retrain_dag(), {**CONF, **payload})
        assert_the_run_finished(root, states, " #configured", 30)
        assert {p: (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) for p in before} == before
        assert sorted(str(p) for p in [hostile, *hostile.rglob("*")]) == sorted(before)
        assert not LabelledStore(root / "labelled").read_all()["text"].str.endswith(" #hostile").any()


# a value out of range, of the wrong type, or a path where a Param takes a number or a choice
REFUSED = ({"num_boost_round": 10**9}, {"learning_rate": 5}, {"replay_rows": -1}, {"strategy": "/etc/passwd"},
           {"min_improvement": "../../registry"})


def test_a_param_out_of_range_or_naming_a_path_refuses_the_run(dag_root, small_dataset, feature_cache, tally):
    """Airflow validates the payload against the Params before it creates the run (as a trigger from the UI or the
    REST API is validated): no run, no task, nothing claimed."""
    root = dag_root
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 1970, 1975, text_suffix=" #refused")
    before = champion_snapshot(root)
    dag = load_retrain_dag()
    with tally.fault(f"{len(REFUSED)} trigger payloads out of range or naming paths"):
        for bad in REFUSED:
            with pytest.raises(ParamValidationError, match=f"Invalid input for param {next(iter(bad))}"):
                run_dag(dag, {**CONF, **bad})
            assert [p.name for p in (root / "inbox").iterdir()] == ["batch.csv"]  # nothing claimed
            assert not (root / "processing").exists() or not any((root / "processing").iterdir())
            assert sorted(p.stem for p in (root / "ledger").glob("*.json")) == ["boot"]
            assert champion_snapshot(root) == before
        assert_consistent(root, feature_cache)
