"""Property-based tests (Hypothesis) of every parser of people's input and of the task functions that call them:
whatever the bytes, every input ends accepted, quarantined or refused with a reason; nothing raises out of a task.

CSV bytes (the labelled and unlabelled inboxes, through the DAG tasks claim_and_ingest and claim_unlabelled),
TweetAt values, labels, uploaded CSVs for the labelling queue (and the batch an annotator then sends), and review
decisions (and the CSV a decision sends back to the inbox).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import write_held_row

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.engine import FileRejected
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.intake.unlabelled import parse_unlabelled_file
from tweet_sentiment.label_check.review import ReviewError, pending_reviews, resolve_review
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.sources import LabellingInputError, LoadReport, items_from_file
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.pipeline.retrain import claim_and_ingest
from tweet_sentiment.pipeline.score import claim_unlabelled
from tweet_sentiment.schema import KAGGLE_COLUMNS, LABELS, normalise_label, parse_tweet_at
from tweet_sentiment.storage.csvio import decode_lines
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, write_bytes_atomic

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ARRIVED = datetime(2026, 12, 7, tzinfo=UTC)

offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
# Any time, and times at the two ends of datetime's range (where a time zone can push it out of the range).
instants = st.datetimes() | st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(min_value=datetime(9999, 12, 30))
tweet_ats = st.one_of(
    st.text(max_size=40),
    instants.map(datetime.isoformat),
    st.tuples(instants, offsets.map(timezone)).map(lambda t: t[0].replace(tzinfo=t[1]).isoformat()),
    st.dates().map(lambda d: d.strftime("%d-%m-%Y")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
)
labels = st.one_of(st.sampled_from(LABELS), st.text(max_size=25),
                   st.sampled_from(LABELS).map(lambda s: f"  {s.upper()} "))
cells = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60) | st.sampled_from(
    ["", '"', '""', ",", "\n", "\r\n", "\x00", "=HYPERLINK(1)", "\ufeff", "x" * 3000])
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"])


@st.composite
def csv_files(draw, columns: tuple[str, ...] = KAGGLE_COLUMNS) -> bytes:
    """A CSV as people send it: some of the expected columns (maybe others, in any order), rows whose cells are
    any text, TweetAt and Sentiment drawn from their own strategies, ragged rows, any of several encodings."""
    header = draw(st.lists(st.sampled_from([*columns, "Extra", "ReviewId"]), min_size=1, max_size=8, unique=True))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = [draw(tweet_ats) if c == "TweetAt" else draw(labels) if c == "Sentiment" else draw(cells)
               for c in header]
        ragged = draw(st.sampled_from(["whole", "longer", "shorter"]))
        if ragged == "longer":
            row += draw(st.lists(cells, min_size=1, max_size=2))
        elif ragged == "shorter":
            row = row[:draw(st.integers(0, len(row)))]
        rows.append(row)
    buf = io.StringIO()
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    writer = csv.writer(buf, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONE, csv.QUOTE_ALL])),
                        escapechar="\\", lineterminator=terminator)
    for row in [header, *rows]:
        try:
            writer.writerow(row)
        except csv.Error:  # what the writer cannot write, written by hand (as a careless producer would)
            buf.write(",".join(row) + terminator)
    return buf.getvalue().encode(draw(encodings), errors="replace")


any_csv_bytes = st.binary(max_size=3000) | csv_files()


@settings(FUZZ, max_examples=1000)
@given(tweet_ats)
@example("0001-01-01T00:00:00+05:00")  # issue 23's finding; the edges above find it (or 9999's) on their own
def test_any_tweet_at_reads_as_a_utc_time_or_as_no_date(raw):
    parsed = parse_tweet_at(raw)
    assert parsed is None or parsed.utcoffset() == timedelta(0)


@FUZZ
@given(labels)
def test_any_label_is_one_of_the_five_or_none(raw):
    assert normalise_label(raw) in (*LABELS, None)


@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_decode(data):
    assert isinstance(decode_lines(data), str)


def accounted(parse) -> str:
    """"accepted" / "refused" with every row counted once; any other exception fails the test."""
    try:
        parsed = parse()
    except FileRejected as exc:
        assert str(exc)
        return "refused"
    assert parsed.rows_in == len(parsed.rows) + len(parsed.rejections) > 0
    assert all(r.reason for r in parsed.rejections)
    assert not any("\x00" in r["raw_text"] for r in parsed.rows)  # what is stored can be written to a CSV again
    return "accepted"


@FUZZ
@given(any_csv_bytes)
def test_any_labelled_csv_is_accepted_row_by_row_or_refused_with_a_reason(data):
    accounted(lambda: parse_labelled_file("f.csv", data, 280))


@FUZZ
@given(any_csv_bytes)
def test_any_unlabelled_csv_is_accepted_row_by_row_or_refused_with_a_reason(data):
    accounted(lambda: parse_unlabelled_file("f.csv", data, 280, ARRIVED))


def fresh_settings(root: Path) -> Settings:
    return dataclasses.replace(Settings(), data_root=str(root), file_settle_s=0.0, max_text_chars=280)


def assert_books_balance(entry: dict, files: int) -> None:
    assert len(entry["files"]) == files
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_superseding"] + entry["rows_quarantined"]
    for f in entry["files"]:
        assert f["rows_in"] == f["rows_accepted"] + f["rows_superseding"] + f["rows_quarantined"]


@pytest.mark.parametrize("task", [claim_and_ingest, claim_unlabelled], ids=["labelled", "unlabelled"])
@FUZZ_FILES
@given(files=st.lists(any_csv_bytes, min_size=1, max_size=3))
def test_the_ingest_tasks_never_raise_and_their_books_balance(task, files):
    with tempfile.TemporaryDirectory() as tmp:
        config = fresh_settings(Path(tmp))
        inbox = config.layout().inbox if task is claim_and_ingest else config.layout().unlabelled
        for i, data in enumerate(files):
            write_bytes_atomic(inbox / f"f{i}.csv", data)
        assert_books_balance(task(config, "fuzz"), len(files))


def suggested(item: dict) -> dict:
    """What the champion's pre-annotation adds to a queued item (a stand-in: the model is not the input here)."""
    return {**item, "suggested": "Neutral", "probabilities": {}, "margin": 0.1, "version": "v1"}


