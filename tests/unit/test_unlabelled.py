"""The unlabelled inbox: the labelled inbox's claim / settle / quarantine / ledger rules, a text column only."""

import json
import os
import time
from datetime import UTC, datetime

import pytest

from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.engine import FileRejected
from tweet_sentiment.intake.feed import next_unlabelled
from tweet_sentiment.intake.unlabelled import (
    DATED_BY_ARRIVAL,
    DATED_BY_DAY,
    DATED_BY_TIME,
    ingest_unlabelled,
    parse_unlabelled_file,
)
from tweet_sentiment.storage.archive import original_name
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import ScoredStream

ARRIVED = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def test_a_text_column_is_enough_a_label_column_is_never_a_reason_and_dates_fall_back_to_arrival():
    data = (b"Sentiment,TweetAt,OriginalTweet\n"
            b"Positive,2021-12-30 23:59:59,Boosters for all @cdc https://t.co/x\n"
            b"Nonsense label,16-03-2020,Shops are empty\n"
            b",,no date at all\n"
            b",yesterday-ish,an unreadable date\n"
            b"Neutral,2021-12-30 23:59:59,@only https://t.co/y\n")
    parsed = parse_unlabelled_file("u.csv", data, 1000, ARRIVED)
    rows = {r["text"]: r for r in parsed.rows}
    assert list(rows) == ["Boosters for all", "Shops are empty", "no date at all", "an unreadable date"]
    assert rows["Boosters for all"]["annotated"] == "Positive" and rows["Shops are empty"]["annotated"] == ""
    assert rows["Boosters for all"]["dated_by"] == DATED_BY_TIME
    assert rows["Boosters for all"]["tweet_at"] == datetime(2021, 12, 30, 23, 59, 59, tzinfo=UTC)
    assert rows["Shops are empty"]["dated_by"] == DATED_BY_DAY
    assert rows["no date at all"]["tweet_at"] == ARRIVED == rows["an unreadable date"]["tweet_at"]
    assert rows["an unreadable date"]["dated_by"] == DATED_BY_ARRIVAL
    (rejected,) = parsed.rejections
    assert (rejected.source_row, rejected.column, rejected.reason) == (5, "OriginalTweet", "empty text after cleaning")


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"TweetAt,Sentiment\n2020-03-16,Neutral\n", r"missing column\(s\) OriginalTweet"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary data"),
    (b"OriginalTweet\n", "header only"),
])
def test_files_no_row_of_which_can_be_trusted_are_rejected_whole(data, reason):
    with pytest.raises(FileRejected, match=reason):
        parse_unlabelled_file("bad.csv", data, 1000, ARRIVED)


def test_claim_and_ingest_quarantine_bad_files_with_reasons_and_balance_the_ledger(layout):
    inbox = layout.unlabelled
    (inbox / "good.csv").write_text("OriginalTweet,Sentiment\nmasks again,Negative\nshops open,whatever\n"
                                    "masks again,Negative\n")
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "notext.csv").write_text("TweetAt,Sentiment\n2020-03-16,Neutral\n")
    (inbox / "huge.csv").write_bytes(b"OriginalTweet\n" + b"x" * (2 * 2**20))
    (inbox / "binary.csv").write_bytes(b"\x00\x01\x02" * 1000)
    (inbox / ".still-writing.csv").write_text("OriginalTweet\nnot yet\n")
    stream = layout.unlabelled_stream
    assert claim(layout, "b1", 0, stream) == ["binary.csv", "empty.csv", "good.csv", "huge.csv", "notext.csv"]
    ledger = ingest_unlabelled(layout, "b1", 1000, max_file_bytes=2**20)
    assert (ledger["rows_in"], ledger["rows_accepted"], ledger["rows_quarantined"]) == (4, 2, 2)
    assert ledger["files_rejected"] == 4
    reasons = {f["file"]: f["file_error"] for f in ledger["files"]}
    assert "exceeds the limit" in reasons["huge.csv"] and "binary" in reasons["binary.csv"]
    assert "empty file" in reasons["empty.csv"] and "missing column(s) OriginalTweet" in reasons["notext.csv"]
    quarantine = stream.quarantine / "b1"
    assert json.loads((quarantine / "huge.csv.reason.json").read_text())["reason"] == reasons["huge.csv"]
    assert "duplicate text" in (quarantine / "good.csv.rejected.csv").read_text()
    rows = ScoredStream(layout.stream).read_rows(["b1"])
    assert rows["text"].tolist() == ["masks again", "shops open"] and rows["annotated"].tolist() == ["Negative", ""]
    assert (stream.ledger / "b1.json").exists() and not (layout.ledger / "b1.json").exists()
    assert [p.name for p in inbox.iterdir()] == [".still-writing.csv"]
    assert archive_claimed(stream, "b1") == [f"{n}.gz" for n in sorted(reasons)]
    assert not (stream.processing / "b1").exists()
    assert sorted(original_name(p) for p in stream.archive.rglob("*.csv.gz")) == sorted(reasons)


def test_a_dead_scoring_run_is_taken_over_and_its_rows_and_hashes_are_dropped(layout):
    (layout.unlabelled / "a.csv").write_text("OriginalTweet\nfirst tweet\n")
    stream = layout.unlabelled_stream
    claim(layout, "dead", 0, stream)
    ingest_unlabelled(layout, "dead", 1000)
    tables = ScoredStream(layout.stream)
    assert tables.read_rows(["dead"])["text"].tolist() == ["first tweet"]
    assert claim(layout, "next", 0, stream) == ["a.csv"]
    assert tables.read_rows(["dead"]).empty and tables.query("SELECT * FROM seen", ["seen"]).empty
    assert ingest_unlabelled(layout, "next", 1000)["rows_accepted"] == 1  # not a duplicate of the dead batch's row
    assert json.loads((stream.ledger / "dead.json").read_text())["superseded_by"] == "next"
    assert ingest_unlabelled(layout, "next", 1000)["rows_accepted"] == 1


def test_files_still_settling_wait_for_the_next_run(layout):
    (layout.unlabelled / "fresh.csv").write_text("OriginalTweet\njust written\n")
    old = layout.unlabelled / "old.csv"
    old.write_text("OriginalTweet\nwritten long ago\n")
    os.utime(old, (time.time() - 60, time.time() - 60))
    assert claim(layout, "b1", 10, layout.unlabelled_stream) == ["old.csv"]


def test_feed_unlabelled_drops_chronological_chunks_and_remembers_each_source(tmp_path, layout):
    source = tmp_path / "later.csv"
    source.write_text(",TweetAt,OriginalTweet\n0,2022-12-30 23:00:00,b\n1,2021-12-30 23:59:00,a\n"
                      "2,2022-12-30 22:00:00,c\n")
    first, second = next_unlabelled(layout, source, 2), next_unlabelled(layout, source, 2)
    assert (first.name, second.name) == ("later-00000-00002.csv", "later-00002-00003.csv")
    assert [line.split(",")[2] for line in first.read_text().splitlines()[1:]] == ["a", "c"]
    assert next_unlabelled(layout, source, 2) is None
