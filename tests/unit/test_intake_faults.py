"""No input stops the loop and no death loses a row (issue 23): a TweetAt that overflows, an unexpected exception
in one file, a file that makes every run fail, a death in the middle of archiving, claims of bounded size."""

from __future__ import annotations

import pytest

from tweet_sentiment.intake import claim as claim_module
from tweet_sentiment.intake.claim import ClaimLimits, archive_claimed, claim
from tweet_sentiment.intake.engine import FileRejected, Intake, ingest_claimed, parse_csv
from tweet_sentiment.intake.labelled import ingest_batch, parse_labelled_file
from tweet_sentiment.intake.unlabelled import DATED_BY_ARRIVAL, ingest_unlabelled
from tweet_sentiment.schema import STORE_COLUMNS, TEXT_COLUMN, parse_tweet_at
from tweet_sentiment.storage.archive import read_archived
from tweet_sentiment.storage.csvio import write_csv_atomic
from tweet_sentiment.storage.fs import DataLayout, list_dir, read_json
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.text import text_hash

HEADER = ["TweetAt", "OriginalTweet", "Sentiment"]
OVERFLOW = "0001-01-01T00:00:00+05:00"  # parses, but lies before year 1 once converted to UTC


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def put(layout: DataLayout, name: str, texts: list[str], date: str = "16-03-2020", inbox=None) -> None:
    write_csv_atomic((inbox or layout.inbox) / name, HEADER, [[date, t, "Neutral"] for t in texts])


def live_ledgers(layout: DataLayout, stream=None) -> list[dict]:
    stream = stream or layout.labelled_stream
    entries = [read_json(p) for p in list_dir(stream.ledger) if p.suffix == ".json"]
    return [e for e in entries if "superseded_by" not in e]


def test_a_tweet_at_that_overflows_in_utc_is_no_date_and_the_batch_is_stored(layout):
    assert parse_tweet_at(OVERFLOW) is None
    put(layout, "a.csv", ["first tweet", "second tweet"], OVERFLOW)
    claim(layout, "b1", 0)
    entry = ingest_batch(layout, "b1", 1000)
    assert (entry["rows_in"], entry["rows_accepted"]) == (2, 2)
    assert LabelledStore(layout.labelled).read_batch("b1")["tweet_at"].tolist() == ["", ""]


def test_the_unlabelled_inbox_dates_an_overflowing_tweet_at_by_its_arrival(layout):
    stream = layout.unlabelled_stream
    put(layout, "u.csv", ["a tweet to score"], OVERFLOW, inbox=stream.inbox)
    claim(layout, "u1", 0, stream)
    assert ingest_unlabelled(layout, "u1", 1000)["rows_accepted"] == 1
    assert ScoredStream(layout.stream).read_rows(["u1"])["dated_by"].tolist() == [DATED_BY_ARRIVAL]


def test_an_unexpected_exception_in_a_row_check_rejects_the_file_naming_type_message_and_line():
    def check_row(fields: dict[str, str]) -> dict:
        if fields[TEXT_COLUMN] == "boom":
            raise ZeroDivisionError("division by zero")
        return {"text": fields[TEXT_COLUMN]}

    data = b"TweetAt,OriginalTweet\nx,fine\nx,boom\n"
    with pytest.raises(FileRejected, match=r"unexpected ZeroDivisionError near line 3: division by zero"):
        parse_csv("a.csv", data, (TEXT_COLUMN,), check_row)


def test_an_unexpected_exception_reading_one_file_quarantines_it_and_the_batch_goes_on(layout):
    """A fault no real parser shows once fixed (so the parser is a stand-in here): the net under every file."""
    put(layout, "bad.csv", ["never read"])
    put(layout, "good.csv", ["a good tweet"])
    claim(layout, "b1", 0)

    def parse(path, data):
        if path.name == "bad.csv":
            raise MemoryError("the parser ran out of memory")
        return parse_labelled_file(path.name, data, 1000)

    intake = Intake(layout.labelled_stream, parse, LabelledStore(layout.labelled), STORE_COLUMNS)
    entry = ingest_claimed(intake, "b1")
    assert entry["rows_accepted"] == 1 and entry["files_rejected"] == 1
    reason = read_json(layout.quarantine / "b1" / "bad.csv.reason.json")
    assert reason["reason"] == "unexpected MemoryError while reading: the parser ran out of memory"
    assert (layout.quarantine / "b1" / "bad.csv").exists()  # the file beside its reason, to be released


def run_until_done(layout: DataLayout, killer: str, limits: ClaimLimits, max_runs: int = 20) -> list[dict]:
    """Runs that claim and ingest; a run whose batch holds ``killer`` (ingested, not set aside) dies before it
    archives. The runs' ledgers, once nothing is left."""
    entries = []
    for n in range(max_runs):
        batch = f"run{n:02d}"
        if not claim(layout, batch, 0, limits=limits):
            return entries
        entry = ingest_batch(layout, batch, 1000, max_failed_runs=limits.max_failed_runs)
        entries.append(entry)
        if any(f["file"] == killer and not f["file_error"] for f in entry["files"]):
            continue  # the run died
        archive_claimed(layout.labelled_stream, batch)
    raise AssertionError(f"still work left after {max_runs} runs")


