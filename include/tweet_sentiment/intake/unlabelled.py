"""Claimed unlabelled files → the scored stream's tables (``storage/scored_stream.py``), by the labelled inbox's
rules (``intake/engine.py``); duplicates are found by looking each file's hashes up in the stream's ``seen`` table.

An unlabelled CSV needs only the text column (``OriginalTweet``). ``TweetAt`` dates the tweet; where it is missing
or unreadable the file's arrival time is used and the row is marked (``dated_by``: ``tweet time``, ``tweet day``
or ``arrival``). A label column is never used to score or to train: a valid label is kept as ``annotated`` (the
annotated shares shown beside the predicted ones), an invalid one is dropped, never a reason to reject the row.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from upath import UPath

from tweet_sentiment.intake.engine import Intake, ParsedFile, arrival_time, clean_text, ingest_claimed, parse_csv
from tweet_sentiment.schema import DATE_COLUMN, LABEL_COLUMN, TEXT_COLUMN, normalise_label, parse_tweet_at
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.text import text_hash

UNLABELLED_COLUMNS: tuple[str, ...] = (
    "text", "text_hash", "raw_text", "tweet_at", "dated_by", "annotated", "arrived_at", "source_file", "source_row",
    "batch_id",
)
DATED_BY_TIME, DATED_BY_DAY, DATED_BY_ARRIVAL = "tweet time", "tweet day", "arrival"


def parse_unlabelled_file(name: str, data: bytes, max_text_chars: int, arrived_at: datetime) -> ParsedFile:
    """Validate and clean one unlabelled CSV; FileRejected when no row of it can be trusted."""
    return parse_csv(name, data, (TEXT_COLUMN,),
                     partial(_check_row, max_text_chars=max_text_chars, arrived_at=arrived_at))


def _check_row(fields: dict[str, str], max_text_chars: int, arrived_at: datetime) -> dict | tuple[str, str]:
    raw_text = fields[TEXT_COLUMN]
    text, reason = clean_text(raw_text, max_text_chars)
    if reason:
        return TEXT_COLUMN, reason
    raw_date = fields.get(DATE_COLUMN, "").strip()
    tweet_at = parse_tweet_at(raw_date)
    if tweet_at is None:
        tweet_at, dated_by = arrived_at, DATED_BY_ARRIVAL
    else:
        dated_by = DATED_BY_DAY if len(raw_date) <= len("2020-03-16") else DATED_BY_TIME
    return {"text": text, "text_hash": text_hash(text), "raw_text": raw_text, "tweet_at": tweet_at,
            "dated_by": dated_by, "annotated": normalise_label(fields.get(LABEL_COLUMN, "")) or "",
            "arrived_at": arrived_at}


def ingest_unlabelled(layout: DataLayout, batch_id: str, max_text_chars: int,
                      max_file_bytes: int | None = None, max_failed_runs: int | None = None,
                      part_rows: int | None = None) -> dict:
    """Validate, clean and de-duplicate the unlabelled files claimed for ``batch_id`` into the rows store; the
    rest to the scoring stream's quarantine with reasons; its ledger entry balanced (see intake.ingest_claimed).
    A file claimed by ``max_failed_runs`` failed runs is quarantined unread; past ``part_rows`` accepted rows the
    batch is stored in parts (the unit a scoring partition takes)."""
    def parse(path: UPath, data: bytes) -> ParsedFile:
        return parse_unlabelled_file(path.name, data, max_text_chars, arrival_time(path))

    tables = ScoredStream(layout.stream, part_rows)
    return ingest_claimed(Intake(layout.unlabelled_stream, parse, tables, UNLABELLED_COLUMNS, max_file_bytes,
                                 max_failed_runs=max_failed_runs), batch_id)
