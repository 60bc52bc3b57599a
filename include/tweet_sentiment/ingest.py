"""Claimed files → labelled store: validated, cleaned, de-duplicated, every other row quarantined with its reason.

Every input row ends in the labelled store or in quarantine with its reason, and each run writes a ledger
entry in which ``rows_in == rows_accepted + rows_superseding + rows_quarantined`` (superseding: a text stored
before, relabelled). A deterministic share of each batch's texts is flagged as the recent human holdout.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from upath import UPath

from tweet_sentiment.csvio import decode_lines, read_header, write_csv_atomic
from tweet_sentiment.datafs import DataLayout, list_dir, read_json, write_bytes_atomic, write_json_atomic
from tweet_sentiment.labelled_store import LabelledStore
from tweet_sentiment.schema import (
    DATE_COLUMN,
    LABEL_COLUMN,
    LABELS,
    REQUIRED_COLUMNS,
    STORE_COLUMNS,
    TEXT_COLUMN,
    normalise_label,
)
from tweet_sentiment.text import clean_tweet, in_hash_slice, text_hash

QUARANTINE_COLUMNS = ("source_file", "source_row", "line", "column", "reason", "raw_text", "raw_label")
# A spreadsheet cell holds at most 32,767 characters; longer raw text is cut in the report (the file is archived).
_REPORT_CELL_CHARS = 32_000
# Raw text this many times over the limit is rejected before cleaning (cleaning megabytes is slow, and futile).
_RAW_TEXT_FACTOR = 20
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


def parse_labelled_file(name: str, data: bytes, max_text_chars: int) -> ParsedFile:
    """Validate and clean one labelled CSV. Raises FileRejected when no row of it can be trusted."""
    if not data:
        raise FileRejected("empty file (0 bytes)")
    text = decode_lines(data)
    if "\x00" in text[:65536]:
        raise FileRejected("binary data (NUL bytes), not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = read_header(reader)
        if columns is None:
            raise FileRejected("no header row")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            rows = sum(1 for r in reader if any(c.strip() for c in r))
            raise FileRejected(f"missing column(s) {', '.join(missing)}; the header has: {', '.join(columns)}",
                               rows)
        parsed = ParsedFile(name)
        idx = {c: columns.index(c) for c in columns}
        row_no, first_line = 0, reader.line_num + 1
        for fields in reader:
            if any(f.strip() for f in fields):
                row_no += 1
                _check_row(parsed, columns, idx, fields, row_no, (first_line, reader.line_num), max_text_chars)
            first_line = reader.line_num + 1
    except csv.Error as exc:
        raise FileRejected(f"not parseable as CSV near line {reader.line_num}: {exc}") from exc
    if parsed.rows_in == 0:
        raise FileRejected("header only, no data rows")
    return parsed


def _check_row(parsed: ParsedFile, columns: list[str], idx: dict[str, int], fields: list[str],
               row_no: int, lines: tuple[int, int], max_text_chars: int) -> None:
    raw_text = fields[idx[TEXT_COLUMN]] if idx[TEXT_COLUMN] < len(fields) else ""
    raw_label = fields[idx[LABEL_COLUMN]] if idx[LABEL_COLUMN] < len(fields) else ""
    first_line, line = lines

    def reject(column: str, reason: str) -> None:
        parsed.rejections.append(Rejection(row_no, line, column, reason, raw_text, raw_label))

    if len(fields) != len(columns):
        hint = (f" (the row runs from line {first_line} to line {line}: a quote opened and never closed?)"
                if line - first_line > 10 else "")
        return reject("*", f"expected {len(columns)} fields, found {len(fields)}{hint}")
    label = normalise_label(raw_label)
    if label is None:
        return reject(LABEL_COLUMN, f"unknown label {raw_label!r}; expected one of: {', '.join(LABELS)}")
    if len(raw_text) > _RAW_TEXT_FACTOR * max_text_chars:
        return reject(TEXT_COLUMN, f"text of {len(raw_text)} characters exceeds the limit of {max_text_chars}")
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
    """What became of one claimed file: new texts accepted, texts relabelled (superseding), rows quarantined."""

    file: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    file_error: str = ""
    rows_superseding: int = 0


@dataclass(frozen=True)
class RecentHoldout:
    """The share of each batch's texts set aside as the recent human holdout, chosen by a salted text hash."""

    fraction: float = 0.0
    salt: str = "recent-holdout"


