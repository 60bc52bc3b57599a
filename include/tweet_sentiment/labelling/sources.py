"""What the labelling queue loads: rows of an unlabelled CSV or the drifted window's tweets, as new queue items.

A row is passed over with its row number and reason (empty after cleaning, too long, already queued or sent).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from tweet_sentiment.schema import DATE_COLUMN, TEXT_COLUMN
from tweet_sentiment.storage.csvio import decode_lines, read_header
from tweet_sentiment.text import clean_tweet, text_hash

OPTIONAL_COLUMNS = ("UserName", "ScreenName", "Location", DATE_COLUMN)
DRIFT_SOURCE = "drifted window"


class Known(Protocol):
    """The ids of tweets a load passes over (state.KnownIds: the queue's, asked of the database)."""

    def __contains__(self, item_id: object) -> bool: ...

    def add(self, item_id: str) -> None: ...


class LabellingInputError(ValueError):
    """A file or a label the queue cannot take; the message names the file or item and the reason."""


@dataclass
class LoadReport:
    """What a load did: rows queued, rows skipped (with row number and reason), rows left for a later load."""

    source: str
    queued: int = 0
    skipped: list[dict] = field(default_factory=list)
    left: int = 0

    drifted: int = 0

    def to_dict(self) -> dict:
        return {"source": self.source, "queued": self.queued, "skipped": len(self.skipped),
                "skipped_rows": self.skipped[:20], "left": self.left, "from_drifted_window": self.drifted}


def read_unlabelled(name: str, data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, fields) of an unlabelled CSV that has an ``OriginalTweet`` column; blank rows are skipped."""
    text = decode_lines(data)
    if "\x00" in text:  # the inbox refuses such a file whole: what is sent from it must not be
        raise LabellingInputError(f"{name}: binary data (NUL bytes), not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = read_header(reader)
        if columns is None:
            raise LabellingInputError(f"{name}: no header row")
        if TEXT_COLUMN not in columns:
            raise LabellingInputError(f"{name}: no {TEXT_COLUMN} column; the header has: {', '.join(columns)}")
        row_no = 0
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            row_no += 1
            yield row_no, {c: fields[i] if i < len(fields) else "" for i, c in enumerate(columns)}
    except csv.Error as exc:
        raise LabellingInputError(f"{name}: not parseable as CSV near line {reader.line_num}: {exc}") from exc


def items_from_file(name: str, data: bytes, limit: int, start: int, known: Known, report: LoadReport,
                    max_chars: int) -> tuple[list[dict], int]:
    """New items of a CSV after row ``start``, at most ``limit`` (the rest counted as left); the last row read."""
    rows: list[dict] = []
    last_row = start
    for row_no, fields in read_unlabelled(name, data):
        if row_no <= start:
            continue
        if len(rows) >= limit:
            report.left += 1
            continue
        last_row = row_no
        item = new_item(row_no, fields, known, report, max_chars)
        if item:
            known.add(item["id"])
            rows.append(item)
    return rows, last_row

def items_from_drifted(drifted: pd.DataFrame, limit: int, known: Known, max_chars: int) -> list[dict]:
    """Up to ``limit`` new items from the drifted window's tweets, in their order (known ones passed over)."""
    rows: list[dict] = []
    report = LoadReport(DRIFT_SOURCE)
    for rank, tweet in enumerate(drifted.itertuples(), start=1):
        if len(rows) >= limit:
            break
        item = new_item(rank, {TEXT_COLUMN: tweet.raw_text, DATE_COLUMN: str(tweet.tweet_at)}, known, report,
                    max_chars)
        if item:
            known.add(item["id"])
            rows.append(item)
    return rows


def new_item(row_no: int, fields: dict[str, str], known: Known, report: LoadReport, max_chars: int) -> dict | None:
    raw = fields[TEXT_COLUMN]
    clean = clean_tweet(raw)
    reason = ""
    if not clean:
        reason = "empty text after cleaning"
    elif len(clean) > max_chars:
        reason = f"text of {len(clean)} characters exceeds the limit of {max_chars}"
    elif text_hash(clean)[:16] in known:
        reason = "already queued or sent"
    if reason:
        report.skipped.append({"row": row_no, "reason": reason})
        return None
    return {"id": text_hash(clean)[:16], "row": row_no, "source": report.source, "text": raw, "clean": clean,
            **{c: fields.get(c, "") for c in OPTIONAL_COLUMNS}, "label": None, "annotator": None, "answers": {}}

