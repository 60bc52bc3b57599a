"""What an inbox quarantined, for a person: every file refused whole and every row rejected, with its reason; and
the release of a fixed file back to the inbox, once.

A batch's quarantine is ``<stream quarantine>/<batch_id>/``: ``<file>.reason.json`` (and a copy of the file, when
it could be copied) for a file refused whole, ``<file>.rejected.csv`` for its rejected rows (engine.py writes both).
A release writes the file (the quarantined copy, or a fixed one) into the inbox under a free name and records
``released_at`` / ``released_as`` in the reason, so the file is released once and its rows come in once, counted by
the ledger of the batch that ingests them; the ledger of the batch that refused it stays as it balanced.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from tweet_sentiment.storage.fs import Stream, list_dir, read_json, write_bytes_atomic, write_json_atomic

_REASON = ".reason.json"
_REJECTED = ".rejected.csv"


class ReleaseError(ValueError):
    """A release that cannot be done; the message says why (unknown, ambiguous, released already, no copy)."""


@dataclass
class Quarantined:
    """One quarantined file (``row`` 0) or row, where it is and why."""

    batch_id: str
    file: str
    row: int
    line: int
    reason: str
    released_as: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def quarantined(stream: Stream) -> list[Quarantined]:
    """Every file refused whole and every row rejected in ``stream``, by batch and file."""
    found: list[Quarantined] = []
    for batch in list_dir(stream.quarantine):
        for path in list_dir(batch):
            if path.name.endswith(_REASON):
                reason = read_json(path)
                found.append(Quarantined(batch.name, reason["file"], 0, 0, reason["reason"],
                                         reason.get("released_as", "")))
            elif path.name.endswith(_REJECTED):
                rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
                found.extend(Quarantined(batch.name, r["source_file"], int(r["source_row"]), int(r["line"]),
                                         f"{r['column']}: {r['reason']}") for r in rows)
    return found


def release(stream: Stream, name: str, fixed: bytes | None = None) -> str:
    """Write the quarantined file ``name`` (``<batch_id>/<file>`` where several batches refused one of that
    name) back to the inbox: ``fixed`` if given, else the quarantined copy (mended in place). The inbox name."""
    reason_file = _reason_file(stream, name)
    reason = read_json(reason_file)
    if reason.get("released_as"):
        raise ReleaseError(f"{name} was released already, as {reason['released_as']} ({reason['released_at']})")
    copy = reason_file.with_name(reason["file"])
    if fixed is None and not copy.exists():
        raise ReleaseError(f"{name}: no copy was kept (a link, a folder or a file over the size limit); give the "
                           "fixed file")
    data = fixed if fixed is not None else copy.read_bytes()
    target, n = stream.inbox / reason["file"], 1
    while target.exists():
        target, n = stream.inbox / f"released-{n}-{reason['file']}", n + 1
    write_bytes_atomic(target, data)
    write_json_atomic(reason_file, {**reason, "released_as": target.name,
                                    "released_at": datetime.now(UTC).isoformat(timespec="seconds")})
    return target.name


def _reason_file(stream: Stream, name: str):
    batch, _, file = name.rpartition("/")
    matches = [p for b in list_dir(stream.quarantine) if not batch or b.name == batch
               for p in list_dir(b) if p.name == f"{file}{_REASON}"]
    if not matches:
        raise ReleaseError(f"no file {name!r} was quarantined whole in the {stream.name} stream")
    if len(matches) > 1:
        batches = ", ".join(f"{p.parent.name}/{file}" for p in matches)
        raise ReleaseError(f"{file} was quarantined in several batches: name one of {batches}")
    return matches[0]
