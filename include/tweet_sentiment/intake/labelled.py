"""Claimed labelled files → labelled store: validated, cleaned, de-duplicated, every other row quarantined with its
reason (the shared rules, the ledger and the quarantine: ``intake.py``).

Every input row ends in the labelled store or in quarantine with its reason, and each run writes a ledger
entry in which ``rows_in == rows_accepted + rows_superseding + rows_quarantined`` (superseding: a text stored
before, relabelled). A deterministic share of each batch's texts is flagged as the recent human holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import pandas as pd
from upath import UPath

from tweet_sentiment.intake.engine import (
    QUARANTINE_COLUMNS,
    FileRejected,
    Intake,
    Ledger,
    ParsedFile,
    clean_text,
    ingest_claimed,
    parse_csv,
)
from tweet_sentiment.schema import (
    DATE_COLUMN,
    FEEDBACK_COLUMNS,
    LABEL_COLUMN,
    LABELS,
    REQUIRED_COLUMNS,
    REVIEW_COLUMN,
    STORE_COLUMNS,
    TEXT_COLUMN,
    normalise_label,
    parse_tweet_at,
)
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import in_hash_slice, text_hash

__all__ = ["QUARANTINE_COLUMNS", "FileRejected", "RecentHoldout", "ingest_batch", "parse_labelled_file"]


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
    annotator, suggested = (fields.get(c, "").strip() for c in FEEDBACK_COLUMNS[:2])
    return {"text": text, "label": label, "tweet_at": tweet_at.date().isoformat() if tweet_at else "",
            "text_hash": text_hash(text), "raw_text": raw_text, "annotator": annotator,
            "suggested_label": normalise_label(suggested) or "", "review_id": fields.get(REVIEW_COLUMN, "").strip(),
            "label_weight": 1.0}


@dataclass(frozen=True)
class RecentHoldout:
    """The share of each batch's texts set aside as the recent human holdout, chosen by a salted text hash."""

    fraction: float = 0.0
    salt: str = "recent-holdout"

    def stamp(self, frame: pd.DataFrame) -> dict:
        """Give a batch's accepted rows their acceptance order and holdout flag; the ledger's holdout count."""
        frame["ingested_at"] = datetime.now(UTC).isoformat()
        frame["seq"] = range(len(frame))
        frame["recent_holdout"] = in_hash_slice(frame["text_hash"].tolist(), self.fraction, self.salt)
        return {"rows_recent_holdout": int(frame["recent_holdout"].sum())}


def ingest_batch(layout: DataLayout, batch_id: str, max_text_chars: int, max_file_bytes: int | None = None,
                 holdout: RecentHoldout = RecentHoldout(), max_failed_runs: int | None = None) -> Ledger:
    """Validate, clean and de-duplicate the labelled files claimed for ``batch_id``; write store, quarantine,
    ledger (see intake.ingest_claimed).

    A text already stored with the same label is a duplicate (quarantined); with another label it supersedes
    the older row (the newest human label wins). A file whose bytes an earlier live batch (or this one) already
    ingested is quarantined whole as a duplicate batch. A file over ``max_file_bytes`` is refused unread (its reason in
    quarantine; the file archived with the batch).
    A file claimed by ``max_failed_runs`` failed runs is quarantined unread.
    Idempotent: a batch whose ledger entry exists is not ingested again (a retried task returns the entry).
    """
    def parse(path: UPath, data: bytes) -> ParsedFile:
        return parse_labelled_file(path.name, data, max_text_chars)

    return ingest_claimed(Intake(layout.labelled_stream, parse, LabelledStore(layout.labelled), STORE_COLUMNS,
                                 max_file_bytes, holdout.stamp, layout.labels / "batch_digests.json",
                                 max_failed_runs), batch_id)
