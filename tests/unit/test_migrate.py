"""``python -m tweet_sentiment migrate``: a data root written by the earlier code (a folder of ``<batch_id>.parquet``
files, archived CSVs uncompressed) converted to the Delta table and the compressed archive; rows, labels,
supersessions and the recent-holdout flags survive, a second run changes nothing, and a run that died between a
commit and the removal of its files is finished without a duplicate row."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest

from tweet_sentiment.__main__ import main
from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline import migrate as migrate_module
from tweet_sentiment.pipeline.migrate import migrate, old_batch_files
from tweet_sentiment.schema import STORE_COLUMN_DEFAULTS, STORE_COLUMNS
from tweet_sentiment.storage.archive import read_archived
from tweet_sentiment.storage.fs import DataLayout, write_bytes_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache
from tweet_sentiment.text import text_hash


def old_write_batch(folder, batch_id: str, rows: pd.DataFrame, columns=STORE_COLUMNS) -> None:
    """The earlier writer (git show 6b32e4b:include/tweet_sentiment/storage/labelled_store.py, over BatchStore):
    the store's columns (defaults where the rows lack one) as ``<folder>/<batch_id>.parquet``, written whole."""
    missing = {c: d for c, d in STORE_COLUMN_DEFAULTS.items() if c not in rows}
    frame = rows.assign(**missing).loc[:, list(columns)]
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_bytes_atomic(folder / f"{batch_id}.parquet", buf.getvalue())


def old_current(folder) -> pd.DataFrame:
    """What the earlier store called current: every file read, sorted by acceptance, the newest row per text."""
    frames = [pd.read_parquet(p).assign(**{c: d for c, d in STORE_COLUMN_DEFAULTS.items()
                                           if c not in pd.read_parquet(p)}) for p in sorted(folder.glob("*.parquet"))]
    rows = pd.concat(frames, ignore_index=True).sort_values(["ingested_at", "batch_id", "seq"], kind="stable")
    return rows[~rows["text_hash"].duplicated(keep="last")].reset_index(drop=True)


def _rows(batch_id: str, at: str, texts: list[str], labels: list[str], holdout: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": labels, "tweet_at": "16-03-2020",
                         "text_hash": [text_hash(t) for t in texts], "raw_text": texts, "source_file": "a.csv",
                         "source_row": range(1, len(texts) + 1), "batch_id": batch_id, "ingested_at": at,
                         "seq": range(len(texts)), "recent_holdout": holdout, "annotator": "ann",
                         "suggested_label": "", "review_id": "", "label_weight": 1.0})


@pytest.fixture
def old_root(tmp_path) -> Settings:
    """A data root as the earlier code left it: three batch files (the first from before the holdout columns),
    a relabel and an annotator's down-weighted row, and an archived CSV."""
    settings = dataclasses.replace(Settings(), data_root=str(tmp_path / "data"))
    layout = settings.layout()
    layout.ensure()
    first = _rows("b1", "", ["masks again", "shops open", "queue at dawn"], ["Negative", "Positive", "Neutral"],
                  [False] * 3)
    old_write_batch(layout.labelled, "b1", first.drop(columns=["ingested_at", "seq", "recent_holdout",
                                                                "annotator", "suggested_label", "review_id",
                                                                "label_weight"]),
                    columns=STORE_COLUMNS[:8])  # written before the later columns existed
    old_write_batch(layout.labelled, "b2", _rows("b2", "2026-01-02", ["shops open", "toilet roll gone"],
                                                 ["Negative", "Negative"], [False, True]))
    third = _rows("b3", "2026-01-03", ["queue at dawn", "vaccine news"], ["Positive", "Positive"], [True, False])
    old_write_batch(layout.labelled, "b3", third.assign(label_weight=[1.0, 0.2]))
    write_bytes_atomic(layout.archive / "2026-01-03" / "b3" / "b3.csv", b"UserName,OriginalTweet\n1,hi\n")
    buf = io.BytesIO()  # the earlier vector cache's shard: hashes as 64 characters, float32 vectors
    np.savez(buf, hashes=np.asarray(list(OLD_VECTORS), dtype="<U64"), vectors=np.stack(list(OLD_VECTORS.values())))
    write_bytes_atomic(layout.embeddings / settings.embedding_model / "1-abc.npz", buf.getvalue())
    return settings


