"""The whole loop with real parts: a real infinity server, the DAG run by dag.test() on a real Airflow DB,
a small real slice of the Kaggle data. Bootstrap, a forced promotion, a rejection, a bad file, an empty inbox.
"""

from __future__ import annotations

import pytest
from support import load_retrain_dag, local_registry, run_dag

from lab.scenarios import Policy
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, next_batch, write_rows
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.csvio import to_csv_bytes
from tweet_sentiment.storage.fs import read_json
from tweet_sentiment.storage.labelled_store import LabelledStore

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def retrain_dag():
    return load_retrain_dag()


def test_bootstrap_then_promote_then_reject_with_every_row_accounted(pipeline_env, airflow_db, retrain_dag):
    settings = Settings.from_env()
    layout = settings.layout()
    registry = local_registry(layout.registry)

    bootstrap(settings, refit=False)
    first = registry.champion_version()
    assert first is not None and registry.card(first)["rows_trained"] > 800  # the recent holdout slice set aside
    assert registry.card(first)["metrics"]["macro_f1"] > 0.5

    # 1) a feed batch plus a bad file: the bad file is quarantined, the good one trains a forced champion
    feed_file = next_batch(layout, settings.train_file, 1000, settings.bootstrap_rows)
    (layout.inbox / "broken labels.csv").write_bytes(
        b"OriginalTweet,Sentiment\r\ngood tweet about masks,Positive\r\nanother one,Meh\r\n")
    (layout.inbox / "garbage.csv").write_bytes(b"\x00\x01\x02\x03")
    states = run_dag(retrain_dag, {"force_promote": True, "min_improvement": 0.001})
    assert states["promote"] == "success" and states["keep_champion"] == "skipped"
    assert states["archive"] == "success"
    second = registry.champion_version()
    card = registry.card(second)
    assert second != first and card["parent"] == first and card["strategy"] == "continue"
    assert card["status"] == "champion" and card["reason"].startswith("forced")
    assert registry.card(first)["status"] == "retired"

    ledger_file = next(layout.ledger.glob("manual__*.json"))
    ledger = read_json(ledger_file)
    assert ledger["rows_in"] == ledger["rows_accepted"] + ledger["rows_quarantined"] + ledger["rows_held"]
    assert ledger["rows_in"] == 1000 + 2 and ledger["files_rejected"] == 1
    batch_id = ledger["batch_id"]
    assert card["batches"]["last"] == batch_id
    store = LabelledStore(layout.labelled)  # lineage: the table version it trained on, after the label check's
    assert card["labelled_version"] == store.version() > registry.card(first)["labelled_version"] >= 0
    assert len(store.at(card["labelled_version"]).read_batch(batch_id)) == card["new_rows"] + ledger[
        "rows_recent_holdout"]
    assert card["new_rows"] == ledger["rows_accepted"] + ledger["rows_superseding"] - ledger["rows_recent_holdout"]
    archived = sorted(p.name for p in layout.archive.glob(f"*/{batch_id}/*"))
    assert archived == sorted([f"{feed_file.name}.gz", "broken labels.csv.gz", "garbage.csv.gz"])
    assert list(layout.inbox.iterdir()) == [] and list(layout.processing.iterdir()) == []
    quarantine = layout.quarantine / batch_id
    assert "binary data" in read_json(quarantine / "garbage.csv.reason.json")["reason"]
    assert "unknown label 'Meh'" in (quarantine / "broken labels.csv.rejected.csv").read_text()

    # 2) the next batch must beat the champion by 0.5 macro-F1: impossible, so it is kept as rejected
    next_batch(layout, settings.train_file, 1000, settings.bootstrap_rows)
    states = run_dag(retrain_dag, {"force_promote": False, "min_improvement": 0.5})
    assert states["keep_champion"] == "success" and states["promote"] == "skipped"
    assert registry.champion_version() == second
    rejected = [c for c in registry.versions() if c["status"] == "rejected"]
    assert len(rejected) == 1 and "needed +0.5000" in rejected[0]["reason"]
    assert rejected[0]["metrics"]["max_abs_raw"] < 50  # continued boosting stayed sane

    # 3) nothing new: the sensor skips at once (no waiting for a timeout) and the whole run is skipped, not failed
    states = run_dag(retrain_dag, {"force_promote": False})
    assert states["sense_inbox"] == "skipped" and set(states.values()) == {"skipped"}
    assert registry.champion_version() == second


def test_annotators_relabelling_a_topic_promote_a_challenger_through_the_two_holdout_gate(
        pipeline_env, airflow_db, retrain_dag, small_dataset, tmp_path, monkeypatch):
    """A team reads every tweet about shops and stores as Extremely Negative from a batch on (and relabels its
    holdout the same way): the gate sees it on the recent window and promotes without a person."""
    policy = Policy("stores", r"\bstores?\b|\bshop", dict.fromkeys(LABELS, "Extremely Negative"),
                    start_batch=1, relabel_holdout=True)
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    header, rows = chronological_rows(small_dataset / "Corona_NLP_test.csv")
    (dataset / "Corona_NLP_test.csv").write_bytes(to_csv_bytes(header, policy.apply(header, rows)[0]))
    (dataset / "Corona_NLP_train.csv").symlink_to(small_dataset / "Corona_NLP_train.csv")
    monkeypatch.setenv("TWEET_SENTIMENT_DATASET_DIR", str(dataset))
    monkeypatch.setenv("TWEET_SENTIMENT_RECENT_WINDOW_MIN_ROWS", "60")
    settings = Settings.from_env()
    layout = settings.layout()
    registry = local_registry(layout.registry)
    bootstrap(settings, refit=False)
    first = registry.champion_version()

    header, rows = chronological_rows(settings.train_file)
    defaults = {"force_promote": False, "min_improvement": 0.005, "significance": 0.01, "tolerance": 0.005}
    for lo in (1000, 1500, 2000):
        batch, touched = policy.apply(header, rows[lo:lo + 500])
        assert touched > 50
        write_rows(layout.inbox, f"policy-{lo}.csv", header, batch)
        run_dag(retrain_dag, defaults)
        if registry.champion_version() != first:
            break
    champion = registry.card(registry.champion_version())
    assert champion["version"] != first, [c["reason"] for c in registry.versions()]
    assert champion["reason"].startswith("better: recent holdout") and "fixed holdout" in champion["reason"]
    significant = [g for g in champion["gate"].values() if g["p_value"] < 0.01 and g["gain"] >= 0.002]
    assert significant, champion["gate"]  # through one holdout or the other, without a person
    assert champion["gate"]["fixed"]["rows"] == 600 and champion["recent_metrics"]["rows"] >= 60
    window = LabelledStore(layout.labelled).recent_window(settings.recent_window_rows)
    assert set(window["text"]).isdisjoint(LabelledStore(layout.labelled).trainable()["text"])
