"""Reliability tests: a tally of what they tried (files, rows, faults), printed at the end of the test run.

The tally is also written to ``test-output/reliability.json``. When the whole of tests/reliability ran and
passed, the figures quoted in README.md and docs/reliability.md must be the ones counted: else the run fails,
naming the lines to change.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from reliability_support import SMALL_BOOSTING, settings_for, write_train_rows

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "reliability.json"
HERE = Path(__file__).resolve().parent


@dataclass
class Tally:
    """What the reliability tests did: counted by the tests themselves, after their assertions passed."""

    corpus_entries: int = 0
    files_tried: int = 0
    files_refused_whole: int = 0
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_in_files_refused_whole: int = 0
    ledgers_balanced: int = 0
    faults_injected: int = 0
    kills_injected: int = 0
    faults_survived: int = 0
    faults: list[str] = field(default_factory=list)

    def ledger(self, entry: dict, files: int) -> None:
        """Count one run's ledger entry (call after asserting that it balances)."""
        self.files_tried += files
        self.files_refused_whole += entry["files_rejected"]
        self.rows_in += entry["rows_in"]
        self.rows_accepted += entry["rows_accepted"]
        self.rows_quarantined += entry["rows_quarantined"]
        self.rows_in_files_refused_whole += sum(f["rows_quarantined"] for f in entry["files"] if f["file_error"])
        self.ledgers_balanced += entry["rows_in"] == (entry["rows_accepted"] + entry["rows_quarantined"]
                                                      + entry.get("rows_held", 0))

    @contextlib.contextmanager
    def fault(self, name: str) -> Iterator[None]:
        """Inject a fault in the block; it counts as survived only if the block (with its checks) completes."""
        self.faults_injected += 1
        self.kills_injected += name.startswith("SIGKILL")
        yield
        self.faults_survived += 1
        self.faults.append(name)

    def lines(self) -> list[str]:
        """The figures as printed (and quoted in docs/reliability.md)."""
        return [
            f"corpus: {self.corpus_entries} inbox entries; files tried: {self.files_tried}, "
            f"{self.files_refused_whole} of them refused whole",
            f"rows accounted: {self.rows_in} = {self.rows_accepted} accepted + {self.rows_quarantined} quarantined "
            f"({self.rows_in_files_refused_whole} of them in files refused whole); "
            f"ledgers balanced: {self.ledgers_balanced}",
            f"faults injected: {self.faults_injected} ({self.kills_injected} of them SIGKILLs); "
            f"survived: {self.faults_survived}",
        ]

    def readme_phrases(self) -> list[str]:
        """The figures as README.md words them."""
        return [
            f"{self.files_tried} files tried by the tests, {self.files_refused_whole} of them refused whole: "
            f"{self.rows_in} rows accounted for, {self.rows_in_files_refused_whole} of them in the files refused whole",
            f"{self.faults_injected} faults injected, {self.kills_injected} of them SIGKILLs; "
            f"{self.faults_survived} survived",
        ]


TALLY = Tally()
_RUN: dict = {"ids": set(), "passed": 0, "deselected": 0, "stale": []}


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _RUN["ids"] = {item.nodeid for item in items if item.path.parent == HERE}
    _RUN["files"] = len({item.path for item in items if item.path.parent == HERE})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _RUN["passed"] += report.when == "call" and report.passed and report.nodeid in _RUN["ids"]


def pytest_deselected(items: list[pytest.Item]) -> None:
    _RUN["deselected"] += sum(1 for item in items if item.path.parent == HERE)


def _whole_run(session: pytest.Session) -> bool:
    """Did every reliability test run (no file left out, none deselected) and pass?"""
    return (_RUN.get("files") == len(list(HERE.glob("test_*.py"))) and not _RUN["deselected"]
            and session.testsfailed == 0 and _RUN["passed"] == len(_RUN["ids"]) > 0)


def _stale_quotes() -> list[str]:
    """What README.md and docs/reliability.md quote that this run did not count."""
    stale = [f"docs/reliability.md: {line}" for line in TALLY.lines()
             if line not in (ROOT / "docs" / "reliability.md").read_text()]
    return stale + [f"README.md: {phrase}" for phrase in TALLY.readme_phrases()
                    if phrase not in (ROOT / "README.md").read_text()]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _whole_run(session):
        _RUN["stale"] = _stale_quotes()
        if _RUN["stale"]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    t = TALLY
    if not (t.files_tried or t.faults_injected):
        return
    terminalreporter.section("reliability figures")
    for line in t.lines():
        terminalreporter.write_line(line)
    if t.faults_survived != t.faults_injected:
        terminalreporter.write_line("<-- NOT ALL FAULTS SURVIVED")
    if _RUN["stale"]:
        terminalreporter.write_line("<-- the docs quote other figures; make them say:", red=True)
        for line in _RUN["stale"]:
            terminalreporter.write_line(f"    {line}", red=True)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(asdict(t), indent=2))


@pytest.fixture(scope="session")
def champion_base(tmp_path_factory: pytest.TempPathFactory, infinity_url: str, small_dataset: Path,
                  feature_cache: Path) -> Path:
    """A data root whose champion was bootstrapped (through the real infinity) from the first 600 tweets."""
    from tweet_sentiment.pipeline.params import RunOptions
    from tweet_sentiment.pipeline.retrain import run_cycle

    root = tmp_path_factory.mktemp("champion-base") / "data"
    write_train_rows(small_dataset, root / "inbox" / "bootstrap.csv", 0, 600)
    run_cycle(settings_for(root, infinity_url, small_dataset, feature_cache), "boot",
              RunOptions.from_params({"strategy": "refit", "force_promote": True, **SMALL_BOOSTING}))
    return root


@pytest.fixture
def pipeline_copy(champion_base: Path, tmp_path: Path) -> Path:
    """A private copy of the bootstrapped data root."""
    root = tmp_path / "data"
    shutil.copytree(champion_base, root, symlinks=True)
    return root


