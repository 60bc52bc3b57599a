"""Decoding the CSVs people send, and writing CSVs atomically (formula-safe where people open them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from upath import UPath

from tweet_sentiment.storage.fs import write_bytes_atomic

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
csv.field_size_limit(16 * 1024 * 1024)


def decode_lines(data: bytes) -> str:
    """Decode a CSV that may mix encodings: UTF-8 where a line is valid UTF-8, else Windows-1252/Latin-1.

    A UTF-8 BOM is dropped; UTF-16 (with a BOM, or without one when every other byte is NUL) is decoded whole,
    a broken code unit becoming U+FFFD. Mojibake left over is the cleaner's job.
    """
    utf16 = _utf16_codec(data)
    if utf16:
        return data.decode(utf16, errors="replace")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return "".join(_decode_line(line) for line in data.splitlines(keepends=True))


def _utf16_codec(data: bytes) -> str:
    """The UTF-16 codec a file is written in ("" if it is not UTF-16): by its BOM, else by its NUL bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:4096]
    if len(head) >= 4:
        even_nuls, odd_nuls = head[0::2].count(0), head[1::2].count(0)
        if odd_nuls > 0.9 * (len(head) // 2) > 0 and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > 0.9 * (len(head) // 2) > 0 and odd_nuls == 0:
            return "utf-16-be"
    return ""


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252")
        except UnicodeDecodeError:
            return line.decode("latin-1")


def read_header(reader: Iterator[list[str]]) -> list[str] | None:
    """The header of a CSV being read: its first non-blank row, each name stripped of spaces and a BOM (None when
    there is no such row). The reader is left at the first data row."""
    header = next((r for r in reader if any(c.strip() for c in r)), None)
    return None if header is None else [c.strip().lstrip("\ufeff") for c in header]


def neutralise_formula(value: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``@SUM``)."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def to_csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]], for_people: bool = False) -> bytes:
    """CSV (UTF-8, quoted where needed, LF line ends); ``for_people`` neutralises formula-like cells.

    The writer is given CRLF line ends and each is cut back to LF: a writer told LF does not quote a lone CR in a
    cell, which a reader takes for a line end (a reviewer's name or a tweet with a stray CR split its row)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    out = []
    for row in [header, *rows]:
        cells = ["" if v is None else str(v) for v in row]
        writer.writerow([neutralise_formula(c) for c in cells] if for_people else cells)
        out.append(buf.getvalue()[:-2] + "\n")
        buf.seek(0)
        buf.truncate()
    return "".join(out).encode("utf-8")


def write_csv_atomic(path: UPath, header: Sequence[str], rows: Iterable[Sequence[object]],
                     for_people: bool = False) -> None:
    """Write a CSV so that a reader (the inbox sensor, a person) never sees half of it."""
    write_bytes_atomic(path, to_csv_bytes(header, rows, for_people))
