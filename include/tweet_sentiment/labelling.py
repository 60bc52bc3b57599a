"""The annotators' queue: unlabelled tweets pre-annotated by the champion, most uncertain first, sent as batches.

State lives under ``<data root>/labelling/`` (``queue.json``: pending and labelled-but-unsent tweets and how far
each source file was read; ``batches.json``: every batch sent, with its correction rate), so it survives
restarts. A sent batch is one CSV in the inbox, in the columns the DAG reads plus the feedback columns. The API
server and the scoring DAG (which re-annotates the queue for a new champion) both write the queue: every change
is a read-modify-write under a lock that holds across processes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from tweet_sentiment.csvio import decode_lines, read_header, write_csv_atomic
from tweet_sentiment.datafs import DataLayout, file_lock, read_json, write_json_atomic
from tweet_sentiment.prediction import Prediction, Predictor
from tweet_sentiment.schema import (
    DATE_COLUMN,
    FEEDBACK_COLUMNS,
    KAGGLE_COLUMNS,
    LABELS,
    TEXT_COLUMN,
    normalise_label,
)
from tweet_sentiment.text import clean_tweet, text_hash

BATCH_COLUMNS: tuple[str, ...] = (*KAGGLE_COLUMNS, *FEEDBACK_COLUMNS)
_OPTIONAL_COLUMNS = ("UserName", "ScreenName", "Location", DATE_COLUMN)
_PREDICT_CHUNK = 256
DRIFT_SOURCE = "drifted window"


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


def _suggest(item: dict, prediction: Prediction) -> None:
    item.update(suggested=prediction.label, probabilities=prediction.probabilities,
                margin=round(prediction.margin, 5), version=prediction.version)


def read_unlabelled(name: str, data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, fields) of an unlabelled CSV that has an ``OriginalTweet`` column; blank rows are skipped."""
    reader = csv.reader(io.StringIO(decode_lines(data), newline=""))
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


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:40] or "annotator"


