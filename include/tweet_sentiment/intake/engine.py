"""Claimed files → a store, the rules both inboxes share: file checks, CSV rows, quarantine with reasons, ledger.

Every input row ends in the stream's store or in quarantine with its reason, and each batch writes a ledger entry
in which ``rows_in == rows_accepted + rows_superseding + rows_quarantined``. A text already stored with the same
label is a duplicate (quarantined); with another label it supersedes the stored row (the newest human label wins).
A store without labels (the unlabelled rows) knows every text with an empty label: its check is a plain duplicate
check. What a row must hold is the caller's ``check_row`` (labelled rows: ``ingest.py``; unlabelled rows:
``unlabelled.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypedDict

import pandas as pd
from upath import UPath

from tweet_sentiment.intake.retries import failures
from tweet_sentiment.schema import LABEL_COLUMN, TEXT_COLUMN
from tweet_sentiment.storage.csvio import decode_lines, read_header, write_csv_atomic
from tweet_sentiment.storage.file_digests import FileDigests, digest
from tweet_sentiment.storage.fs import Stream, is_local, list_dir, read_json, write_bytes_atomic, write_json_atomic
from tweet_sentiment.text import clean_tweet

QUARANTINE_COLUMNS = ("source_file", "source_row", "line", "column", "reason", "raw_text", "raw_label")
# A spreadsheet cell holds at most 32,767 characters; longer raw text is cut in the report (the file is archived).
_REPORT_CELL_CHARS = 32_000
# Raw text this many times over the limit is rejected before cleaning (cleaning megabytes is slow, and futile).
_RAW_TEXT_FACTOR = 20

# A row's fields by column name → the accepted row, or (column, reason) to quarantine it.
RowCheck = Callable[[dict[str, str]], "dict | tuple[str, str]"]


class FileRejected(ValueError):
    """A whole file cannot be read as the stream's CSV; the message says why, ``rows`` how many rows it held."""

    def __init__(self, reason: str, rows: int = 0) -> None:
        super().__init__(reason)
        self.rows = rows


@dataclass
class Rejection:
    """One quarantined row: where it was and what was wrong with it."""

    source_row: int
    line: int  # the line of the file the row starts on
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


def clean_text(raw_text: str, max_text_chars: int) -> tuple[str, str]:
    """(cleaned text, "") or ("", the reason the text cannot be used)."""
    if len(raw_text) > _RAW_TEXT_FACTOR * max_text_chars:
        return "", f"text of {len(raw_text)} characters exceeds the limit of {max_text_chars}"
    text = clean_tweet(raw_text)
    if not text:
        return "", "empty text after cleaning"
    if len(text) > max_text_chars:
        return "", f"text of {len(text)} characters exceeds the limit of {max_text_chars}"
    return text, ""


