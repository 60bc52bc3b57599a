"""Replays the Kaggle training file into the inbox in chronological batches (by TweetAt), as annotators would.

The first ``bootstrap_rows`` rows train the bootstrap champion; each ``next_batch`` call then drops the next
rows as one labelled CSV, written atomically, and remembers where it stopped in ``feed_state.json``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from upath import UPath

from tweet_sentiment.csvio import decode_lines, write_csv_atomic
from tweet_sentiment.datafs import DataLayout, read_json, write_json_atomic
from tweet_sentiment.schema import DATE_COLUMN


def chronological_rows(train_file: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Kaggle file, stably sorted by TweetAt (dd-mm-yyyy)."""
    reader = csv.reader(io.StringIO(decode_lines(train_file.read_bytes()), newline=""))
    header = next(reader)
    rows = [r for r in reader if r]
    col = header.index(DATE_COLUMN)
    rows.sort(key=lambda r: datetime.strptime(r[col], "%d-%m-%Y"))
    return header, rows


def write_rows(inbox: UPath, name: str, header: list[str], rows: list[list[str]]) -> UPath:
    """Drop rows into the inbox as one CSV, atomically, so the sensor never sees half a file."""
    path = inbox / name
    write_csv_atomic(path, header, rows)
    return path


def next_batch(layout: DataLayout, train_file: Path, batch_rows: int, start_at: int) -> UPath | None:
    """Write the next ``batch_rows`` chronological rows into the inbox; None when the file is used up.

    ``start_at`` is where a fresh feed begins (after the bootstrap rows).
    """
    offset = read_json(layout.feed_state)["offset"] if layout.feed_state.exists() else start_at
    header, rows = chronological_rows(train_file)
    if offset >= len(rows):
        return None
    end = min(offset + batch_rows, len(rows))
    path = write_rows(layout.inbox, f"feed-{offset:05d}-{end:05d}.csv", header, rows[offset:end])
    write_json_atomic(layout.feed_state, {"offset": end, "total": len(rows)})
    return path
