"""A generated corpus of malformed inbox files through the real claim + ingest task: nothing crashes, every
row is accounted for in the ledger, and each rejection says file, row, column and what was wrong."""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from reliability_corpus import Case, build_corpus, csv_text, good, row, write_inbox

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.labelled import QUARANTINE_COLUMNS
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.contracts import ChallengerResult, Embedded, Evaluation
from tweet_sentiment.storage.labelled_store import LabelledStore

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def settings_for(root: Path, settle_s: float) -> Settings:
    return dataclasses.replace(Settings.from_env(), data_root=str(root), file_settle_s=settle_s,
                               max_text_chars=1000, max_file_mb=20)


def read_report(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def without_timing(result: dict) -> dict:
    """A task's result without the seconds the task took (the ledger file holds the ledger alone)."""
    return {key: value for key, value in result.items() if key != "seconds"}


def assert_balanced(entry: dict, ledger_dir: Path) -> None:
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
    for f in entry["files"]:
        assert f["rows_in"] == f["rows_accepted"] + f["rows_quarantined"], f
    assert json.loads((ledger_dir / f"{entry['batch_id']}.json").read_text()) == without_timing(entry)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run over the whole corpus (plus a file still settling), as the DAG's claim task runs it.

    Shared by the tests of this module that only read what the run left; a test that changes a data root
    builds its own (``ingested_b1``).
    """
    root = tmp_path_factory.mktemp("corpus") / "data"
    cases = build_corpus(big_bytes=50 * 2**20)
    settled = time.time() - 600
    write_inbox(root / "inbox", cases, settled_before=settled)
    (root / "inbox" / "fresh.csv").write_text(csv_text(*good("fresh", 2)))  # mtime now: still settling
    start = time.perf_counter()
    entry = retrain.claim_and_ingest(settings_for(root, settle_s=60), "b1")
    return {"root": root, "cases": cases, "entry": entry, "seconds": time.perf_counter() - start,
            "settled": settled}


def ingested_b1(root: Path) -> Settings:
    """A data root of its own whose batch b1 (good.csv) is ingested while fresh.csv was still settling."""
    write_inbox(root / "inbox", [Case("good.csv", csv_text(*good("good", 3)).encode())], time.time() - 600)
    (root / "inbox" / "fresh.csv").write_text(csv_text(*good("fresh", 2)))  # mtime now: still settling
    retrain.claim_and_ingest(settings_for(root, settle_s=60), "b1")
    return settings_for(root, settle_s=0)


def test_corpus_is_big_and_varied_enough(corpus_run, tally):
    cases = corpus_run["cases"]
    assert len(cases) >= 30
    assert any(len(c.data) >= 50 * 2**20 for c in cases)
    tally.corpus_entries = len(cases)


def test_every_file_is_accounted_for_in_a_balanced_ledger(corpus_run, tally):
    entry, cases, root = corpus_run["entry"], corpus_run["cases"], corpus_run["root"]
    assert_balanced(entry, root / "ledger")
    claimed = [c for c in cases if c.kind != "pending"]
    outcomes = {f["file"]: f for f in entry["files"]}
    assert sorted(outcomes) == sorted(c.name for c in claimed)
    for case in claimed:
        got = outcomes[case.name]
        rows_in = case.accepted + case.quarantined
        assert (got["rows_in"], got["rows_accepted"], got["rows_quarantined"]) == (
            rows_in, case.accepted, case.quarantined), case.name
        if case.file_reason:
            assert case.file_reason in got["file_error"], (case.name, got["file_error"])
        else:
            assert got["file_error"] == "", (case.name, got["file_error"])
    assert entry["files_rejected"] == sum(1 for c in claimed if c.file_reason)
    tally.ledger(entry, files=len(claimed))


def test_files_still_being_written_stay_in_the_inbox(corpus_run):
    names = sorted(p.name for p in (corpus_run["root"] / "inbox").iterdir())
    assert names[:2] == [".incoming.csv.tmp", "fresh.csv"]


def test_accepted_rows_are_in_the_store_decoded_and_cleaned(corpus_run):
    root, cases = corpus_run["root"], corpus_run["cases"]
    stored = LabelledStore(root / "labelled").read_batch("b1")
    assert Counter(stored["source_file"]) == Counter({c.name: c.accepted for c in cases if c.accepted})
    texts = set(stored["text"])
    assert "Caf\u00e9 prices \u2013 na\u00efve \u20ac5 masks" in texts  # cp1252 decoded
    assert "Cr\u00e8me br\u00fbl\u00e9e sold out" in texts  # a cp1252 line in a UTF-8 file
    assert 'She said "stay home" and "wash hands"' in texts  # quotes and \r\r\n inside a field
    assert not any("&amp;" in t or "\u00e2\u20ac" in t for t in texts)  # entities and mojibake cleaned
    assert set(stored.loc[stored["source_file"] == "label_case_and_spaces.csv", "label"]) == {"Extremely Positive"}
    assert stored["text_hash"].is_unique


def test_whole_file_rejections_carry_a_reason_file_and_a_copy(corpus_run):
    root, cases = corpus_run["root"], corpus_run["cases"]
    quarantine = root / "quarantine" / "b1"
    for case in (c for c in cases if c.file_reason):
        reason = json.loads((quarantine / f"{case.name}.reason.json").read_text())
        assert reason["file"] == case.name and case.file_reason in reason["reason"]
        assert reason["rows"] == case.quarantined
        copy = quarantine / case.name
        assert reason["copied"] == (case.kind == "file" and case.copied), case.name
        if reason["copied"]:
            assert copy.read_bytes() == case.data, case.name
        else:  # a link is never followed, a folder never copied, a file over the size limit never read
            assert not copy.exists() and not copy.is_symlink()


def test_row_rejections_name_file_row_column_and_what(corpus_run):
    root, cases = corpus_run["root"], corpus_run["cases"]
    quarantine = root / "quarantine" / "b1"
    for case in (c for c in cases if c.row_reasons):
        report = read_report(quarantine / f"{case.name}.rejected.csv")
        assert list(report[0]) == list(QUARANTINE_COLUMNS)
        assert len(report) == case.quarantined, case.name
        assert [int(line["line"]) for line in report] == case.lines, case.name
        for line, phrase in zip(report, case.row_reasons, strict=True):
            assert line["source_file"] == case.name
            assert 1 <= int(line["source_row"]) < int(line["line"])
            assert line["column"] in ("OriginalTweet", "Sentiment", "*")
            assert phrase in line["reason"], (case.name, line["reason"])


def test_formula_like_cells_are_neutralised_in_quarantine_reports(corpus_run):
    quarantine = corpus_run["root"] / "quarantine" / "b1"
    report = read_report(quarantine / "formula_injection.csv.rejected.csv")
    assert [r["raw_label"] for r in report] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(1)"]
    assert report[0]["raw_text"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    for path in quarantine.glob("*.rejected.csv"):
        for line in read_report(path):
            assert not any(v.startswith(FORMULA_STARTS) for v in line.values()), (path.name, line)


def test_oversized_cells_are_cut_in_reports(corpus_run):
    report = read_report(corpus_run["root"] / "quarantine" / "b1" / "huge_field.csv.rejected.csv")
    assert report[0]["raw_text"] == "x" * 32_000 + "… [cut: 2000000 characters in all]"


def _no_challenger(batch_id: str) -> tuple[Embedded, ChallengerResult, Evaluation]:
    """The results of a run that trained no challenger (what archive_batch needs besides the ledger)."""
    return (Embedded(batch_id, 0), ChallengerResult(None, reason="no accepted rows in this batch"),
            Evaluation(None, None, promote=False, reason="no challenger"))


def test_next_run_takes_the_settled_file_and_quarantines_cross_batch_duplicates(tmp_path, tally):
    root = tmp_path / "data"
    settings = ingested_b1(root)
    retrain.archive_batch(settings, {"batch_id": "b1"}, *_no_challenger("b1"))  # b1 finished
    assert [p.name for p in (root / "archive").glob("*/b1/*")] == ["good.csv.gz"]
    (root / "inbox" / "later.csv").write_text(csv_text(good("good", 1)[0], row("new in batch two")))
    entry = retrain.claim_and_ingest(settings, "b2")
    assert_balanced(entry, root / "ledger")
    outcomes = {f["file"]: (f["rows_accepted"], f["rows_quarantined"]) for f in entry["files"]}
    assert outcomes == {"fresh.csv": (2, 0), "later.csv": (1, 1)}
    report = read_report(root / "quarantine" / "b2" / "later.csv.rejected.csv")
    assert "duplicate text (already in batch b1)" in report[0]["reason"]
    tally.ledger(entry, files=2)


def test_a_rerun_of_an_ingested_batch_claims_nothing_new(tmp_path):
    """A cleared claim task must not move new files into a batch whose ledger is written (they'd be archived
    without being ingested)."""
    root = tmp_path / "data"
    settings = ingested_b1(root)
    retrain.archive_batch(settings, {"batch_id": "b1"}, *_no_challenger("b1"))  # b1 finished
    (root / "inbox" / "fresh.csv").unlink()
    (root / "inbox" / "arrived_after.csv").write_text(csv_text(*good("after", 1)))
    before = json.loads((root / "ledger" / "b1.json").read_text())
    assert without_timing(retrain.claim_and_ingest(settings, "b1")) == before
    assert (root / "inbox" / "arrived_after.csv").exists()
    assert not (root / "processing" / "b1").exists()  # else the next run would take b1 for a dead run's batch
    entry = retrain.claim_and_ingest(settings, "b2")
    assert [f["file"] for f in entry["files"]] == ["arrived_after.csv"]
    assert "superseded_by" not in json.loads((root / "ledger" / "b1.json").read_text())
    assert LabelledStore(root / "labelled").batch_ids() == ["b1", "b2"]


def test_an_oversized_file_is_refused_unread_and_the_run_stays_quick(corpus_run):
    """The 50 MB file is refused by its size: not a byte read (its access time has not moved, while a parsed
    file's has: this filesystem records reads), not copied; the huge field is refused before cleaning."""
    claimed = corpus_run["root"] / "processing" / "b1"
    assert (claimed / "good.csv").stat().st_atime > corpus_run["settled"] + 60
    assert abs((claimed / "big_50mb.csv").stat().st_atime - corpus_run["settled"]) < 0.01
    assert not (corpus_run["root"] / "quarantine" / "b1" / "big_50mb.csv").exists()
    assert corpus_run["seconds"] < 60, corpus_run["seconds"]
