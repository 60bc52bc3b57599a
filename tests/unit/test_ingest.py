import json
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from tweet_sentiment.intake.claim import batch_id_for, claim, ready_files
from tweet_sentiment.intake.labelled import FileRejected, RecentHoldout, ingest_batch, parse_labelled_file
from tweet_sentiment.model.boosting import validation_mask
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import in_hash_slice

HEADER = "UserName,ScreenName,Location,TweetAt,OriginalTweet,Sentiment\r\n"


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\r\n" for r in rows)).encode()


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def test_parse_accepts_clean_rows_and_quarantines_bad_ones_with_row_and_reason():
    data = csv_bytes(
        '1,2,UK,16-03-2020,"Shelves empty @bob https://t.co/x",Negative',
        '3,4,,16-03-2020,"fine day",positive ',  # label case/space normalised
        '5,6,,16-03-2020,"hello",Postive',  # misspelled label
        '7,8,,16-03-2020,"@only https://t.co/y",Neutral',  # empty after cleaning
        '9,10,,16-03-2020,"too, many",Neutral,extra',  # wrong field count
    )
    parsed = parse_labelled_file("a.csv", data, max_text_chars=1000)
    assert [(r["text"], r["label"], r["tweet_at"]) for r in parsed.rows] == [
        ("Shelves empty", "Negative", "2020-03-16"), ("fine day", "Positive", "2020-03-16")]
    reasons = {r.source_row: (r.column, r.reason) for r in parsed.rejections}
    assert reasons[3][0] == "Sentiment" and "unknown label 'Postive'" in reasons[3][1]
    assert reasons[4] == ("OriginalTweet", "empty text after cleaning")
    assert reasons[5] == ("*", "expected 6 fields, found 7")
    assert parsed.rows_in == 5


def test_parse_keeps_multiline_tweets_and_reports_lines():
    parsed = parse_labelled_file("m.csv", csv_bytes('1,2,,16-03-2020,"line one\r\r\n\r\r\nline two",Neutral'), 1000)
    assert parsed.rows[0]["text"] == "line one line two"
    assert parsed.rows[0]["line"] == 2  # the line the row starts on; it ends on line 6


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file (0 bytes)"),
    (b"\x00\x01\x02garbage", "binary data"),
    (HEADER.encode(), "header only"),
    (b"text,label\r\nhello,Positive\r\n", "missing column(s) OriginalTweet, Sentiment"),
])
def test_parse_rejects_whole_files_that_cannot_be_trusted(data, reason):
    with pytest.raises(FileRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_labelled_file("bad.csv", data, 1000)


def test_parse_rejects_overlong_text():
    parsed = parse_labelled_file("long.csv", csv_bytes(f'1,2,,16-03-2020,"{"x" * 50}",Neutral'), max_text_chars=20)
    assert parsed.rejections[0].reason == "text of 50 characters exceeds the limit of 20"


def test_ready_files_skips_dot_files_and_files_still_settling(layout):
    (layout.inbox / ".incoming.csv.tmp").write_bytes(b"x")
    old = layout.inbox / "old.csv"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 60, time.time() - 60))
    (layout.inbox / "fresh.csv").write_bytes(b"x")
    assert [p.name for p in ready_files(layout.inbox, settle_s=10)] == ["old.csv"]


def test_claim_and_ingest_account_for_every_row_and_quarantine_bad_files(layout):
    (layout.inbox / "good.csv").write_bytes(csv_bytes(
        '1,2,,16-03-2020,"one",Neutral', '1,2,,16-03-2020,"one",Neutral', '1,2,,16-03-2020,"two",Nope'))
    (layout.inbox / "bad.csv").write_bytes(b"a,b\r\n1,2\r\n3,4\r\n")
    (layout.inbox / "notes.txt").write_bytes(b"hello")
    assert claim(layout, "b1", settle_s=0) == ["bad.csv", "good.csv", "notes.txt"]
    assert list(layout.inbox.iterdir()) == []
    entry = ingest_batch(layout, "b1", 1000)
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (5, 1, 4)
    assert entry["files_rejected"] == 2
    assert json.loads((layout.ledger / "b1.json").read_text()) == entry
    rejected = pd.read_csv(layout.quarantine / "b1" / "good.csv.rejected.csv")
    assert sorted(rejected["reason"].str.slice(0, 14)) == ["duplicate text", "unknown label "]
    assert "missing column" in json.loads((layout.quarantine / "b1" / "bad.csv.reason.json").read_text())["reason"]
    assert (layout.quarantine / "b1" / "notes.txt").read_bytes() == b"hello"
    assert LabelledStore(layout.labelled).read_batch("b1")["text"].tolist() == ["one"]
    # a retried task returns the same ledger entry and ingests nothing twice
    assert ingest_batch(layout, "b1", 1000) == entry


def ingest_rows(layout, batch_id: str, *rows: str, holdout: RecentHoldout | None = None) -> dict:
    """One finished (archived) batch of ``rows``."""
    (layout.inbox / f"{batch_id}.csv").write_bytes(csv_bytes(*rows))
    claim(layout, batch_id, 0)
    entry = ingest_batch(layout, batch_id, 1000, holdout=holdout or RecentHoldout())
    shutil.rmtree(layout.processing / batch_id)
    return entry


def test_the_same_text_with_the_same_label_again_is_a_duplicate(layout):
    ingest_rows(layout, "b1", '1,2,,16-03-2020,"same text",Neutral')
    entry = ingest_rows(layout, "b2", '1,2,,16-03-2020,"same  text",Neutral')
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_superseding"], entry["rows_quarantined"]) == (
        1, 0, 0, 1)
    assert "already in batch b1" in pd.read_csv(layout.quarantine / "b2" / "b2.csv.rejected.csv")["reason"][0]


