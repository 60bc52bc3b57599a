"""Inbox → labelled store: complete files only, claimed by an atomic move, validated, cleaned, de-duplicated.

Every input row ends in the labelled store or in quarantine with its reason, and each run writes a ledger
entry in which ``rows_in == rows_accepted + rows_quarantined``.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from upath import UPath

from tweet_sentiment.csvio import decode_lines, write_csv_atomic
from tweet_sentiment.schema import (
    DATE_COLUMN,
    LABEL_COLUMN,
    LABELS,
    REQUIRED_COLUMNS,
    STORE_COLUMNS,
    TEXT_COLUMN,
    normalise_label,
)
from tweet_sentiment.storage import DataLayout, is_hidden, is_local, move, read_json, write_json_atomic
from tweet_sentiment.store import LabelledStore
from tweet_sentiment.text import clean_tweet, text_hash

QUARANTINE_COLUMNS = ("source_file", "source_row", "line", "column", "reason", "raw_text", "raw_label")
_DATE_FORMATS = ("%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class FileRejected(ValueError):
    """A whole file cannot be read as a labelled CSV; the message says why, ``rows`` how many rows it held."""

    def __init__(self, reason: str, rows: int = 0) -> None:
        super().__init__(reason)
        self.rows = rows


@dataclass
class Rejection:
    """One quarantined row: where it was and what was wrong with it."""

    source_row: int
    line: int
    column: str
    reason: str
    raw_text: str = ""
    raw_label: str = ""


@dataclass
class ParsedFile:
    """Rows of one file that passed the per-row checks, and the rows that did not."""

    name: str
    rows: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return len(self.rows) + len(self.rejections)


def batch_id_for(run_id: str) -> str:
    """A file-name-safe batch id from an Airflow run id (``manual__2026-…+00:00`` → ``manual__2026-…_00_00``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def ready_files(inbox: UPath, settle_s: float) -> list[UPath]:
    """Inbox entries that are complete: not dot-files (being written) and unchanged for ``settle_s`` seconds."""
    if not inbox.exists():
        return []
    now = time.time()
    ready = []
    for entry in sorted(inbox.iterdir(), key=lambda p: p.name):
        if is_hidden(entry):
            continue
        if is_local(entry) and not entry.is_symlink() and now - entry.stat().st_mtime < settle_s:
            continue
        ready.append(entry)
    return ready


def claim(layout: DataLayout, batch_id: str, settle_s: float) -> list[str]:
    """Move ready inbox files, and files left by runs that died, into ``processing/<batch_id>/``.

    The move is a rename, so two runs never claim the same file. Calling it again for the same batch
    (a retried task) keeps what the batch already holds. A dead run's batch is taken over whole: its rows
    leave the labelled store and its ledger entry is marked superseded, so they are ingested once, here.
    """
    target = layout.processing / batch_id
    target.mkdir(parents=True, exist_ok=True)
    for src in ready_files(layout.inbox, settle_s):
        move(src, _free_name(target, src.name))
    for orphan_dir in sorted(layout.processing.iterdir(), key=lambda p: p.name):
        if orphan_dir.name == batch_id or not orphan_dir.is_dir():
            continue
        _release_batch(layout, orphan_dir.name, batch_id)
        for src in sorted(orphan_dir.iterdir(), key=lambda p: p.name):
            move(src, _free_name(target, src.name))
        orphan_dir.rmdir()
    return sorted(p.name for p in target.iterdir())


def _release_batch(layout: DataLayout, old_batch: str, new_batch: str) -> None:
    LabelledStore(layout.labelled).drop_batch(old_batch)
    old_ledger = layout.ledger / f"{old_batch}.json"
    if old_ledger.exists():
        write_json_atomic(old_ledger, {**read_json(old_ledger), "superseded_by": new_batch})
    old_quarantine = layout.quarantine / old_batch
    if old_quarantine.exists():
        for path in old_quarantine.iterdir():
            path.unlink()
        old_quarantine.rmdir()


def _free_name(folder: UPath, name: str) -> UPath:
    candidate, n = folder / name, 1
    while candidate.exists() or candidate.is_symlink():
        candidate = folder / f"{n}-{name}"
        n += 1
    return candidate


def parse_labelled_file(name: str, data: bytes, max_text_chars: int) -> ParsedFile:
    """Validate and clean one labelled CSV. Raises FileRejected when no row of it can be trusted."""
    if not data:
        raise FileRejected("empty file (0 bytes)")
    if b"\x00" in data[:65536]:
        raise FileRejected("binary data (NUL bytes), not a CSV text file")
    reader = csv.reader(io.StringIO(decode_lines(data), newline=""))
    try:
        header = next((r for r in reader if any(c.strip() for c in r)), None)
        if header is None:
            raise FileRejected("no header row")
        columns = [c.strip().lstrip("\ufeff") for c in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            rows = sum(1 for r in reader if any(c.strip() for c in r))
            raise FileRejected(f"missing column(s) {', '.join(missing)}; the header has: {', '.join(columns)}",
                               rows)
        parsed = ParsedFile(name)
        idx = {c: columns.index(c) for c in columns}
        row_no = 0
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            row_no += 1
            _check_row(parsed, columns, idx, fields, row_no, reader.line_num, max_text_chars)
    except csv.Error as exc:
        raise FileRejected(f"not parseable as CSV near line {reader.line_num}: {exc}") from exc
    if parsed.rows_in == 0:
        raise FileRejected("header only, no data rows")
    return parsed


def _check_row(parsed: ParsedFile, columns: list[str], idx: dict[str, int], fields: list[str],
               row_no: int, line: int, max_text_chars: int) -> None:
    raw_text = fields[idx[TEXT_COLUMN]] if idx[TEXT_COLUMN] < len(fields) else ""
    raw_label = fields[idx[LABEL_COLUMN]] if idx[LABEL_COLUMN] < len(fields) else ""

    def reject(column: str, reason: str) -> None:
        parsed.rejections.append(Rejection(row_no, line, column, reason, raw_text, raw_label))

    if len(fields) != len(columns):
        return reject("*", f"expected {len(columns)} fields, found {len(fields)}")
    label = normalise_label(raw_label)
    if label is None:
        return reject(LABEL_COLUMN, f"unknown label {raw_label!r}; expected one of: {', '.join(LABELS)}")
    text = clean_tweet(raw_text)
    if not text:
        return reject(TEXT_COLUMN, "empty text after cleaning")
    if len(text) > max_text_chars:
        return reject(TEXT_COLUMN, f"text of {len(text)} characters exceeds the limit of {max_text_chars}")
    raw_date = fields[idx[DATE_COLUMN]].strip() if DATE_COLUMN in idx else ""
    parsed.rows.append({
        "text": text, "label": label, "tweet_at": _iso_date(raw_date), "text_hash": text_hash(text),
        "raw_text": raw_text, "source_file": parsed.name, "source_row": row_no,
        "line": line,
    })
    return None


def _iso_date(raw: str) -> str:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date().isoformat()
        except ValueError:
            continue
    return ""


@dataclass
class FileOutcome:
    """What became of one claimed file."""

    file: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    file_error: str = ""


def ingest_batch(layout: DataLayout, batch_id: str, max_text_chars: int) -> dict:
    """Validate, clean and de-duplicate the files claimed for ``batch_id``; write store, quarantine, ledger.

    Idempotent: a batch whose ledger entry exists is not ingested again (a retried task returns the entry).
    """
    ledger_file = layout.ledger / f"{batch_id}.json"
    if ledger_file.exists():
        return read_json(ledger_file)
    store = LabelledStore(layout.labelled)
    known = store.known_hashes(exclude={batch_id})
    accepted: list[dict] = []
    outcomes: list[FileOutcome] = []
    quarantine_dir = layout.quarantine / batch_id
    for path in sorted((layout.processing / batch_id).iterdir(), key=lambda p: p.name):
        outcome, rows, rejections = _ingest_file(path, known, max_text_chars)
        accepted.extend(rows)
        outcomes.append(outcome)
        if outcome.file_error:
            write_json_atomic(quarantine_dir / f"{path.name}.reason.json", {
                "file": path.name, "reason": outcome.file_error, "rows": outcome.rows_in})
            if not path.is_symlink():
                (quarantine_dir / path.name).write_bytes(path.read_bytes())
        if rejections:
            write_csv_atomic(quarantine_dir / f"{path.name}.rejected.csv", QUARANTINE_COLUMNS,
                             ([path.name, r.source_row, r.line, r.column, r.reason, r.raw_text, r.raw_label]
                              for r in rejections), for_people=True)
    frame = pd.DataFrame(accepted, columns=[c for c in STORE_COLUMNS if c != "batch_id"])
    frame["batch_id"] = batch_id
    if len(frame):
        store.write_batch(batch_id, frame)
    entry = _ledger_entry(batch_id, outcomes)
    write_json_atomic(ledger_file, entry)
    return entry


def _ingest_file(path: UPath, known: dict[str, str], max_text_chars: int
                 ) -> tuple[FileOutcome, list[dict], list[Rejection]]:
    try:
        if path.is_symlink():
            raise FileRejected("symbolic link: only regular files are accepted")
        if path.suffix.lower() != ".csv":
            raise FileRejected(f"not a .csv file ({path.suffix or 'no extension'})")
        parsed = parse_labelled_file(path.name, path.read_bytes(), max_text_chars)
    except FileRejected as exc:
        return FileOutcome(path.name, exc.rows, 0, exc.rows, str(exc)), [], []
    rows, rejections = [], list(parsed.rejections)
    for row in parsed.rows:
        where = known.get(row["text_hash"])
        if where is not None:
            rejections.append(Rejection(row["source_row"], row["line"], TEXT_COLUMN,
                                        f"duplicate text (already in {where})", row["raw_text"], row["label"]))
        else:
            known[row["text_hash"]] = f"{path.name} row {row['source_row']}"
            rows.append(row)
    outcome = FileOutcome(path.name, parsed.rows_in, len(rows), len(rejections))
    return outcome, rows, rejections


def _ledger_entry(batch_id: str, outcomes: list[FileOutcome]) -> dict:
    rows_in = sum(o.rows_in for o in outcomes)
    accepted = sum(o.rows_accepted for o in outcomes)
    quarantined = sum(o.rows_quarantined for o in outcomes)
    if rows_in != accepted + quarantined:
        raise AssertionError(f"ledger of {batch_id} does not balance: {rows_in} != {accepted} + {quarantined}")
    return {
        "batch_id": batch_id,
        "ingested_at": datetime.now(UTC).isoformat(),
        "files": [o.__dict__ for o in outcomes],
        "files_rejected": sum(1 for o in outcomes if o.file_error),
        "rows_in": rows_in,
        "rows_accepted": accepted,
        "rows_quarantined": quarantined,
    }