def test_a_file_that_makes_every_run_fail_is_quarantined_after_max_failed_runs_and_no_row_is_lost(layout):
    for i in range(4):
        put(layout, f"good{i}.csv", [f"good tweet {i}"])
    put(layout, "killer.csv", ["a tweet that kills the run"])
    limits = ClaimLimits(max_failed_runs=3)
    entries = run_until_done(layout, "killer.csv", limits)
    assert len(entries) <= 10  # halving isolates it (the good files pass), then max_failed_runs runs alone
    stored = LabelledStore(layout.labelled).read_all()
    assert sorted(stored["text"]) == [f"good tweet {i}" for i in range(4)]
    live = live_ledgers(layout)
    assert sum(e["rows_accepted"] for e in live) == len(stored) == 4
    [set_aside] = [f for e in live for f in e["files"] if f["file"] == "killer.csv"]
    assert "3 runs failed with this file alone in their batch" in set_aside["file_error"]
    assert not [p for p in list_dir(layout.processing)] and not list_dir(layout.inbox)
    [quarantined] = [p for p in layout.quarantine.rglob("killer.csv")]
    assert quarantined.read_bytes() == read_archived(next(layout.archive.rglob("killer.csv.gz")))


def test_a_death_in_the_middle_of_archiving_loses_no_row(layout, monkeypatch):
    put(layout, "a.csv", ["tweet of a"])
    put(layout, "b.csv", ["tweet of b"])
    claim(layout, "b1", 0)
    ingest_batch(layout, "b1", 1000)
    real_archive, archived = claim_module.archive_file, []

    def dying_archive(src, folder):
        if archived:
            raise SystemExit("killed mid-archive")
        archived.append(src)
        return real_archive(src, folder)

    monkeypatch.setattr(claim_module, "archive_file", dying_archive)
    with pytest.raises(SystemExit):
        archive_claimed(layout.labelled_stream, "b1")
    monkeypatch.setattr(claim_module, "archive_file", real_archive)
    put(layout, "c.csv", ["tweet of c"])
    claim(layout, "b2", 0)  # finishes b1's archiving; takes c.csv
    ingest_batch(layout, "b2", 1000)
    archive_claimed(layout.labelled_stream, "b2")
    stored = LabelledStore(layout.labelled).read_all()
    assert sorted(stored["text"]) == ["tweet of a", "tweet of b", "tweet of c"]
    assert sum(e["rows_accepted"] for e in live_ledgers(layout)) == 3
    assert sorted(p.name for p in layout.archive.rglob("*.csv.gz")) == ["a.csv.gz", "b.csv.gz", "c.csv.gz"]
    assert not list_dir(layout.processing)


def test_a_claim_takes_at_most_the_configured_files_and_bytes_and_the_rest_waits(layout):
    for i in range(5):
        put(layout, f"f{i}.csv", [f"tweet number {i} " + "x" * 100])
    size = (layout.inbox / "f0.csv").stat().st_size
    assert claim(layout, "b1", 0, limits=ClaimLimits(max_files=2)) == ["f0.csv", "f1.csv"]
    archive_claimed(layout.labelled_stream, "b1")
    assert claim(layout, "b2", 0, limits=ClaimLimits(max_bytes=2 * size + 1)) == ["f2.csv", "f3.csv"]
    archive_claimed(layout.labelled_stream, "b2")
    assert claim(layout, "b3", 0, limits=ClaimLimits(max_bytes=1)) == ["f4.csv"]  # one file always


def test_a_retried_claim_never_grows_its_batch(layout):
    put(layout, "a.csv", ["first"])
    assert claim(layout, "b1", 0) == ["a.csv"]
    put(layout, "b.csv", ["second"])
    assert claim(layout, "b1", 0) == ["a.csv"]
    assert [p.name for p in list_dir(layout.inbox)] == ["b.csv"]


def test_the_unlabelled_inbox_sets_aside_a_file_that_made_its_runs_fail(layout):
    stream = layout.unlabelled_stream
    put(layout, "u.csv", ["a tweet to score"], inbox=stream.inbox)
    limits = ClaimLimits(max_failed_runs=2)
    for batch in ("u1", "u2"):  # two runs die with it
        assert claim(layout, batch, 0, stream, limits) == ["u.csv"]
        assert ingest_unlabelled(layout, batch, 1000, max_failed_runs=2)["rows_accepted"] == 1
    assert claim(layout, "u3", 0, stream, limits) == ["u.csv"]
    entry = ingest_unlabelled(layout, "u3", 1000, max_failed_runs=2)
    assert entry["files_rejected"] == 1 and "2 runs failed with this file alone in their batch" in (
        entry["files"][0]["file_error"]) and "batches: u1, u2)" in entry["files"][0]["file_error"]
    tables = ScoredStream(layout.stream)  # the dead batches' rows left with them
    assert tables.read_rows(["u1", "u2"]).empty and tables.known_labels([text_hash("a tweet to score")], {"u3"}) == {}
    archive_claimed(stream, "u3")
    assert not list_dir(stream.processing)