OLD_VECTORS = {text_hash(t): np.linspace(-1, 1, 8, dtype=np.float32) * (k + 1)
               for k, t in enumerate(["masks again", "shops open"])}


def test_migration_keeps_rows_labels_supersessions_and_holdout_flags(old_root):
    layout = old_root.layout()
    before = old_current(layout.labelled)
    done = migrate(old_root)
    assert done["labelled_rows"] == {"batch_files": 3, "rows": 7, "version": 0}
    assert old_batch_files(layout.labelled) == []  # removed once committed
    store = LabelledStore(layout.labelled)
    assert len(store.read_all()) == 7 and store.batch_ids() == ["b1", "b2", "b3"]
    after = store.current()
    pd.testing.assert_frame_equal(after.loc[:, list(STORE_COLUMNS)], before.loc[:, list(STORE_COLUMNS)],
                                  check_dtype=False)
    assert after.set_index("text")["label"].to_dict() == {
        "masks again": "Negative", "shops open": "Negative", "toilet roll gone": "Negative",
        "queue at dawn": "Positive", "vaccine news": "Positive"}  # the relabels won
    assert store.recent_window(10)["text"].tolist() == ["toilet roll gone", "queue at dawn"]
    assert store.trainable().set_index("text")["label_weight"].to_dict() == {
        "masks again": 1.0, "shops open": 1.0, "vaccine news": 0.2}
    assert read_archived(layout.archive / "2026-01-03" / "b3" / "b3.csv.gz") == b"UserName,OriginalTweet\n1,hi\n"
    assert not (layout.archive / "2026-01-03" / "b3" / "b3.csv").exists()
    again = migrate(old_root)  # idempotent
    assert again["labelled_rows"] == {"batch_files": 0, "rows": 0, "version": 0}
    assert again["archive"] == {"files_compressed": 0} and len(store.read_all()) == 7


def test_migration_converts_the_feature_cache_and_the_registry_too(old_root):
    layout = old_root.layout()
    done = migrate(old_root)
    assert done["vectors"] == {"vectors_by_namespace": {old_root.embedding_model: 2}}
    cache = VectorCache(layout.embeddings, old_root.embedding_model)
    np.testing.assert_allclose(cache.get(list(OLD_VECTORS)), np.stack(list(OLD_VECTORS.values())), atol=2e-3)
    assert not list((layout.embeddings / old_root.embedding_model).glob("*.npz"))
    assert done["registry"] == {"versions_indexed": 0, "history_entries": 0, "champion": None}  # none yet
    assert set(done) == {"labelled_rows", "archive", "vectors", "registry", "labelling",
                         "scored_stream"}
    assert migrate(old_root)["vectors"] == {"vectors_by_namespace": {}}


def test_a_migration_that_died_after_its_commit_finishes_without_duplicates(old_root, monkeypatch):
    layout = old_root.layout()
    kept = {p.name: p.read_bytes() for p in old_batch_files(layout.labelled)}
    monkeypatch.setattr(migrate_module, "BATCHES_PER_COMMIT", 2)
    migrate(old_root)
    for name, data in kept.items():  # as if the run died after committing, before removing the files
        write_bytes_atomic(layout.labelled / name, data)
    lines: list[str] = []
    migrate(old_root, lines.append)
    assert len(LabelledStore(layout.labelled).read_all()) == 7 and old_batch_files(layout.labelled) == []
    assert "labelled rows: 2/3 batch files converted (0 rows)" in lines  # progress, nothing appended again


def test_the_command_converts_the_data_root_it_is_given(old_root, monkeypatch, capsys):
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", old_root.data_root)
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "labelled rows: 3/3 batch files converted (7 rows)" in out and "archive: 2026-01-03 done" in out
    assert len(LabelledStore(DataLayout(old_root.data_root).labelled).read_all()) == 7
