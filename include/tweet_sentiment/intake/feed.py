"""Replays a source file into an inbox in chronological chunks (by TweetAt), as annotators or a crawler would.

``make feed``: the Kaggle training file into the labelled inbox; its first ``bootstrap_rows`` rows train the
bootstrap champion, each ``next_batch`` call then drops the next rows as one labelled CSV. ``make
feed-unlabelled``: a source of unlabelled tweets (the 2022 file by default) into the unlabelled inbox. Each chunk
is written atomically, and where the feed stopped is remembered in a small state file.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from upath import UPath

from tweet_sentiment.schema import DATE_COLUMN, parse_tweet_at
from tweet_sentiment.storage.csvio import decode_lines, write_csv_atomic
from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic

_NO_DATE = datetime.max.replace(tzinfo=UTC)


def chronological_rows(source: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a tweets CSV, stably sorted by TweetAt (rows without a readable date last)."""
    reader = csv.reader(io.StringIO(decode_lines(source.read_bytes()), newline=""))
    header = next(reader)
    rows = [r for r in reader if r]
    col = header.index(DATE_COLUMN)
    rows.sort(key=lambda r: (col < len(r) and parse_tweet_at(r[col])) or _NO_DATE)
    return header, rows


def write_rows(inbox: UPath, name: str, header: list[str], rows: list[list[str]]) -> UPath:
    """Drop rows into an inbox as one CSV, atomically, so the sensor never sees half a file."""
    path = inbox / name
    write_csv_atomic(path, header, rows)
    return path


def next_chunk(source: Path, inbox: UPath, state_file: UPath, batch_rows: int, start_at: int = 0,
               prefix: str = "feed") -> UPath | None:
    """Write the next ``batch_rows`` chronological rows of ``source`` into ``inbox``; None when it is used up.

    ``start_at`` is where a fresh feed begins; ``state_file`` remembers the offset.
    """
    offset = read_json(state_file)["offset"] if state_file.exists() else start_at
    header, rows = chronological_rows(source)
    if offset >= len(rows):
        return None
    end = min(offset + batch_rows, len(rows))
    path = write_rows(inbox, f"{prefix}-{offset:05d}-{end:05d}.csv", header, rows[offset:end])
    write_json_atomic(state_file, {"offset": end, "total": len(rows)})
    return path


def next_batch(layout: DataLayout, train_file: Path, batch_rows: int, start_at: int) -> UPath | None:
    """The next labelled batch of the training file into the inbox (after the ``start_at`` bootstrap rows)."""
    return next_chunk(train_file, layout.inbox, layout.feed_state, batch_rows, start_at)


def next_unlabelled(layout: DataLayout, source: Path, batch_rows: int) -> UPath | None:
    """The next chunk of an unlabelled source into the unlabelled inbox (each source keeps its own offset)."""
    state = layout.scoring / f"feed-{source.stem}.json"
    return next_chunk(source, layout.unlabelled, state, batch_rows, prefix=f"{source.stem}")