def parse_csv(name: str, data: bytes, required: Sequence[str], check_row: RowCheck) -> ParsedFile:
    """Decode one CSV, check its header and each row's field count, then ``check_row``; FileRejected when no
    row of it can be trusted. Accepted rows get ``source_file``, ``source_row`` and ``line``."""
    if not data:
        raise FileRejected("empty file (0 bytes)")
    text = decode_lines(data)
    if "\x00" in text[:65536]:
        raise FileRejected("binary data (NUL bytes), not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_rows(name, reader, required, check_row)
    except csv.Error as exc:
        raise FileRejected(f"not parseable as CSV near line {reader.line_num}: {exc}") from exc
    except FileRejected:
        raise
    except Exception as exc:  # whatever a row does, the file is quarantined and the batch goes on
        raise FileRejected(f"unexpected {type(exc).__name__} near line {reader.line_num}: {exc}") from exc


def _parse_rows(name: str, reader: Iterator[list[str]], required: Sequence[str], check_row: RowCheck) -> ParsedFile:
    """The header and rows of one CSV being read (see parse_csv)."""
    columns = read_header(reader)
    if columns is None:
        raise FileRejected("no header row")
    missing = [c for c in required if c not in columns]
    if missing:
        rows = sum(1 for r in reader if any(c.strip() for c in r))
        raise FileRejected(f"missing column(s) {', '.join(missing)}; the header has: {', '.join(columns)}",
                           rows)
    parsed = ParsedFile(name)
    row_no, first_line = 0, reader.line_num + 1
    for fields in reader:
        if any(f.strip() for f in fields):
            row_no += 1
            _check(parsed, columns, fields, row_no, (first_line, reader.line_num), check_row)
        first_line = reader.line_num + 1
    if parsed.rows_in == 0:
        raise FileRejected("header only, no data rows")
    return parsed


def _check(parsed: ParsedFile, columns: list[str], fields: list[str], row_no: int, lines: tuple[int, int],
           check_row: RowCheck) -> None:
    named = {c: fields[i] if i < len(fields) else "" for i, c in enumerate(columns)}
    first_line, last_line = lines  # a row with line breaks inside quotes spans several lines: named by its first
    if len(fields) != len(columns):
        hint = (f" (the row runs from line {first_line} to line {last_line}: a quote opened and never closed?)"
                if last_line - first_line > 10 else "")
        outcome: dict | tuple[str, str] = ("*", f"expected {len(columns)} fields, found {len(fields)}{hint}")
    elif any("\x00" in f for f in fields):  # past the file's first 64 KiB (the binary check): never stored
        outcome = ("*", "NUL byte in the row (binary data, not text)")
    else:
        outcome = check_row(named)
    if isinstance(outcome, tuple):
        parsed.rejections.append(Rejection(row_no, first_line, outcome[0], outcome[1], named.get(TEXT_COLUMN, ""),
                                           named.get(LABEL_COLUMN, "")))
    else:
        parsed.rows.append({**outcome, "source_file": parsed.name, "source_row": row_no, "line": first_line})


@dataclass
class FileOutcome:
    """What became of one claimed file: new texts accepted, texts relabelled (superseding), rows quarantined."""

    file: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    file_error: str = ""
    rows_superseding: int = 0
    sha256: str = ""


def _no_stamp(frame: pd.DataFrame) -> dict:
    return {}



class RowStore(Protocol):
    """What an intake writes a batch's accepted rows to (the labelled store, the scored stream's tables)."""

    def write_batch(self, batch_id: str, rows: pd.DataFrame) -> None: ...

    def known_labels(self, hashes: Sequence[str], exclude: Iterable[str] = ()) -> dict[str, tuple[str, str]]:
        """Of ``hashes``, those stored by a batch not in ``exclude``: hash → (label, where)."""
        ...


class Ledger(TypedDict, total=False):
    """A batch's ledger (the run's first XCom and ``<stream>/ledger/<batch_id>.json``). It balances: ``rows_in`` =
    ``rows_accepted`` + ``rows_superseding`` + ``rows_quarantined`` (+ ``rows_held`` once the label check held
    some); ``superseded_by`` marks a dead run's batch that another run took over."""

    batch_id: str
    ingested_at: str
    files: list[dict]
    files_rejected: int
    rows_in: int
    rows_accepted: int
    rows_superseding: int
    rows_quarantined: int
    rows_held: int
    superseded_by: str
    seconds: float


@dataclass(frozen=True)
class Intake:
    """How one stream ingests: its folders, the parser of one claimed file, its store and the columns it keeps."""

    stream: Stream
    parse: Callable[[UPath, bytes], ParsedFile]
    store: RowStore
    columns: tuple[str, ...]
    max_file_bytes: int | None = None
    # Adds the stream's own columns to a batch's accepted rows (in place); returns extra ledger keys.
    stamp: Callable[[pd.DataFrame], dict] = _no_stamp
    # The index of ingested files' digests (file_digests.py): a file sent twice is a duplicate batch. None: off.
    digests: UPath | None = None
    # A claimed file alone in the batches of this many failed runs is quarantined unread (retries.py). None: never.
    max_failed_runs: int | None = None


def ingest_claimed(intake: Intake, batch_id: str) -> Ledger:
    """Check, parse and de-duplicate the files claimed for ``batch_id``; write store, quarantine and ledger.

    A file over ``max_file_bytes`` is refused unread (its reason in quarantine; the file archived with the
    batch); one with the bytes of a file already ingested (``intake.digests``) is quarantined whole as a
    duplicate batch. Idempotent: a batch whose ledger entry exists is not ingested again (a retried task
    returns it).
    """
    stream = intake.stream
    ledger_file = stream.ledger / f"{batch_id}.json"
    if ledger_file.exists():
        return read_json(ledger_file)
    known = KnownTexts(intake.store, batch_id)
    digests = FileDigests(intake.digests, stream.ledger) if intake.digests else None
    sent = digests.live(batch_id) if digests else None
    accepted: list[dict] = []
    outcomes: list[FileOutcome] = []
    for path in list_dir(stream.processing / batch_id):
        outcome, rows, rejections = _ingest_file(intake, path, known, sent)
        accepted.extend(rows)
        outcomes.append(outcome)
        _quarantine(stream.quarantine / batch_id, path, outcome, rejections, intake.max_file_bytes)
    frame = pd.DataFrame(accepted, columns=[c for c in intake.columns if c != "batch_id"])
    frame["batch_id"] = batch_id
    extra = intake.stamp(frame)
    if len(frame):
        intake.store.write_batch(batch_id, frame)
    if digests:
        digests.record(batch_id, {o.sha256: o.file for o in outcomes if o.sha256 and not o.file_error})
    entry = {**_ledger_entry(batch_id, outcomes), **extra}
    write_json_atomic(ledger_file, entry)
    return entry


def _quarantine(folder: UPath, path: UPath, outcome: FileOutcome, rejections: list[Rejection],
                max_file_bytes: int | None) -> None:
    if outcome.file_error:
        _quarantine_whole_file(folder, path, outcome, max_file_bytes)
    if rejections:
        write_csv_atomic(folder / f"{path.name}.rejected.csv", QUARANTINE_COLUMNS,
                         ([path.name, r.source_row, r.line, r.column, r.reason, _report_cell(r.raw_text),
                           _report_cell(r.raw_label)] for r in rejections), for_people=True)


def _quarantine_whole_file(folder: UPath, path: UPath, outcome: FileOutcome, max_file_bytes: int | None) -> None:
    """The reason beside a copy of the file. A link is never followed, a folder never copied, and a file over
    the size limit is never read: it stays with its batch, which is archived whole."""
    regular = path.is_file() and not path.is_symlink()
    copied = regular and (max_file_bytes is None or path.stat().st_size <= max_file_bytes)
    write_json_atomic(folder / f"{path.name}.reason.json", {
        "file": path.name, "reason": outcome.file_error, "rows": outcome.rows_in, "copied": copied})
    if copied:
        write_bytes_atomic(folder / path.name, path.read_bytes())


def _report_cell(value: str) -> str:
    if len(value) <= _REPORT_CELL_CHARS:
        return value
    return f"{value[:_REPORT_CELL_CHARS]}… [cut: {len(value)} characters in all]"


def read_claimed(path: UPath, max_file_bytes: int | None) -> bytes:
    """The bytes of a claimed file, or FileRejected: not a regular .csv file, too large (unread), unreadable."""
    if path.is_symlink():
        raise FileRejected("symbolic link: only regular files are accepted")
    if not path.is_file():
        raise FileRejected("not a regular file (a folder?): only files are accepted")
    if path.suffix.lower() != ".csv":
        raise FileRejected(f"not a .csv file ({path.suffix or 'no extension'})")
    size = path.stat().st_size
    if max_file_bytes is not None and size > max_file_bytes:
        raise FileRejected(f"file of {size / 2**20:.1f} MB exceeds the limit of {max_file_bytes / 2**20:.1f} MB; "
                           "split it into smaller batches (not read, not copied here: it is archived with its "
                           "batch)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FileRejected(f"cannot be read: {exc.strerror or exc}") from exc


def arrival_time(path: UPath) -> datetime:
    """When a file arrived: its modification time on a local folder (a claim's rename keeps it), else now."""
    if is_local(path):
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return datetime.now(UTC)


class KnownTexts(dict):
    """text hash → (label, where) of the texts stored before this batch and accepted in it so far; the store is
    asked, file by file, only about the hashes of that file's rows (never read whole)."""

    def __init__(self, store: RowStore, batch_id: str) -> None:
        super().__init__()
        self.store, self.batch_id, self.asked = store, batch_id, set()

    def learn(self, hashes: list[str]) -> None:
        """Ask the store about those of ``hashes`` not asked yet."""
        new = sorted(set(hashes) - self.asked)
        self.asked.update(new)
        for h, known in self.store.known_labels(new, exclude={self.batch_id}).items():
            self.setdefault(h, known)


def _ingest_file(intake: Intake, path: UPath, known: KnownTexts, sent: dict[str, str] | None
                 ) -> tuple[FileOutcome, list[dict], list[Rejection]]:
    """One file's outcome, accepted rows and rejections; ``sent``: digest → where, of the files ingested before
    (this file's digest is added to it)."""
    try:
        _refuse_after_failed_runs(intake, path.name)
        data = read_claimed(path, intake.max_file_bytes)
        parsed = intake.parse(path, data)
    except FileRejected as exc:
        return FileOutcome(path.name, exc.rows, 0, exc.rows, str(exc)), [], []
    except Exception as exc:  # one file never stops the batch: it is quarantined
        return FileOutcome(path.name, 0, 0, 0, f"unexpected {type(exc).__name__} while reading: {exc}"), [], []
    sha256 = digest(data)
    if sent is not None and sha256 in sent:
        reason = f"duplicate batch: the same bytes as {sent[sha256]}"
        return FileOutcome(path.name, parsed.rows_in, 0, parsed.rows_in, reason, 0, sha256), [], []
    if sent is not None:
        sent[sha256] = f"{path.name}, earlier in this batch"
    rows, rejections, superseding = [], list(parsed.rejections), 0
    known.learn([row["text_hash"] for row in parsed.rows])
    for row in parsed.rows:
        label, where = known.get(row["text_hash"], (None, ""))
        if label == (row.get("label") or ""):
            rejections.append(Rejection(row["source_row"], row["line"], TEXT_COLUMN,
                                        f"duplicate text (already in {where})", row["raw_text"],
                                        row.get("label") or ""))
            continue
        superseding += label is not None
        known[row["text_hash"]] = (row.get("label") or "", f"{path.name} row {row['source_row']}")
        rows.append(row)
    outcome = FileOutcome(path.name, parsed.rows_in, len(rows) - superseding, len(rejections), "", superseding,
                          sha256)
    return outcome, rows, rejections


def _refuse_after_failed_runs(intake: Intake, name: str) -> None:
    failed = failures(intake.stream, name)
    if intake.max_failed_runs is not None and failed["alone"] >= intake.max_failed_runs:
        raise FileRejected(f"set aside unread: {failed['alone']} runs failed with this file alone in their batch "
                           f"(the limit is {intake.max_failed_runs}; the failed runs' batches: "
                           f"{', '.join(failed['runs'])}); once it is fixed, release it: "
                           f"python -m tweet_sentiment quarantine release {name}")


def _ledger_entry(batch_id: str, outcomes: list[FileOutcome]) -> Ledger:
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
    }