@FUZZ_FILES
@given(any_csv_bytes, st.lists(st.sampled_from(LABELS), min_size=1, max_size=6))
def test_an_uploaded_csv_is_queued_or_refused_and_what_is_sent_from_it_is_ingested(data, answers):
    try:
        items, _ = items_from_file("upload.csv", data, 50, 0, set(), LoadReport("upload.csv"), 280)
    except LabellingInputError as exc:
        assert str(exc)
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = fresh_settings(Path(tmp))
        layout = config.layout()
        with write_transaction(config.state_db) as connection:
            insert_items(connection, [suggested(i) for i in items], loaded_from=0)
        queue = LabellingQueue(layout, config.state_db, predictor=None, max_chars=280)
        for item, label in zip(items, answers, strict=False):
            queue.record(item["id"], label, "ann")
        if not queue.view()["labelled_unsent"]:
            return
        sent = queue.send_batch("ann")
        entry = claim_and_ingest(config, "fuzz")
        assert_books_balance(entry, 1)
        assert entry["rows_in"] == sent["rows"]


@FUZZ_FILES
@given(cells.filter(lambda t: "\x00" not in t), tweet_ats, st.sampled_from(LABELS),  # the ingest stores no NUL
       st.text(max_size=20) | st.just("b1--0"), st.text(max_size=10) | st.sampled_from(["accept", "relabel", "drop"]),
       st.none() | labels, st.text(max_size=20))
@example(text="gone again", tweet_at="", label=LABELS[0], review_id="b1--0", decision="accept", new_label=None,
         reviewer="\x00")  # found by Hypothesis: the reviewer's NUL made the review CSV 'binary', the row lost
def test_a_review_decision_is_taken_or_refused_and_what_it_sends_back_is_ingested(
        text, tweet_at, label, review_id, decision, new_label, reviewer):
    with tempfile.TemporaryDirectory() as tmp:
        config = fresh_settings(Path(tmp))
        layout: DataLayout = config.layout()
        write_held_row(layout, text, tweet_at, label)
        assert len(pending_reviews(layout)) == 1
        try:
            record = resolve_review(layout, review_id, decision, new_label, reviewer)
        except ReviewError as exc:
            assert str(exc)
            return
        entry = claim_and_ingest(config, "fuzz")
        assert_books_balance(entry, 0 if record["decision"] == "drop" else 1)
        assert entry["rows_in"] == (record["decision"] != "drop")
