"""Claimed labelled files → labelled store: validated, cleaned, de-duplicated, every other row quarantined with its
reason (the shared rules, the ledger and the quarantine: ``intake.py``)."""

from __future__ import annotations

from functools import partial

from upath import UPath

from tweet_sentiment.datafs import DataLayout
from tweet_sentiment.intake import (
    QUARANTINE_COLUMNS,
    FileRejected,
    Intake,
    ParsedFile,
    clean_text,
    ingest_claimed,
    parse_csv,
)
from tweet_sentiment.labelled_store import LabelledStore
from tweet_sentiment.schema import (
    DATE_COLUMN,
    LABEL_COLUMN,
    LABELS,
    REQUIRED_COLUMNS,
    STORE_COLUMNS,
    TEXT_COLUMN,
    normalise_label,
    parse_tweet_at,
)
from tweet_sentiment.text import text_hash

__all__ = ["QUARANTINE_COLUMNS", "FileRejected", "ingest_batch", "parse_labelled_file"]


def parse_labelled_file(name: str, data: bytes, max_text_chars: int) -> ParsedFile:
    """Validate and clean one labelled CSV. Raises FileRejected when no row of it can be trusted."""
    return parse_csv(name, data, REQUIRED_COLUMNS, partial(_check_row, max_text_chars=max_text_chars))


def _check_row(fields: dict[str, str], max_text_chars: int) -> dict | tuple[str, str]:
    raw_text, raw_label = fields[TEXT_COLUMN], fields[LABEL_COLUMN]
    label = normalise_label(raw_label)
    if label is None:
        return LABEL_COLUMN, f"unknown label {raw_label!r}; expected one of: {', '.join(LABELS)}"
    text, reason = clean_text(raw_text, max_text_chars)
    if reason:
        return TEXT_COLUMN, reason
    tweet_at = parse_tweet_at(fields.get(DATE_COLUMN, ""))
    return {"text": text, "label": label, "tweet_at": tweet_at.date().isoformat() if tweet_at else "",
            "text_hash": text_hash(text), "raw_text": raw_text}


def ingest_batch(layout: DataLayout, batch_id: str, max_text_chars: int, max_file_bytes: int | None = None) -> dict:
    """Validate, clean and de-duplicate the labelled files claimed for ``batch_id``; write store, quarantine,
    ledger (see intake.ingest_claimed)."""
    def parse(path: UPath, data: bytes) -> ParsedFile:
        return parse_labelled_file(path.name, data, max_text_chars)

    return ingest_claimed(Intake(layout.labelled_stream, parse, LabelledStore(layout.labelled), STORE_COLUMNS,
                                 max_file_bytes), batch_id)
