import json
import os
import shutil
import time

import pandas as pd
import pytest

from tweet_sentiment.claim import batch_id_for, claim, ready_files
from tweet_sentiment.datafs import DataLayout
from tweet_sentiment.ingest import FileRejected, ingest_batch, parse_labelled_file
from tweet_sentiment.labelled_store import LabelledStore

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


def test_duplicates_across_batches_are_quarantined(layout):
    (layout.inbox / "a.csv").write_bytes(csv_bytes('1,2,,16-03-2020,"same text",Neutral'))
    claim(layout, "b1", 0)
    ingest_batch(layout, "b1", 1000)
    shutil.rmtree(layout.processing / "b1")  # b1 finished (archived)
    (layout.inbox / "b.csv").write_bytes(csv_bytes('1,2,,16-03-2020,"same  text",Positive'))
    claim(layout, "b2", 0)
    entry = ingest_batch(layout, "b2", 1000)
    assert (entry["rows_accepted"], entry["rows_quarantined"]) == (0, 1)
    assert "already in batch b1" in pd.read_csv(layout.quarantine / "b2" / "b.csv.rejected.csv")["reason"][0]


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
