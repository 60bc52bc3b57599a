"""The labelled store on its Delta table: each targeted question answers what the whole store, read in pandas,
would (the newest row of a text by (ingested_at, batch_id, seq) wins), and each write is one commit."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upath import UPath

from tweet_sentiment.schema import STORE_COLUMNS
from tweet_sentiment.storage.labelled_store import COMPACT_ORDER, LabelledStore
from tweet_sentiment.text import text_hash

LABELS = ["Negative", "Neutral", "Positive"]


def _batch(batch_id: str, at: str, texts: list[str], labels: list[str], holdout: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({
        "text": texts, "label": labels, "tweet_at": "", "text_hash": [text_hash(t) for t in texts],
        "raw_text": texts, "source_file": "f.csv", "source_row": range(1, len(texts) + 1), "batch_id": batch_id,
        "ingested_at": at, "seq": range(len(texts)), "recent_holdout": holdout, "annotator": "",
        "suggested_label": "", "review_id": "", "label_weight": 1.0})


# a history: batches of (text number, label number), texts drawn from a small pool so that many are relabelled
_HISTORY = st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=12,
                             unique_by=lambda r: r[0]), min_size=1, max_size=6)


def _fill(store: LabelledStore, history: list[list[tuple[int, int]]]) -> None:
    for b, rows in enumerate(history):
        texts = [f"text {t}" for t, _ in rows]
        store.write_batch(f"b{b}", _batch(f"b{b}", f"2026-01-0{b + 1}", texts, [LABELS[k] for _, k in rows],
                                          [t % 4 == 0 for t, _ in rows]))  # the flag: a function of the text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=_HISTORY, asked=st.lists(st.integers(0, 35), max_size=10), window=st.integers(1, 20))
def test_targeted_questions_answer_as_the_whole_store_would(tmp_path_factory, history, asked, window):
    store = LabelledStore(UPath(tmp_path_factory.mktemp("labelled")))
    _fill(store, history)
    everything = store.read_all()
    current = everything.drop_duplicates("text_hash", keep="last")  # read_all is oldest first
    last = history[-1] and f"b{len(history) - 1}"
    hashes = [text_hash(f"text {t}") for t in asked]
    earlier = everything[everything["batch_id"] != last].drop_duplicates("text_hash", keep="last")
    expected = {h: (lab, f"batch {b}") for h, lab, b in earlier[["text_hash", "label", "batch_id"]].itertuples(
        index=False) if h in hashes}
    assert store.known_labels(hashes, exclude={last}) == expected
    holdout = current[current["recent_holdout"]]
    assert store.recent_window(window)["text_hash"].tolist() == holdout.tail(window)["text_hash"].tolist()
    trainable = current[~current["recent_holdout"] & (current["batch_id"] != last)]
    sample = store.replay_sample(5, seed=3, exclude={last})
    assert len(sample) == min(5, len(trainable)) and sample["text_hash"].is_unique
    assert set(sample["text_hash"]) <= set(trainable["text_hash"])
    pd.testing.assert_frame_equal(sample, store.replay_sample(5, seed=3, exclude={last}))  # fixed by its seed
    narrow = store.replay_sample(5, seed=3, exclude={last}, columns=["text", "label"])  # the same rows, two columns
    pd.testing.assert_frame_equal(narrow, sample.loc[:, ["text", "label"]])
    assert store.trainable()["text_hash"].tolist() == current[~current["recent_holdout"]]["text_hash"].tolist()


# batches of (text number, label number, in the holdout): a text may leave or join the holdout when relabelled
_FLAGGED = st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2), st.booleans()), min_size=1,
                             max_size=12, unique_by=lambda r: r[0]), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=_FLAGGED, days=st.lists(st.integers(1, 3), min_size=6, max_size=6), window=st.integers(1, 4))
def test_the_recent_window_read_since_its_oldest_row_is_the_whole_stores(tmp_path_factory, history, days, window):
    """Batches share ingested_at values or arrive out of order, and relabelled texts leave the holdout: the window
    read among the newest rows only (widened when too many were superseded) equals the one a full read gives."""
    store = LabelledStore(UPath(tmp_path_factory.mktemp("labelled")))
    for b, rows in enumerate(history):
        texts = [f"text {t}" for t, _, _ in rows]
        store.write_batch(f"b{b}", _batch(f"b{b}", f"2026-01-0{days[b]}", texts, [LABELS[k] for _, k, _ in rows],
                                          [flag for _, _, flag in rows]))
    current = store.read_all().drop_duplicates("text_hash", keep="last")
    expected = current[current["recent_holdout"]].tail(window).reset_index(drop=True)
    pd.testing.assert_frame_equal(store.recent_window(window), expected)


def test_the_recent_window_widens_past_newest_holdout_rows_that_were_relabelled_out_of_it(tmp_path):
    store = LabelledStore(UPath(tmp_path) / "labelled")
    old, new = [f"a{i}" for i in range(6)], [f"h{i}" for i in range(4)]
    store.write_batch("b0", _batch("b0", "2026-01-01", old, ["Neutral"] * 6, [True] * 6))
    store.write_batch("b1", _batch("b1", "2026-01-02", new, ["Neutral"] * 4, [True] * 4))
    store.write_batch("b2", _batch("b2", "2026-01-03", new, ["Positive"] * 4, [False] * 4))  # out of the holdout
    assert store.recent_window(2)["text"].tolist() == ["a4", "a5"]
    since = store.newest_of([text_hash(t) for t in ["a0", "h0"]], since="2026-01-01")
    assert sorted(since["text"]) == ["a0", "h0"] and since["batch_id"].tolist().count("b2") == 1
    assert store.newest_of([text_hash("a0")], since="2026-01-02").empty


def test_each_write_is_one_commit_and_a_version_reads_as_it_was(tmp_path):
    store = LabelledStore(UPath(tmp_path) / "labelled")
    assert store.version() is None and store.batch_ids() == [] and store.recent_window(5).empty
    assert store.write_batch("b1", _batch("b1", "1", ["a", "b"], ["Neutral", "Positive"], [False, False])) == 0
    assert store.write_batch("b2", _batch("b2", "2", ["a", "c"], ["Negative", "Neutral"], [False, True])) == 1
    assert store.write_batch("b2", _batch("b2", "2", ["a"], ["Negative"], [False])) == 2  # a retry replaces it
    assert store.current().set_index("text")["label"].to_dict() == {"b": "Positive", "a": "Negative"}
    store.drop_batch("b2")
    assert store.version() == 3 and store.batch_ids() == ["b1"]
    assert list(store.read_batch("b1").columns) == list(STORE_COLUMNS)
    assert store.rows.query("SELECT count(*) FROM rows", version=1).column(0)[0].as_py() == 4


def test_after_compaction_a_question_about_some_hashes_reads_only_their_files(tmp_path):
    store = LabelledStore(UPath(tmp_path) / "labelled")
    texts = [f"tweet number {i}" for i in range(4000)]
    for b in range(8):
        part = texts[b * 500:(b + 1) * 500]
        store.write_batch(f"b{b}", _batch(f"b{b}", str(b), part, ["Neutral"] * 500, [False] * 500))
    asked = [text_hash(texts[7]), text_hash(texts[3999])]
    assert len(store.rows.files(prune=("text_hash", asked))) == 8  # each batch's file spans the hash range
    store.rows.compact(COMPACT_ORDER, target_bytes=64 * 1024)
    files = store.rows.files()
    assert len(files) >= 4
    assert len(store.rows.files(prune=("text_hash", asked))) <= 2 < len(files)
    assert set(store.known_labels(asked)) == set(asked)
    assert len(store.read_all()) == 4000


def test_a_pinned_store_reads_its_snapshot_whatever_is_committed_after(tmp_path):
    store = LabelledStore(UPath(tmp_path) / "labelled")
    store.write_batch("b1", _batch("b1", "1", ["a", "b"], ["Neutral", "Positive"], [False, False]))
    pinned = store.at(store.version())
    store.write_batch("b2", _batch("b2", "2", ["a", "c"], ["Negative", "Neutral"], [False, False]))
    assert pinned.version() == 0 and store.version() == 1
    assert pinned.batch_ids() == ["b1"] and pinned.trainable()["label"].tolist() == ["Neutral", "Positive"]
    assert pinned.known_labels([text_hash("a")]) == {text_hash("a"): ("Neutral", "batch b1")}
    assert len(pinned.replay_sample(10, seed=1)) == 2 and len(store.replay_sample(10, seed=1)) == 3


def test_training_rows_reads_the_batch_and_a_replay_a_refit_streams_every_trainable_row(tmp_path):
    from tweet_sentiment.pipeline.challenger import training_rows

    store = LabelledStore(UPath(tmp_path) / "labelled")
    for b in range(3):
        texts = [f"text {b} {i}" for i in range(10)] + (["shared"] if b else [])  # "shared": relabelled in b2
        store.write_batch(f"b{b}", _batch(f"b{b}", str(b), texts, ["Neutral"] * len(texts),
                                          [i == 0 for i in range(len(texts))]))
    rows, new = training_rows(store, "b2", replay_rows=5, seed=1)
    assert sorted(new["text"]) == sorted([f"text 2 {i}" for i in range(1, 10)] + ["shared"])  # holdout row out
    assert len(rows) == len(new) + 5 and (new["batch_age"] == 0).all()
    replay = rows.iloc[len(new):]
    assert set(replay["batch_id"]) <= {"b0", "b1"} and "shared" not in set(replay["text"])  # superseded by b2
    assert (replay["batch_age"] == replay["batch_id"].map({"b0": 2, "b1": 1})).all()
    chunks = list(store.trainable_chunks(["text", "batch_id"], rows=4))
    everything = pd.concat(chunks, ignore_index=True)
    assert len(chunks) > 1 and all(len(c) <= 4 for c in chunks)
    assert len(everything) == 3 * 9 + 1 and everything["text"].is_unique  # holdout rows out, "shared" once
    assert everything["text"].tolist() == store.trainable(["text"])["text"].tolist()
    newest = pd.concat(store.trainable_chunks(["text", "batch_id"], batch_ids=["b1", "b2"]), ignore_index=True)
    assert newest["text"].tolist() == everything.loc[everything["batch_id"] != "b0", "text"].tolist()
    assert "shared" in set(newest["text"])  # its current row (b2's)
    sample = store.trainable_sample(6, seed=3, columns=["text"])["text"].tolist()
    assert len(sample) == 6 and set(sample) <= set(everything["text"])
    assert sample == store.trainable_sample(6, seed=3, columns=["text"])["text"].tolist()  # the same draw
    assert sorted(store.trainable_sample(100, seed=3)["text"]) == sorted(everything["text"])  # fewer: all
