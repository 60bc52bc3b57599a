"""Shared fixtures: a real infinity server, a real Airflow metadata DB, slices of the real dataset.

Airflow reads its configuration when first imported, so its environment is set here, before any test module
imports it: a throw-away AIRFLOW_HOME with a SQLite DB (or ``TEST_AIRFLOW_SQL_ALCHEMY_CONN``, e.g. Postgres).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DATASET_DIR, ROOT, start_infinity, start_server, stop_process_group, write_slice

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tweet-sentiment-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": os.environ.get(
        "TEST_AIRFLOW_SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})
# Tasks read their settings from the environment; the fixtures below point them at per-test folders.
os.environ.setdefault("TWEET_SENTIMENT_FILE_SETTLE_S", "0")
os.environ.setdefault("TWEET_SENTIMENT_SENSOR_POKE_S", "1")
os.environ.setdefault("TWEET_SENTIMENT_SENSOR_TIMEOUT_S", "3")

@pytest.fixture(scope="session")
def dataset_dir() -> Path:
    """The real Kaggle files; a missing dataset fails the test with how to get it (never a silent skip)."""
    from tweet_sentiment.config import KAGGLE_HINT

    for name in ("Corona_NLP_train.csv", "Corona_NLP_test.csv"):
        if not (DATASET_DIR / name).is_file():
            pytest.fail(f"{DATASET_DIR / name} is missing. {KAGGLE_HINT}")
    return DATASET_DIR


@pytest.fixture(scope="session")
def infinity_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real infinity server for the session (``TEST_INFINITY_URL`` reuses one already running)."""
    if os.environ.get("TEST_INFINITY_URL"):
        yield os.environ["TEST_INFINITY_URL"]
        return
    log = tmp_path_factory.mktemp("infinity") / "infinity.log"
    proc, port = start_server(lambda port: start_infinity(port, log), log, "/health", 240)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the session: the holdout slice is embedded once, not once per test."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="session")
def small_dataset(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real slice: the chronologically first 3,000 training tweets and 600 holdout tweets."""
    folder = tmp_path_factory.mktemp("dataset")
    write_slice(dataset_dir / "Corona_NLP_train.csv", folder / "Corona_NLP_train.csv", 3000, chronological=True)
    write_slice(dataset_dir / "Corona_NLP_test.csv", folder / "Corona_NLP_test.csv", 600)
    return folder


@pytest.fixture
def pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, infinity_url: str, small_dataset: Path,
                 feature_cache: Path) -> Path:
    """Environment of one pipeline: a fresh data root, the small dataset, the session's infinity and cache."""
    data_root = tmp_path / "data"
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(data_root))
    monkeypatch.setenv("TWEET_SENTIMENT_DATASET_DIR", str(small_dataset))
    monkeypatch.setenv("TWEET_SENTIMENT_CACHE_ROOT", str(feature_cache))
    monkeypatch.setenv("TWEET_SENTIMENT_BOOTSTRAP_ROWS", "1000")
    monkeypatch.setenv("INFINITY_URL", infinity_url)
    return data_root


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated Airflow metadata DB (SQLite in the session's AIRFLOW_HOME unless configured otherwise)."""
    venv_airflow = ROOT / ".venv" / "bin" / "airflow"
    result = subprocess.run([str(venv_airflow), "db", "migrate"], env=os.environ.copy(), capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