def ingest_batch(layout: DataLayout, batch_id: str, max_text_chars: int, max_file_bytes: int | None = None,
                 holdout: RecentHoldout = RecentHoldout()) -> dict:
    """Validate, clean and de-duplicate the files claimed for ``batch_id``; write store, quarantine, ledger.

    A text already stored with the same label is a duplicate (quarantined); with another label it supersedes
    the older row (the newest human label wins). A file over ``max_file_bytes`` is quarantined whole, unread.
    Idempotent: a batch whose ledger entry exists is not ingested again (a retried task returns the entry).
    """
    ledger_file = layout.ledger / f"{batch_id}.json"
    if ledger_file.exists():
        return read_json(ledger_file)
    store = LabelledStore(layout.labelled)
    known = store.known_labels(exclude={batch_id})
    accepted: list[dict] = []
    outcomes: list[FileOutcome] = []
    for path in list_dir(layout.processing / batch_id):
        outcome, rows, rejections = _ingest_file(path, known, max_text_chars, max_file_bytes)
        accepted.extend(rows)
        outcomes.append(outcome)
        _quarantine(layout.quarantine / batch_id, path, outcome, rejections)
    frame = pd.DataFrame(accepted, columns=list(STORE_COLUMNS))
    frame["batch_id"] = batch_id
    frame["ingested_at"] = datetime.now(UTC).isoformat()
    frame["seq"] = range(len(frame))
    frame["recent_holdout"] = in_hash_slice(frame["text_hash"].tolist(), holdout.fraction, holdout.salt)
    if len(frame):
        store.write_batch(batch_id, frame)
    entry = _ledger_entry(batch_id, outcomes, int(frame["recent_holdout"].sum()))
    write_json_atomic(ledger_file, entry)
    return entry


def _quarantine(folder: UPath, path: UPath, outcome: FileOutcome, rejections: list[Rejection]) -> None:
    """Write a refused file (a copy and its reason) or a file's rejected rows into the batch's quarantine."""
    if outcome.file_error:
        write_json_atomic(folder / f"{path.name}.reason.json", {
            "file": path.name, "reason": outcome.file_error, "rows": outcome.rows_in})
        if path.is_file() and not path.is_symlink():
            write_bytes_atomic(folder / path.name, path.read_bytes())
    if rejections:
        write_csv_atomic(folder / f"{path.name}.rejected.csv", QUARANTINE_COLUMNS,
                         ([path.name, r.source_row, r.line, r.column, r.reason, _report_cell(r.raw_text),
                           _report_cell(r.raw_label)] for r in rejections), for_people=True)


def _report_cell(value: str) -> str:
    if len(value) <= _REPORT_CELL_CHARS:
        return value
    return f"{value[:_REPORT_CELL_CHARS]}… [cut: {len(value)} characters in all]"


def _read_claimed(path: UPath, max_text_chars: int, max_file_bytes: int | None) -> ParsedFile:
    """Parse one claimed file; FileRejected for anything that is not a readable, small enough CSV file."""
    if path.is_symlink():
        raise FileRejected("symbolic link: only regular files are accepted")
    if not path.is_file():
        raise FileRejected("not a regular file (a folder?): only files are accepted")
    if path.suffix.lower() != ".csv":
        raise FileRejected(f"not a .csv file ({path.suffix or 'no extension'})")
    size = path.stat().st_size
    if max_file_bytes is not None and size > max_file_bytes:
        raise FileRejected(f"file of {size / 2**20:.1f} MB exceeds the limit of {max_file_bytes / 2**20:.1f} MB; "
                           "split it into smaller batches")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileRejected(f"cannot be read: {exc.strerror or exc}") from exc
    return parse_labelled_file(path.name, data, max_text_chars)


def _ingest_file(path: UPath, known: dict[str, tuple[str, str]], max_text_chars: int, max_file_bytes: int | None
                 ) -> tuple[FileOutcome, list[dict], list[Rejection]]:
    try:
        parsed = _read_claimed(path, max_text_chars, max_file_bytes)
    except FileRejected as exc:
        return FileOutcome(path.name, exc.rows, 0, exc.rows, str(exc)), [], []
    rows, rejections, superseding = [], list(parsed.rejections), 0
    for row in parsed.rows:
        label, where = known.get(row["text_hash"], (None, ""))
        if label == row["label"]:
            rejections.append(Rejection(row["source_row"], row["line"], TEXT_COLUMN,
                                        f"duplicate text (already in {where})", row["raw_text"], row["label"]))
            continue
        superseding += label is not None
        known[row["text_hash"]] = (row["label"], f"{path.name} row {row['source_row']}")
        rows.append(row)
    outcome = FileOutcome(path.name, parsed.rows_in, len(rows) - superseding, len(rejections), "", superseding)
    return outcome, rows, rejections


def _ledger_entry(batch_id: str, outcomes: list[FileOutcome], recent_holdout_rows: int) -> dict:
    """The batch's ledger; it balances: rows in = new texts accepted + relabelled texts + rows quarantined."""
    totals = {key: sum(getattr(o, key) for o in outcomes)
              for key in ("rows_in", "rows_accepted", "rows_superseding", "rows_quarantined")}
    if totals["rows_in"] != totals["rows_accepted"] + totals["rows_superseding"] + totals["rows_quarantined"]:
        raise AssertionError(f"ledger of {batch_id} does not balance: {totals}")
    return {
        "batch_id": batch_id,
        "ingested_at": datetime.now(UTC).isoformat(),
        "files": [o.__dict__ for o in outcomes],
        "files_rejected": sum(1 for o in outcomes if o.file_error),
        **totals,
        "rows_recent_holdout": recent_holdout_rows,
    }
