"""Helpers the tests share (plain functions, no fixtures): a module of its own, since several folders have a
conftest.py and ``import conftest`` would be ambiguous.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.processes import free_port, stop_process_group

__all__ = ["DATASET_DIR", "ROOT", "TEST_OUTPUT", "free_port", "start_infinity", "stop_process_group", "wait_http",
           "write_slice"]
ROOT = Path(__file__).resolve().parents[1]
DATASET_DIR = Path(os.environ.get("TWEET_SENTIMENT_DATASET_DIR", ROOT.parent / "shared" / "data"))
TEST_OUTPUT = ROOT / "test-output"


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Wait until ``url`` answers 2xx; fail with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"server for {url} exited with {proc.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s} s")


def start_infinity(port: int, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start scripts/start_infinity.sh (the same script `make run` uses) in its own process group."""
    env = {**os.environ, "INFINITY_PORT": str(port), **(extra_env or {})}
    with open(log, "wb") as fh:
        return subprocess.Popen([str(ROOT / "scripts" / "start_infinity.sh")], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def write_slice(src: Path, dst: Path, rows: int, chronological: bool = False) -> None:
    """Copy the header and ``rows`` rows of a Kaggle CSV (optionally the chronologically first ones)."""
    from tweet_sentiment.csvio import decode_lines, to_csv_bytes
    from tweet_sentiment.feed import chronological_rows

    if chronological:
        header, body = chronological_rows(src)
    else:
        reader = csv.reader(io.StringIO(decode_lines(src.read_bytes()), newline=""))
        header, body = next(reader), list(reader)
    dst.write_bytes(to_csv_bytes(header, body[:rows]))
