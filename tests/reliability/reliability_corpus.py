"""A corpus of malformed inbox files, generated: each with what ingest must make of it.

``Case.accepted`` / ``Case.quarantined`` are the rows the ledger must show for the file; ``file_reason`` is a
phrase of the whole-file quarantine reason, ``row_reasons`` phrases of the per-row reasons and ``lines`` the line
each rejected row starts on (the header is line 1).
"""

from __future__ import annotations

import codecs
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("UserName", "ScreenName", "Location", "TweetAt", "OriginalTweet", "Sentiment")
HEADER = ",".join(COLUMNS)
_NOISE = bytes(b for b in range(1, 256) if b not in b"\r\n")  # one long line of noise, no NUL


@dataclass
class Case:
    """One inbox entry and what must become of it."""

    name: str
    data: bytes = b""
    accepted: int = 0
    quarantined: int = 0
    file_reason: str = ""
    row_reasons: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    copied: bool = True  # a file refused whole is copied into quarantine (not one over the size limit)
    kind: str = "file"  # file | symlink | dir | pending (not claimed: still being written)
    link_target: str = ""


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def row(text: str, label: str = "Neutral", date: str = "16-03-2020", extra: tuple[str, ...] = ()) -> str:
    return ",".join(["1", "2", "UK", date, _quote(text), label, *extra])


def csv_text(*rows: str, header: str = HEADER, eol: str = "\r\n") -> str:
    return eol.join([header, *rows]) + eol


def good(tag: str, n: int) -> list[str]:
    """``n`` distinct, valid rows (distinct across cases by ``tag``)."""
    labels = ("Extremely Negative", "Negative", "Neutral", "Positive", "Extremely Positive")
    return [row(f"{tag}: supermarket shelves report number {i} today", labels[i % 5]) for i in range(n)]


