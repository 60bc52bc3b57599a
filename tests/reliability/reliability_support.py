"""Helpers of the reliability tests (plain functions and constants; the fixtures are in conftest.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import local_registry

SMALL_BOOSTING = {"num_boost_round": 20, "continue_rounds": 3}


def write_train_rows(small_dataset: Path, dst: Path, start: int, stop: int, text_suffix: str = "") -> None:
    """Rows ``start:stop`` of the small (chronological) training slice as a labelled CSV, written atomically.

    ``text_suffix`` is appended to each tweet: texts no other test of the session has embedded.
    """
    from tweet_sentiment.schema import TEXT_COLUMN
    from tweet_sentiment.storage.csvio import decode_lines, write_csv_atomic

    reader = csv.reader(io.StringIO(decode_lines((small_dataset / "Corona_NLP_train.csv").read_bytes()), newline=""))
    header = next(reader)
    col = header.index(TEXT_COLUMN)
    rows = [[*r[:col], r[col] + text_suffix, *r[col + 1:]] for r in list(reader)[start:stop]]
    write_csv_atomic(dst, header, rows)


def settings_for(root: Path, url: str, small_dataset: Path, feature_cache: Path, **changes: object):
    """Settings of one pipeline: its data root, the small dataset and session cache, quick retries."""
    from tweet_sentiment.config import Settings

    quick = {"embed_retries": 2, "embed_backoff_s": 0.05, "file_settle_s": 0.0}
    return dataclasses.replace(
        Settings.from_env(), data_root=str(root), dataset_dir=str(small_dataset), cache_root=str(feature_cache),
        infinity_url=url, **{**quick, **changes})


def kill_a_cycle(point: str, root: Path, url: str, small_dataset: Path, feature_cache: Path) -> None:
    """Run one cycle on ``root`` in a child process (reliability_killed_run.py) and assert it died of SIGKILL at
    ``point`` (the point was reached)."""
    script = Path(__file__).with_name("reliability_killed_run.py")
    env = {**os.environ, "TWEET_SENTIMENT_DATA_ROOT": str(root), "TWEET_SENTIMENT_DATASET_DIR": str(small_dataset),
           "TWEET_SENTIMENT_CACHE_ROOT": str(feature_cache), "INFINITY_URL": url,
           "PYTHONPATH": os.pathsep.join([str(script.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), point, "killed"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def champion_snapshot(root: Path) -> dict[str, bytes]:
    """The champion pointer and its history, and the bytes of the model it names (to show a fault left them
    alone)."""
    registry = local_registry(root / "registry")
    version = registry.champion_version()
    folder = root / "registry" / "versions" / version
    return {"pointer": json.dumps([version, registry.history()]).encode(),
            "model": (folder / "model.txt").read_bytes(),
            "card": (folder / "card.json").read_bytes()}


def assert_consistent(root: Path, feature_cache: Path) -> None:
    """Every file a reader relies on parses: pointer → complete model, index rows and cards (their statuses as
    the pointer says), store, ledgers, caches."""
    from tweet_sentiment.storage.labelled_store import LabelledStore
    from tweet_sentiment.storage.vector_cache import VectorCache, namespaces

    registry = local_registry(root / "registry")
    version, booster, card = registry.champion()
    assert card["version"] == version and booster.num_trees() > 0
    cards = registry.versions()  # every indexed version has its card (a folder without an index row is ignored)
    assert {c["version"] for c in cards} <= {p.name for p in (root / "registry" / "versions").iterdir()
                                             if (p / "card.json").exists()}
    # the cards' statuses agree with the pointer: one champion, the one it names; those it named before retired
    statuses = {c["version"]: c["status"] for c in cards}
    assert [v for v, status in statuses.items() if status == "champion"] == [version], statuses
    history = registry.history()
    assert all(statuses[e["version"]] == "retired" for e in history if e["version"] != version), statuses
    store = LabelledStore(root / "labelled")
    assert store.read_all()["text_hash"].is_unique
    for ledger in (root / "ledger").glob("*.json"):
        entry = json.loads(ledger.read_text())
        assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"] + entry.get("rows_held", 0)
    for namespace in namespaces(feature_cache):
        cache = VectorCache(feature_cache, namespace)
        assert len(cache) > 0 and cache.dim


def _claim(root: str, state_db_url: str, batch_id: str, barrier, results) -> None:
    """One claimer in its own process: reaches the data root, waits at the barrier for the other, then claims and
    ingests."""
    from upath import UPath

    from tweet_sentiment.config import Settings
    from tweet_sentiment.pipeline import retrain

    settings = dataclasses.replace(Settings.from_env(), data_root=root, file_settle_s=0.0, state_db_url=state_db_url)
    UPath(root).exists()  # connected (object storage) before the race starts
    barrier.wait(timeout=120)
    started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine
    entry = retrain.claim_and_ingest(settings, batch_id)
    results.put((batch_id, started, time.monotonic(), entry))


def race_two_claimers(root: str, start_method: str = "fork",
                      state_db_url: str = "") -> list[tuple[str, float, float, dict]]:
    """Two processes claim and ingest from the data root ``root`` at once (``state_db_url``: the state database,
    required on object storage); each one's (batch id, start, end, ledger entry). Asserts they exited cleanly and
    overlapped (each started before the other had finished)."""
    ctx = multiprocessing.get_context(start_method)
    barrier, results = ctx.Barrier(2), ctx.Queue()
    claimers = [ctx.Process(target=_claim, args=(root, state_db_url, b, barrier, results)) for b in ("run_a", "run_b")]
    for proc in claimers:
        proc.start()
    done = [results.get(timeout=300) for _ in claimers]
    for proc in claimers:
        proc.join(30)
        assert proc.exitcode == 0
    assert max(started for _, started, _, _ in done) < min(ended for _, _, ended, _ in done), done
    return done
