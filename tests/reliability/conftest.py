"""Reliability tests: a tally of what they tried (files, rows, faults), printed at the end of the test run.

The tally is also written to ``test-output/reliability.json`` so docs/reliability.md can quote the figures.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

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
