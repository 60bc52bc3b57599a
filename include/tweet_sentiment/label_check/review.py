"""The review queue of held rows (label_check.py) and a person's decision on each: the API of the Labels page.

A held row waits in ``labels/flagged/<batch_id>.parquet`` until a reviewer decides:

- ``accept``: the label as given was right; ``relabel``: the right label is ``label`` (often the suggested one);
  either way the row re-enters training through the inbox, as a one-row CSV ``review-<flag id>.csv`` in the
  columns the DAG reads plus the feedback columns and ``ReviewId`` (a reviewed row is never checked again).
  The next run ingests it like any batch: its own ledger entry counts it (rows in 1 = accepted 1, or superseding
  if the text was relabelled since). The batch it came from keeps counting it as held: that ledger stays as it
  balanced, and the review record names the file the row went out in.
- ``drop``: the row never enters training.

A held row that makes a correction which has since become systematic (many annotators, same change: see
label_errors) is accepted by the label check itself (:func:`release_systematic`, reviewer ``label check``): the
first rows of a new team rule wait only until the rule shows.

The decision is ``labels/reviews/<flag id>.json`` (who, when, what, the inbox file). Decisions are taken under a
lock and a row is decided once. The CSV is written before the record: a crash in between can only send the row
twice, and the ingest quarantines the second copy as a duplicate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd

from tweet_sentiment.label_check.check import HELD, read_flagged
from tweet_sentiment.label_check.confident_learning import follows_correction
from tweet_sentiment.schema import (
    DATE_COLUMN,
    FEEDBACK_COLUMNS,
    LABEL_COLUMN,
    REVIEW_COLUMN,
    TEXT_COLUMN,
    normalise_label,
)
from tweet_sentiment.storage.csvio import write_csv_atomic
from tweet_sentiment.storage.fs import DataLayout, file_lock, list_dir, read_json, write_json_atomic

DECISIONS = ("accept", "relabel", "drop")
# a flag id: "<batch id>--<row>" (check.py), the batch id file-name safe (intake.claim.batch_id_for)
REVIEW_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}--\d{1,9}$"
SYSTEMATIC_REVIEWER = "label check (systematic correction)"
REVIEW_CSV_COLUMNS = (DATE_COLUMN, TEXT_COLUMN, LABEL_COLUMN, *FEEDBACK_COLUMNS, REVIEW_COLUMN)
# What the page gets for each pending review (pending_reviews).
REVIEW_FIELDS = ("review_id", "batch_id", "text", "label", "suggested", "confidence", "given_confidence",
                 "annotator", "source_file", "source_row", "reason", "tweet_at")


class ReviewError(ValueError):
    """A decision that cannot be taken; the message says why (unknown row, decided already, bad label)."""


def held_rows(layout: DataLayout) -> pd.DataFrame:
    """Every row the label check held, decided or not (a row of ``flagged/<batch>.parquet``, ``flag_id`` its key)."""
    frames = [read_flagged(p) for p in list_dir(layout.labels / "flagged") if p.suffix == ".parquet"]
    frames = [f[f["action"] == HELD] for f in frames]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["flag_id"])


def _decided(layout: DataLayout) -> set[str]:
    return {p.stem for p in list_dir(layout.labels / "reviews") if p.suffix == ".json"}


def pending_reviews(layout: DataLayout, limit: int | None = None, held: pd.DataFrame | None = None) -> list[dict]:
    """Held rows not decided yet, the most confident suggestions first; each a dict of REVIEW_FIELDS: the tweet
    as sent (``text``), the given ``label``, the model's ``suggested`` label with its ``confidence`` (and the
    given label's, ``given_confidence``), the ``batch_id``, ``annotator`` ("" if the file named none), the
    ``source_file`` and ``source_row``, the ``reason`` in words, and ``review_id`` for :func:`resolve_review`.
    ``held``: :func:`held_rows`, when the caller read them already."""
    held = held_rows(layout) if held is None else held
    held = held[~held["flag_id"].isin(_decided(layout))]
    if held.empty:
        return []
    held = held.sort_values(["confidence", "flag_id"], ascending=[False, True])
    held = held if limit is None else held.head(limit)
    held = held.drop(columns=["review_id", "text"]).rename(columns={"flag_id": "review_id", "raw_text": "text"})
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in held.loc[:, list(REVIEW_FIELDS)].to_dict("records")]


def review_counts(layout: DataLayout, held: pd.DataFrame | None = None) -> dict:
    """How many held rows wait, and how many were accepted, relabelled, dropped (``held``: as pending_reviews)."""
    decisions = [read_json(p)["decision"] for p in list_dir(layout.labels / "reviews") if p.suffix == ".json"]
    held = held_rows(layout) if held is None else held
    return {"pending": int((~held["flag_id"].isin(_decided(layout))).sum()),
            **{d: decisions.count(d) for d in DECISIONS}}


def review_page(layout: DataLayout, limit: int) -> dict:
    """What the Labels page shows of the held rows, the flagged files read once: the ``limit`` most confident
    pending ones and the counts."""
    held = held_rows(layout)
    return {"pending": pending_reviews(layout, limit, held), "counts": review_counts(layout, held)}


def resolve_review(layout: DataLayout, review_id: str, decision: str, label: str | None, reviewer: str) -> dict:
    """Decide one held row (see the module doc); the decision's record. ``label``: the new label for
    ``relabel`` (ignored otherwise). Raises ReviewError for an unknown or decided row, or a bad decision/label."""
    if re.fullmatch(REVIEW_ID_PATTERN, review_id) is None:
        raise ReviewError(f"{review_id!r} is not a review id (<batch id>--<row number>)")
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reviewer or not reviewer.isprintable():  # the name goes into the inbox CSV: a NUL would spoil it
        raise ReviewError(f"a decision needs the reviewer's name, in printable characters (not {reviewer!r})")
    new_label = normalise_label(label or "") if decision == "relabel" else None
    if decision == "relabel" and new_label is None:
        raise ReviewError(f"relabel needs one of the five labels, not {label!r}")
    with file_lock(layout.labels / ".reviews.lock"):
        record_file = layout.labels / "reviews" / f"{review_id}.json"
        if record_file.exists():
            raise ReviewError(f"{review_id} was decided already: {read_json(record_file)['decision']}")
        held = held_rows(layout)
        match = held[held["flag_id"] == review_id]
        if match.empty:
            raise ReviewError(f"no held row {review_id!r}")
        row = match.iloc[0]
        record = {"review_id": review_id, "decision": decision, "reviewer": reviewer,
                  "decided_at": datetime.now(UTC).isoformat(timespec="seconds"), "batch_id": row["batch_id"],
                  "given_label": row["label"], "suggested": row["suggested"],
                  "label": None if decision == "drop" else new_label or row["label"], "inbox_file": None}
        if decision != "drop":
            record["inbox_file"] = f"review-{review_id}.csv"
            write_csv_atomic(layout.inbox / record["inbox_file"], REVIEW_CSV_COLUMNS, [[
                row["tweet_at"], row["raw_text"], record["label"], reviewer, row["label"],
                str(record["label"] != row["label"]).lower(), review_id]])
        write_json_atomic(record_file, record)
    return record


def release_systematic(layout: DataLayout, corrections: list[dict]) -> list[dict]:
    """Accept the pending held rows that make one of ``corrections`` (records of
    label_errors.systematic_corrections); the decisions' records."""
    if not corrections:
        return []
    held = held_rows(layout)
    held = held[~held["flag_id"].isin(_decided(layout))]
    if held.empty:
        return []
    makes = follows_correction(held.reset_index(drop=True), pd.DataFrame(corrections))
    return [resolve_review(layout, review_id, "accept", None, SYSTEMATIC_REVIEWER)
            for review_id, correction in zip(held["flag_id"], makes, strict=True) if correction]
