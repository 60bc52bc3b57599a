"""Reliability tests: a tally of what they tried (files, rows, faults), printed at the end of the test run.

The tally is also written to ``test-output/reliability.json`` so docs/reliability.md can quote the figures.
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

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "reliability.json"


@dataclass
class Tally:
    """What the reliability tests did: counted by the tests themselves, after their assertions passed."""

    files_tried: int = 0
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    ledgers_balanced: int = 0
    faults_injected: int = 0
    faults_survived: int = 0
    faults: list[str] = field(default_factory=list)

    def ledger(self, entry: dict, files: int) -> None:
        """Count one run's ledger entry (call after asserting that it balances)."""
        self.files_tried += files
        self.rows_in += entry["rows_in"]
        self.rows_accepted += entry["rows_accepted"]
        self.rows_quarantined += entry["rows_quarantined"]
        self.ledgers_balanced += entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]

    @contextlib.contextmanager
    def fault(self, name: str) -> Iterator[None]:
        """Inject a fault in the block; it counts as survived only if the block (with its checks) completes."""
        self.faults_injected += 1
        yield
        self.faults_survived += 1
        self.faults.append(name)


TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    t = TALLY
    if not (t.files_tried or t.faults_injected):
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(
        f"files tried: {t.files_tried}; rows accounted: {t.rows_in} = {t.rows_accepted} accepted + "
        f"{t.rows_quarantined} quarantined; ledgers balanced: {t.ledgers_balanced}")
    terminalreporter.write_line(f"faults injected: {t.faults_injected}; survived: {t.faults_survived}"
                                f"{'' if t.faults_survived == t.faults_injected else '  <-- NOT ALL SURVIVED'}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(asdict(t), indent=2))


@pytest.fixture(scope="session")
def champion_base(tmp_path_factory: pytest.TempPathFactory, infinity_url: str, small_dataset: Path,
                  feature_cache: Path) -> Path:
    """A data root whose champion was bootstrapped (through the real infinity) from the first 600 tweets."""
    from tweet_sentiment.run_options import RunOptions
    from tweet_sentiment.tasks import run_cycle

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


