"""``python -m tweet_sentiment quarantine list | release``: what was quarantined and why, and a fixed file back to
the inbox, once (issue 23, finding 5)."""

from __future__ import annotations

import pytest

from tweet_sentiment.__main__ import main
from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.labelled import ingest_batch
from tweet_sentiment.storage.fs import DataLayout, write_bytes_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore

GOOD_HEADER = b"TweetAt,OriginalTweet,Sentiment\n"


@pytest.fixture
def layout(tmp_path, monkeypatch):
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def run_batch(layout: DataLayout, batch_id: str) -> dict:
    claim(layout, batch_id, 0)
    entry = ingest_batch(layout, batch_id, 1000)
    archive_claimed(layout.labelled_stream, batch_id)
    return entry


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["quarantine", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_quarantined_files_and_rows_are_listed_with_reasons_and_a_fixed_file_comes_back_once(layout, capsys,
                                                                                               tmp_path):
    write_bytes_atomic(layout.inbox / "bad.csv", b"text,label\nshops are empty,Negative\n")
    write_bytes_atomic(layout.inbox / "mixed.csv", GOOD_HEADER + b"16-03-2020,fine day,Positive\n"
                                                                 b"16-03-2020,so so,Meh\n")
    run_batch(layout, "b1")
    code, out = cli(capsys, "list")
    assert code == 0
    assert "b1/bad.csv (whole file): missing column(s) OriginalTweet, Sentiment" in out
    assert "b1/mixed.csv row 2 (line 3): Sentiment: unknown label 'Meh'" in out
    assert "1 file(s) quarantined whole and not released, 1 row(s) rejected" in out

    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(GOOD_HEADER + b"16-03-2020,shops are empty,Negative\n")
    code, out = cli(capsys, "release", "bad.csv", "--fixed", str(fixed))
    assert (code, out.strip()) == (0, "released bad.csv to the labelled inbox as bad.csv")
    assert (layout.inbox / "bad.csv").read_bytes() == fixed.read_bytes()
    code, out = cli(capsys, "release", "bad.csv")
    assert code == 2 and "bad.csv was released already, as bad.csv" in out
    entry = run_batch(layout, "b2")
    assert (entry["rows_in"], entry["rows_accepted"]) == (1, 1)
    texts = LabelledStore(layout.labelled).read_all()["text"].tolist()
    assert sorted(texts) == ["fine day", "shops are empty"]  # each row once
    code, out = cli(capsys, "list")
    assert "[released as bad.csv]" in out and "0 file(s) quarantined whole and not released" in out


def test_a_file_mended_in_quarantine_is_released_and_an_unknown_name_is_refused(layout, capsys):
    write_bytes_atomic(layout.inbox / "broken.csv", GOOD_HEADER.replace(b"Sentiment", b"Sentimnet") + b"x,y,z\n")
    run_batch(layout, "b1")
    copy = layout.quarantine / "b1" / "broken.csv"
    copy.write_bytes(GOOD_HEADER + b"16-03-2020,mended tweet,Neutral\n")  # mended in place
    assert cli(capsys, "release", "b1/broken.csv")[0] == 0
    assert run_batch(layout, "b2")["rows_accepted"] == 1
    code, out = cli(capsys, "release", "nothing.csv")
    assert code == 2 and "no file 'nothing.csv' was quarantined whole in the labelled stream" in out
