"""Backup and restore of a data root (pipeline/backup.py): a backup taken at a version, more writes after it,
and the restored root reads as at the backup (rows, registry files, archive); a restore never overwrites."""

from __future__ import annotations

import pandas as pd
import pytest
from upath import UPath

from tweet_sentiment.pipeline.backup import copy_root, restore_root
from tweet_sentiment.storage.fs import DataLayout, write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import text_hash


def _batch(store: LabelledStore, batch_id: str, texts: list[str], label: str) -> None:
    store.write_batch(batch_id, pd.DataFrame({
        "text": texts, "label": label, "tweet_at": "", "text_hash": [text_hash(t) for t in texts], "raw_text": texts,
        "source_file": "f.csv", "source_row": range(len(texts)), "batch_id": batch_id, "ingested_at": batch_id,
        "seq": range(len(texts))}))


def test_a_restored_backup_reads_as_at_the_backup(tmp_path):
    layout = DataLayout(str(tmp_path / "data"))
    layout.ensure()
    store = LabelledStore(layout.labelled)
    _batch(store, "b1", ["one", "two"], "Neutral")
    _batch(store, "b2", ["two", "three"], "Positive")
    write_json_atomic(layout.registry / "champion.json", {"version": "v1"})
    at_backup, version = store.current(), store.version()
    lines: list[str] = []
    copied = copy_root(UPath(layout.root), UPath(tmp_path / "backup"), lines.append)
    assert copied == len([p for p in (tmp_path / "data").rglob("*") if p.is_file()]) and "files copied" in lines[-1]

    _batch(store, "b3", ["one"], "Negative")  # after the backup: a relabel, a label-check rewrite, a drop
    _batch(store, "b2", ["three"], "Positive")
    store.drop_batch("b1")
    write_json_atomic(layout.registry / "champion.json", {"version": "v2"})
    store.rows.compact(["text_hash"])

    restored = DataLayout(str(tmp_path / "restored"))
    restore_root(UPath(tmp_path / "backup"), UPath(restored.root), lines.append)
    again = LabelledStore(restored.labelled)
    assert again.version() == version
    pd.testing.assert_frame_equal(again.current(), at_backup)
    assert again.known_labels([text_hash("one")]) == {text_hash("one"): ("Neutral", "batch b1")}
    assert (restored.registry / "champion.json").read_text().count("v1") == 1
    with pytest.raises(FileExistsError, match="not empty"):
        restore_root(UPath(tmp_path / "backup"), UPath(layout.root))


def test_the_commands_back_up_and_restore_the_configured_data_root(tmp_path, monkeypatch, capsys):
    from tweet_sentiment.__main__ import main

    layout = DataLayout(str(tmp_path / "data"))
    _batch(LabelledStore(layout.labelled), "b1", ["one"], "Neutral")
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    assert main(["backup", str(tmp_path / "backup")]) == 0
    assert main(["restore", str(tmp_path / "backup")]) == 2  # the data root is not empty
    assert "not empty" in capsys.readouterr().err
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "restored"))
    assert main(["restore", str(tmp_path / "backup")]) == 0
    assert LabelledStore(DataLayout(str(tmp_path / "restored")).labelled).batch_ids() == ["b1"]
