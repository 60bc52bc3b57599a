"""A sent batch as the retrain DAG reads it: one CSV in the inbox, in the DAG's columns plus the feedback columns
(who labelled it, what the model suggested, whether the person corrected it)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from upath import UPath

from tweet_sentiment.schema import DATE_COLUMN, FEEDBACK_COLUMNS, KAGGLE_COLUMNS
from tweet_sentiment.storage.csvio import write_csv_atomic

BATCH_COLUMNS: tuple[str, ...] = (*KAGGLE_COLUMNS, *FEEDBACK_COLUMNS)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:40] or "annotator"


def write_sent_batch(inbox: UPath, annotator: str, items: list[dict]) -> dict:
    """Write the annotator's decided ``items`` into ``inbox`` as one CSV (atomically); the batch's record."""
    sent_at = datetime.now(UTC)
    # unique even for sends within one second (a storm): a same-named file would replace the earlier one
    name = f"feedback-{sent_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:4]}-{_safe_name(annotator)}-{len(items)}.csv"
    corrected = [i["label"] != i["suggested"] for i in items]
    rows = [[i["UserName"], i["ScreenName"], i["Location"], i[DATE_COLUMN], i["text"], i["label"],
             annotator, i["suggested"], str(c).lower()] for i, c in zip(items, corrected, strict=True)]
    write_csv_atomic(inbox / name, BATCH_COLUMNS, rows)
    return {"file": name, "sent_at": sent_at.isoformat(timespec="seconds"), "annotator": annotator,
            "rows": len(items), "corrected": sum(corrected), "correction_rate": round(sum(corrected) / len(items), 4),
            "champion_versions": sorted({i["version"] for i in items})}
