"""The questions the engine comparison asks (benchmarks/scale/engine_queries.py) answer what the labelled store
answers today: the current label of given texts, the newest recent-holdout rows, a replay sample of current
trainable rows; through DuckDB over the store's parquet files and through Delta Lake."""

import duckdb
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, write_deltalake

from benchmarks.scale.engine_queries import (
    current_labels_sql,
    hashed_sample,
    recent_window_sql,
    replay_sql,
    reservoir_sample,
)
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import text_hash


def _store(tmp_path) -> LabelledStore:
    """Three batches; every fifth text of a later batch relabels an earlier one; a third of the texts held out."""
    store = LabelledStore(tmp_path / "labelled")
    texts = [f"text {i}" for i in range(90)]
    for b in range(3):
        own = texts[30 * b:30 * (b + 1)]
        relabels = [texts[i] for i in range(0, 30 * b, 5)]
        rows = own + relabels
        store.write_batch(f"b{b}", pd.DataFrame({
            "text": rows, "label": [LABELS[(b + i) % 5] for i in range(len(rows))],
            "text_hash": [text_hash(t) for t in rows], "batch_id": f"b{b}",
            "ingested_at": f"2026-01-0{b + 1}T00:00:00", "seq": range(len(rows)),
            "recent_holdout": [int(t.split()[1]) % 3 == 0 for t in rows], "tweet_at": "", "raw_text": rows,
            "source_file": f"b{b}.csv", "source_row": range(1, len(rows) + 1)}))
    return store


def _ask(tmp_path, store: LabelledStore, sql_of) -> dict[str, pd.DataFrame]:
    glob = str(store.folder / "*.parquet")
    write_deltalake(tmp_path / "delta", pa.Table.from_pandas(store.read_all(), preserve_index=False))
    builder = QueryBuilder().register("t", DeltaTable(str(tmp_path / "delta")))
    return {"duckdb": duckdb.sql(sql_of(f"read_parquet('{glob}')", "duckdb")).df(),
            "delta": pa.table(builder.execute(sql_of("t", "delta")).read_all()).to_pandas()}


def test_current_labels_are_the_newest_rows(tmp_path):
    store = _store(tmp_path)
    current = store.current().set_index("text_hash")["label"]
    hashes = [*current.index[::4], text_hash("never stored")]
    for engine, answer in _ask(tmp_path, store, lambda t, _: current_labels_sql(t, hashes)).items():
        assert answer.set_index("text_hash")["label"].sort_index().to_dict() == \
            current[hashes[:-1]].sort_index().to_dict(), engine


def test_recent_window_is_the_newest_current_holdout_rows(tmp_path):
    store = _store(tmp_path)
    expected = store.recent_window(12)["text_hash"].tolist()
    for engine, answer in _ask(tmp_path, store, lambda t, _: recent_window_sql(t, 12)).items():
        assert answer["text_hash"].tolist()[::-1] == expected, engine


def test_replay_sample_holds_only_current_trainable_rows(tmp_path):
    store = _store(tmp_path)
    trainable = store.trainable()
    keys = set(zip(trainable["text_hash"], trainable["label"], strict=True))
    samples = {"duckdb": reservoir_sample, "delta": hashed_sample}
    answers = _ask(tmp_path, store, lambda t, engine: replay_sql(t, samples[engine](t, 40), 30))
    for engine, answer in answers.items():
        assert len(answer) == 30 and answer["text_hash"].is_unique, engine
        assert set(zip(answer["text_hash"], answer["label"], strict=True)) <= keys, engine


def test_the_comparison_converts_a_history_of_the_current_format_and_every_candidate_answers(tmp_path):
    """engines.prepare reads the history's Delta table and Lance vectors (not the old batch files and shards);
    each candidate engine answers the cycle's questions alike on what it converted."""
    import dataclasses
    import json

    import numpy as np

    from benchmarks.scale import engines
    from benchmarks.scale.engine_queries import ENGINES
    from tweet_sentiment.config import Settings
    from tweet_sentiment.storage.vector_cache import VectorCache

    settings = dataclasses.replace(Settings.from_env(), data_root=str(tmp_path / "data"),
                                   cache_root=str(tmp_path / "cache"))
    store = _store(tmp_path)
    labelled = LabelledStore(settings.layout().labelled)
    every = store.read_all()
    labelled.append_batches(every)
    hashes = sorted(set(every["text_hash"]))
    VectorCache(settings.layout().embeddings, settings.embedding_model).put(hashes, np.ones((len(hashes), 4)))
    prepared = engines.prepare(settings, tmp_path / "engines")
    assert prepared["rows"] == len(every) and prepared["vectors"] == len(hashes)
    assert prepared["bytes"]["labelled"] > 0
    folder = tmp_path / "engines"
    probe = json.loads((folder / "probe.json").read_text())
    current = store.current().set_index("text_hash")["label"]
    known = sum(h in current.index for h in probe["hashes"])
    for name, (answerer, questions) in ENGINES.items():
        run = answerer(folder)
        for question in questions:
            rows = run(question, probe)
            if question in ("current_labels", "vectors_of_hashes"):
                assert rows == known, name
            elif question == "recent_window":
                assert rows == min(900, len(store.recent_window(900))), name
