"""The figures the end-to-end tests measured, printed at the end of the test run (CI's log shows them)."""

from __future__ import annotations

import json
import time

import pytest
from support import TEST_OUTPUT

_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per ``test-output/*_figures.json`` written by this run (e.g. the approval's approval_request_s)."""
    written = [p for p in sorted(TEST_OUTPUT.glob("*_figures.json")) if p.stat().st_mtime >= _STARTED]
    if not written:
        return
    terminalreporter.section("e2e figures")
    for path in written:
        terminalreporter.write_line(f"{path.name}: {json.dumps(json.loads(path.read_text()))}")
