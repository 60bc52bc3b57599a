"""Housekeeping without Airflow: the labelled table's small files compacted (ordered by hash), versions older
than the retention expired and their files vacuumed, the rows unchanged; every store's maintenance registered by
name."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from tweet_sentiment.__main__ import main
from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.housekeeping import MAINTENANCE, run_maintenance
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import text_hash


def _fill(settings: Settings, batches: int = 6) -> LabelledStore:
    store = LabelledStore(settings.layout().labelled)
    for b in range(batches):
        texts = [f"tweet {b} {i}" for i in range(50)] + ["the same text"]  # relabelled by every batch
        store.write_batch(f"b{b}", pd.DataFrame({
            "text": texts, "label": ["Neutral"] * 50 + ["Positive" if b % 2 else "Neutral"], "tweet_at": "",
            "text_hash": [text_hash(t) for t in texts], "raw_text": texts, "source_file": "f.csv",
            "source_row": range(len(texts)), "batch_id": f"b{b}", "ingested_at": f"2026-01-0{b + 1}",
            "seq": range(len(texts)), "recent_holdout": False}))
    return store


@pytest.fixture
def settings(tmp_path) -> Settings:
    return dataclasses.replace(Settings(), data_root=str(tmp_path / "data"))


def test_compaction_and_expiry_keep_every_row_and_leave_few_files(settings):
    store = _fill(settings)
    before, current = store.read_all(), store.current()
    assert len(store.rows.files()) == 6
    done = run_maintenance(dataclasses.replace(settings, table_retention_hours=0), "labelled_rows")
    assert done["files_removed"] == 6 and done["files"] == done["files_added"] == 1 and done["files_vacuumed"] == 6
    pd.testing.assert_frame_equal(store.read_all(), before)
    pd.testing.assert_frame_equal(store.current(), current)
    assert store.current().set_index("text")["label"]["the same text"] == "Positive"  # b5 (odd) won
    with pytest.raises(ValueError, match="no longer kept"):
        store.rows.query("SELECT count(*) FROM rows", version=2)  # older than the retention: expired


def test_versions_within_the_retention_stay_readable(settings):
    store = _fill(settings)
    run_maintenance(settings, "labelled_rows")  # the default retention: a week
    assert store.rows.query("SELECT count(*) FROM rows", version=2).column(0)[0].as_py() == 3 * 51
    assert len(store.read_all()) == 6 * 51


def test_an_empty_store_has_nothing_to_keep_and_an_unknown_name_is_refused(settings):
    assert run_maintenance(settings, "labelled_rows") == {"version": None, "reason": "no labelled rows yet"}
    assert MAINTENANCE[0].name == "labelled_rows"
    with pytest.raises(KeyError, match="labelled_rows"):
        run_maintenance(settings, "nothing")


def test_the_command_runs_every_maintenance(settings, monkeypatch, capsys):
    _fill(settings, 2)
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", settings.data_root)
    assert main(["housekeeping"]) == 0
    assert '"files_removed": 2' in capsys.readouterr().out