def big_file(size_bytes: int) -> bytes:
    """A well-formed labelled CSV of ``size_bytes`` (too big to be one batch)."""
    line = (row("A long enough tweet about panic buying toilet paper and hand sanitiser at the shops",
                "Negative") + "\r\n").encode()
    return (HEADER + "\r\n").encode() + line * (size_bytes // len(line) + 1)


def build_corpus(big_bytes: int) -> list[Case]:
    """The malformed (and a few fine) files of one inbox."""
    rng = random.Random(7)
    u8 = str.encode
    utf16_good = csv_text(*good("utf16", 3)).encode("utf-16")
    cases = [
        Case("good.csv", u8(csv_text(*good("good", 3))), accepted=3),
        Case("cp1252.csv", csv_text(row("Caf\u00e9 prices \u2013 na\u00efve \u20ac5 masks", "Negative"),
                                    *good("cp1252", 1)).encode("cp1252"), accepted=2),
        Case("mixed_encodings.csv", u8(csv_text(*good("mixed", 2))) + row(
            "Cr\u00e8me br\u00fbl\u00e9e sold out", "Positive").encode("cp1252") + b"\r\n", accepted=3),
        Case("utf8_bom.csv", codecs.BOM_UTF8 + u8(csv_text(*good("bom", 2))), accepted=2),
        Case("utf16_bom.csv", utf16_good, accepted=3),
        Case("utf16le_no_bom.csv", csv_text(*good("utf16le", 2)).encode("utf-16-le"), accepted=2),
        # the last byte pair cut in half: the final label ends in U+FFFD
        Case("utf16_truncated.csv", csv_text(*good("utf16cut", 3)).encode("utf-16")[:-3], accepted=2,
             quarantined=1, row_reasons=["unknown label 'Neutral\ufffd'"], lines=[4]),
        Case("missing_column.csv", u8(csv_text("1,2,UK,16-03-2020,hello", "1,2,UK,16-03-2020,bye",
                                               header="UserName,ScreenName,Location,TweetAt,OriginalTweet")),
             quarantined=2, file_reason="missing column(s) Sentiment"),
        Case("renamed_columns.csv", u8(csv_text("hello,Positive", header="Tweet,Label")), quarantined=1,
             file_reason="missing column(s) OriginalTweet, Sentiment; the header has: Tweet, Label"),
        Case("semicolons.csv", u8("OriginalTweet;Sentiment\r\nhello;Positive\r\n"), quarantined=1,
             file_reason="missing column(s)"),
        Case("extra_column.csv", u8(csv_text(*(r + ",note" for r in good("extra", 2)), header=HEADER + ",Note")),
             accepted=2),
        Case("extra_and_missing_fields.csv", u8(csv_text(
            *good("fields", 1), row("one too many", extra=("x",)), "1,2,UK,16-03-2020,too few")),
             accepted=1, quarantined=2, row_reasons=["expected 6 fields, found 7", "expected 6 fields, found 5"],
             lines=[3, 4]),
        Case("unknown_labels.csv", u8(csv_text(
            *good("labels", 1), row("happy days", "Happy"), row("typo", "Postive"), row("no label", ""))),
             accepted=1, quarantined=3, row_reasons=["unknown label 'Happy'", "unknown label 'Postive'",
                                                     "unknown label ''"], lines=[3, 4, 5]),
        Case("label_case_and_spaces.csv", u8(csv_text(row("shouting label", "  extremely   POSITIVE "))),
             accepted=1),
        Case("empty_texts.csv", u8(csv_text(*good("empty", 1), row(""), row("   \t  "),
                                            row("@someone https://t.co/abc"))),
             accepted=1, quarantined=3, row_reasons=["empty text after cleaning"] * 3, lines=[3, 4, 5]),
        Case("only_bad_rows.csv", u8(csv_text(row("x", "Nope"), row("", "Neutral"))), quarantined=2,
             row_reasons=["unknown label 'Nope'", "empty text after cleaning"], lines=[2, 3]),
        Case("zero_bytes.csv", b"", file_reason="empty file (0 bytes)"),
        Case("header_only.csv", u8(HEADER + "\r\n"), file_reason="header only"),
        Case("blank_lines_only.csv", b"\r\n  \r\n\r\n", file_reason="no header row"),
        Case("binary_garbage.csv", bytes(rng.randrange(256) for _ in range(4096)) + b"\x00",
             file_reason="binary data"),
        Case("png_named_csv.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), file_reason="binary data"),
        Case("noise_without_nul.csv", bytes(rng.choice(_NOISE) for _ in range(4096)),
             file_reason="missing column(s)"),
        Case("long_tweet.csv", u8(csv_text(*good("long", 1), row("word " * 1000))), accepted=1, quarantined=1,
             row_reasons=["exceeds the limit of 1000"], lines=[3]),
        Case("huge_field.csv", u8(csv_text(*good("huge", 1), row("x" * 2_000_000))), accepted=1, quarantined=1,
             row_reasons=["text of 2000000 characters exceeds the limit of 1000"], lines=[3]),
        Case("unclosed_quote.csv", u8(csv_text(*good("unclosed", 2), '1,2,UK,16-03-2020,"never closed,Neutral',
                                               *(f"1,2,UK,16-03-2020,swallowed {i},Neutral" for i in range(15)))),
             accepted=2, quarantined=1, lines=[4],
             row_reasons=["(the row runs from line 4 to line 19: a quote opened and never closed?)"]),
        # rows over lines 2-4 (\r\r\n is two line breaks), 5-6 and 7-9
        Case("newlines_and_quotes.csv", u8(csv_text(
            row('She said "stay home"\r\r\nand "wash hands"', "Positive"), row("line one\nline two", "Neutral"),
            row("three\r\nlines\r\nlong", "Nope"))),
             accepted=2, quarantined=1, row_reasons=["unknown label 'Nope'"], lines=[7]),
        Case("kaggle_crlf.csv", u8(csv_text(*good("crlf", 2), eol="\r\r\n")), accepted=2),
        Case("padded_header.csv", u8(csv_text(*good("padded", 2), header=" " + HEADER.replace(",", " , ") + " ")),
             accepted=2),
        Case("entities_and_mojibake.csv", u8(csv_text(row("It&amp;#39;s \u00e2\u20ac\u0153great\u00e2\u20ac "
                                                          "&amp;amp; calm", "Positive"))), accepted=1),
        Case("duplicates_inside.csv", u8(csv_text(row("same tweet twice"), row("same   tweet twice "),
                                                  *good("dupin", 1))),
             accepted=2, quarantined=1, row_reasons=["duplicate text (already in duplicates_inside.csv row 1)"],
             lines=[3]),
        Case("zz_duplicate_of_good.csv", u8(csv_text(good("good", 1)[0], *good("zzdup", 1))), accepted=1,
             quarantined=1, row_reasons=["duplicate text (already in good.csv row 1)"], lines=[2]),
        Case("formula_injection.csv", u8(csv_text(
            row('=HYPERLINK("http://evil.example","click")', "=cmd|' /C calc'!A0"), row("+1 cells", "+1"),
            row("-2 cells", "-2"), row("@SUM(A1:A9)", "@SUM(1)"), row("=1+1 is fine as a tweet", "Neutral"))),
             accepted=1, quarantined=4, row_reasons=["unknown label"] * 4, lines=[2, 3, 4, 5]),
        Case("name with spaces.csv", u8(csv_text(*good("spaces", 2))), accepted=2),
        Case("tweets_\u00fcn\u00efc\u00f8d\u00e9_\U0001f600.csv", u8(csv_text(*good("unicode", 2))), accepted=2),
        Case("UPPER.CSV", u8(csv_text(*good("upper", 1))), accepted=1),
        Case("notes.txt", b"not a batch", file_reason="not a .csv file (.txt)"),
        Case("no_extension", u8(csv_text(*good("noext", 1))), file_reason="not a .csv file (no extension)"),
        Case("big_50mb.csv", big_file(big_bytes), file_reason="exceeds the limit of", copied=False),
        Case("link_to_passwd.csv", kind="symlink", link_target="/etc/passwd", file_reason="symbolic link"),
        Case("link_to_dir.csv", kind="symlink", link_target="/tmp", file_reason="symbolic link"),
        Case("a_folder.csv", kind="dir", file_reason="not a regular file"),
        Case(".incoming.csv.tmp", u8(csv_text(*good("tmp", 1))), kind="pending"),
    ]
    return cases


def write_inbox(inbox: Path, cases: list[Case], settled_before: float) -> None:
    """Put every case in ``inbox``; settled files get an mtime of ``settled_before`` (seconds since epoch)."""
    inbox.mkdir(parents=True, exist_ok=True)
    for case in cases:
        path = inbox / case.name
        if case.kind == "symlink":
            path.symlink_to(case.link_target)
            continue
        if case.kind == "dir":
            path.mkdir()
            (path / "inside.csv").write_bytes(b"x")
        else:
            path.write_bytes(case.data)
        os.utime(path, (settled_before, settled_before))