def test_the_newest_label_of_a_text_wins_and_the_history_is_kept(layout):
    ingest_rows(layout, "b1", '1,2,,16-03-2020,"tested positive today",Positive',
                '1,2,,16-03-2020,"other",Neutral')
    entry = ingest_rows(layout, "b2", '1,2,,17-03-2020,"tested  positive today",Negative')
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_superseding"], entry["rows_quarantined"]) == (
        1, 0, 1, 0)
    entry = ingest_rows(layout, "b3", '1,2,,18-03-2020,"tested positive today",Positive',  # back again
                        '1,2,,18-03-2020,"other",Extremely Negative', '1,2,,18-03-2020,"other",Negative')
    assert (entry["rows_accepted"], entry["rows_superseding"], entry["rows_quarantined"]) == (0, 3, 0)
    store = LabelledStore(layout.labelled)
    assert len(store.read_all()) == 6  # every row kept: the history
    current = store.current().set_index("text")["label"].to_dict()
    assert current == {"tested positive today": "Positive", "other": "Negative"}
    assert set(store.trainable()["text"]) == {"tested positive today", "other"}


def test_a_batch_of_only_supersessions_balances(layout):
    ingest_rows(layout, "b1", '1,2,,16-03-2020,"a",Neutral', '1,2,,16-03-2020,"b",Neutral')
    entry = ingest_rows(layout, "b2", '1,2,,16-03-2020,"a",Positive', '1,2,,16-03-2020,"b",Positive')
    assert entry["rows_in"] == entry["rows_superseding"] == 2 and entry["rows_accepted"] == 0


def test_the_recent_holdout_is_a_deterministic_salted_slice_never_trained_on(layout):
    texts = [f"tweet number {i} about masks" for i in range(400)]
    rows = [f'1,2,,16-03-2020,"{t}",Neutral' for t in texts]
    holdout = RecentHoldout(0.15, "salt-a")
    entry = ingest_rows(layout, "b1", *rows, holdout=holdout)
    store = LabelledStore(layout.labelled)
    flagged = set(store.read_batch("b1").query("recent_holdout")["text"])
    assert entry["rows_recent_holdout"] == len(flagged) and 35 <= len(flagged) <= 85  # ~15 % of 400
    hashes = store.read_batch("b1")["text_hash"].tolist()
    assert in_hash_slice(hashes, 0.15, "salt-a").tolist() == in_hash_slice(hashes, 0.15, "salt-a").tolist()
    assert set(store.trainable()["text"]).isdisjoint(flagged)
    assert set(store.recent_window(1000)["text"]) == flagged
    other_salt = set(np.array(hashes)[in_hash_slice(hashes, 0.15, "salt-b")])
    validation = set(np.array(hashes)[validation_mask(hashes, 0.1)])
    flagged_hashes = set(store.read_batch("b1").query("recent_holdout")["text_hash"])
    assert other_salt != flagged_hashes and validation != flagged_hashes  # independent slices
    # a slice text sent again with another label: still in the slice, its newest label counts
    again = next(t for t in texts if t in flagged)
    ingest_rows(layout, "b2", f'1,2,,17-03-2020,"{again}",Negative', holdout=holdout)
    window = store.recent_window(1000).set_index("text")["label"]
    assert window[again] == "Negative" and again not in set(store.trainable()["text"])
    assert len(store.recent_window(10)) == 10 and store.recent_window(10)["text"].iloc[-1] == again


def test_rows_stored_before_the_holdout_existed_are_trainable(layout):
    frame = pd.DataFrame({"text": ["old"], "label": ["Neutral"], "tweet_at": [""], "text_hash": ["ab" * 32],
                          "raw_text": ["old"], "source_file": ["x.csv"], "source_row": [1], "batch_id": ["old"]})
    store = LabelledStore(layout.labelled)
    store.write_batch("old", frame)  # rows without the later columns hold their defaults (the migration's too)
    assert store.trainable()["text"].tolist() == ["old"] and store.recent_window(100).empty


def test_claim_takes_over_a_dead_runs_batch_once(layout):
    (layout.inbox / "a.csv").write_bytes(csv_bytes('1,2,,16-03-2020,"kept text",Neutral'))
    claim(layout, "dead", 0)
    ingest_batch(layout, "dead", 1000)  # the run died after ingesting, before archiving
    claim(layout, "next", 0)
    assert not (layout.processing / "dead").exists()
    entry = ingest_batch(layout, "next", 1000)
    assert entry["rows_accepted"] == 1  # not quarantined as a duplicate of the dead batch
    assert LabelledStore(layout.labelled).batch_ids() == ["next"]
    assert json.loads((layout.ledger / "dead.json").read_text())["superseded_by"] == "next"


def test_batch_id_for_run_ids_is_file_name_safe():
    assert batch_id_for("manual__2026-11-29T19:52:48.346688+00:00") == "manual__2026-11-29T19_52_48.346688_00_00"


def test_a_row_with_a_nul_byte_past_the_binary_check_is_quarantined_never_stored():
    """Found by Hypothesis (test_fuzz_intake): a stored NUL made the review CSV of its held row a 'binary' file."""
    filler = [f'1,2,,16-03-2020,"filler tweet number {i} {"x" * 80}",Neutral' for i in range(700)]
    parsed = parse_labelled_file("n.csv", csv_bytes(*filler, '1,2,,16-03-2020,"a\x00b",Neutral'), 1000)
    assert len(csv_bytes(*filler)) > 65536 and parsed.rows_in == 701
    [rejected] = parsed.rejections
    assert (rejected.source_row, rejected.reason) == (701, "NUL byte in the row (binary data, not text)")