class LabellingQueue:
    """Load, pre-annotate, order, label and send; one instance per process (its lock orders the writes)."""

    def __init__(self, layout: DataLayout, predictor: Predictor, max_chars: int) -> None:
        self.layout = layout
        self.predictor = predictor
        self.max_chars = max_chars
        self._queue_file = layout.labelling / "queue.json"
        self._batches_file = layout.labelling / "batches.json"
        self._lock = threading.Lock()

    # -- state -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The queue's lock: this process's threads, then every process (the API server, a DAG task) by an flock
        beside the queue file (local data roots; on object storage the process lock alone)."""
        with self._lock, file_lock(self.layout.labelling / ".queue.lock"):
            yield

    def _state(self) -> dict:
        if self._queue_file.exists():
            return read_json(self._queue_file)
        return {"items": [], "cursors": {}, "sent_ids": []}

    def _save(self, state: dict) -> None:
        write_json_atomic(self._queue_file, state)

    def batches(self) -> list[dict]:
        """Every batch sent so far, oldest first, with its correction rate."""
        return read_json(self._batches_file) if self._batches_file.exists() else []

    # -- loading -----------------------------------------------------------------------------------------
    def load(self, name: str, data: bytes, limit: int, resume: bool = False,
             drifted: pd.DataFrame | None = None, drift_share: float = 0.0) -> LoadReport:
        """Queue up to ``limit`` new tweets, each pre-annotated by the champion.

        With ``drifted`` (the drifted window's tweets, most unlike the reference first: see drift_watch), a
        ``drift_share`` of them comes from there, so people label what the model now sees; the rest from the CSV.
        ``resume`` continues where the previous load of the same file stopped (the configured 2022 file); an
        upload is read from its start. Tweets already queued or sent are not queued again.
        """
        report = LoadReport(name)
        with self._locked():
            state = self._state()
            known = {item["id"] for item in state["items"]} | set(state["sent_ids"])
            rows = self._from_drifted(drifted, round(limit * drift_share), known) if drifted is not None else []
            report.drifted = len(rows)
            start = state["cursors"].get(name, 0) if resume else 0
            file_rows, last_row = self._from_file(name, data, limit - len(rows), start, known, report)
            rows += file_rows
            self._annotate(rows)
            state["items"].extend(rows)
            if resume:
                state["cursors"][name] = last_row
            self._save(state)
        report.queued = len(rows)
        return report

    def _from_file(self, name: str, data: bytes, limit: int, start: int, known: set[str],
                   report: LoadReport) -> tuple[list[dict], int]:
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
            item = self._new_item(row_no, fields, known, report)
            if item:
                known.add(item["id"])
                rows.append(item)
        return rows, last_row

    def _from_drifted(self, drifted: pd.DataFrame, limit: int, known: set[str]) -> list[dict]:
        """Up to ``limit`` new items from the drifted window's tweets, in their order (known ones passed over)."""
        rows: list[dict] = []
        report = LoadReport(DRIFT_SOURCE)
        for rank, tweet in enumerate(drifted.itertuples(), start=1):
            if len(rows) >= limit:
                break
            item = self._new_item(rank, {TEXT_COLUMN: tweet.raw_text, DATE_COLUMN: str(tweet.tweet_at)}, known,
                                  report)
            if item:
                known.add(item["id"])
                rows.append(item)
        return rows

    def _annotate(self, rows: list[dict]) -> None:
        """Pre-annotate new items with the champion (their cleaned text leaves them)."""
        for i in range(0, len(rows), _PREDICT_CHUNK):
            chunk = rows[i:i + _PREDICT_CHUNK]
            for item, prediction in zip(chunk, self.predictor.predict_cleaned([r.pop("clean") for r in chunk]),
                                        strict=True):
                _suggest(item, prediction)

    def rescore(self) -> dict:
        """Pre-annotate again, with the champion now, the pending tweets another version suggested; tweets already
        labelled (sent or not) keep their label and the suggestion their annotator saw (the correction rate's)."""
        with self._locked():
            state = self._state()
            version = self.predictor.champion().version
            stale = [i for i in state["items"] if i["label"] is None and i.get("version") != version]
            for i in range(0, len(stale), _PREDICT_CHUNK):
                chunk = stale[i:i + _PREDICT_CHUNK]
                for item, prediction in zip(chunk, self.predictor.predict_cleaned(
                        [clean_tweet(item["text"]) for item in chunk]), strict=True):
                    _suggest(item, prediction)
            if stale:
                self._save(state)
        labelled = sum(1 for i in state["items"] if i["label"] is not None)
        return {"version": version, "rescored": len(stale), "labelled_kept": labelled}

    def _new_item(self, row_no: int, fields: dict[str, str], known: set[str], report: LoadReport) -> dict | None:
        raw = fields[TEXT_COLUMN]
        clean = clean_tweet(raw)
        reason = ""
        if not clean:
            reason = "empty text after cleaning"
        elif len(clean) > self.max_chars:
            reason = f"text of {len(clean)} characters exceeds the limit of {self.max_chars}"
        elif text_hash(clean)[:16] in known:
            reason = "already queued or sent"
        if reason:
            report.skipped.append({"row": row_no, "reason": reason})
            return None
        return {"id": text_hash(clean)[:16], "row": row_no, "source": report.source, "text": raw, "clean": clean,
                **{c: fields.get(c, "") for c in _OPTIONAL_COLUMNS}, "label": None, "annotator": None}

    # -- the queue ---------------------------------------------------------------------------------------
    def view(self, predicted: str | None = None, limit: int = 50) -> dict:
        """Pending tweets most uncertain first (smallest top-2 margin), optionally of one predicted class."""
        if predicted is not None and predicted not in LABELS:
            raise LabellingInputError(f"unknown class {predicted!r}; expected one of: {', '.join(LABELS)}")
        state = self._state()
        pending = [i for i in state["items"] if i["label"] is None]
        by_class = {label: sum(1 for i in pending if i["suggested"] == label) for label in LABELS}
        if predicted:
            pending = [i for i in pending if i["suggested"] == predicted]
        pending.sort(key=lambda i: (i["margin"], i["id"]))
        labelled = [i for i in state["items"] if i["label"] is not None]
        return {"items": pending[:max(0, limit)], "remaining": len(pending), "pending_by_class": by_class,
                "labelled_unsent": len(labelled)}

    def record(self, item_id: str, label: str, annotator: str) -> dict:
        """Record a person's label for one queued tweet (a later label of the same tweet replaces it)."""
        canonical = normalise_label(label)
        if canonical is None:
            raise LabellingInputError(f"unknown label {label!r}; expected one of: {', '.join(LABELS)}")
        with self._locked():
            state = self._state()
            item = next((i for i in state["items"] if i["id"] == item_id), None)
            if item is None:
                raise KeyError(f"no queued tweet {item_id!r} (sent already, or never loaded)")
            item.update(label=canonical, annotator=annotator,
                        labelled_at=datetime.now(UTC).isoformat(timespec="seconds"))
            self._save(state)
        return item

    def send_batch(self, annotator: str) -> dict:
        """Write the annotator's labelled tweets into the inbox as one CSV (atomically) and record the batch.

        The CSV is written before the queue forgets the rows: a crash in between can only send them twice,
        and the ingest drops the second copy as a duplicate.
        """
        with self._locked():
            state = self._state()
            mine = [i for i in state["items"] if i["label"] is not None and i["annotator"] == annotator]
            if not mine:
                raise LabellingInputError(f"{annotator} has no labelled tweets to send")
            sent_at = datetime.now(UTC)
            # unique even for sends within one second (a storm): a same-named file would replace the earlier one
            name = f"feedback-{sent_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:4]}-{_safe_name(annotator)}-{len(mine)}.csv"
            corrected = [i["label"] != i["suggested"] for i in mine]
            rows = [[i["UserName"], i["ScreenName"], i["Location"], i[DATE_COLUMN], i["text"], i["label"],
                     annotator, i["suggested"], str(c).lower()] for i, c in zip(mine, corrected, strict=True)]
            write_csv_atomic(self.layout.inbox / name, BATCH_COLUMNS, rows)
            record = {"file": name, "sent_at": sent_at.isoformat(timespec="seconds"), "annotator": annotator,
                      "rows": len(mine), "corrected": sum(corrected),
                      "correction_rate": round(sum(corrected) / len(mine), 4),
                      "champion_versions": sorted({i["version"] for i in mine})}
            sent = {i["id"] for i in mine}
            state["items"] = [i for i in state["items"] if i["id"] not in sent]
            state["sent_ids"].extend(sorted(sent))
            write_json_atomic(self._batches_file, [*self.batches(), record])
            self._save(state)
        return record

