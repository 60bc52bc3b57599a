"""`make run`'s secrets (scripts/secrets.sh, sourced by run.sh): secrets.env and the passwords file are owner-only
after every run, also when an earlier run or a person left them readable by others; passwords are kept across
runs and never printed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def source_secrets(home: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "AIRFLOW_HOME": str(home)}
    return subprocess.run(["bash", "-c", "set -euo pipefail; source scripts/env.sh; source scripts/secrets.sh"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_secret_files_are_owner_only_after_every_run_and_nothing_is_printed(tmp_path):
    secrets, passwords = tmp_path / "secrets.env", tmp_path / "passwords.json"
    first = source_secrets(tmp_path)
    assert mode(secrets) == mode(passwords) == 0o600
    admin = json.loads(passwords.read_text())["admin"]
    assert len(admin) >= 16 and f"AIRFLOW_ADMIN_PASSWORD={admin}" in secrets.read_text()

    secrets.chmod(0o644)
    passwords.unlink()
    passwords.write_text("{}")
    passwords.chmod(0o644)  # recreated world-readable (the old run.sh kept whatever mode it found)
    again = source_secrets(tmp_path)
    assert mode(secrets) == mode(passwords) == 0o600
    assert json.loads(passwords.read_text())["admin"] == admin  # kept across runs
    for run in (first, again):
        assert admin not in run.stdout + run.stderr
