"""Helpers the tests share (plain functions, no fixtures): a module of its own, since several folders have a
conftest.py and ``import conftest`` would be ambiguous.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from benchmarks.processes import answers, descendants, free_port, listening_pid, stop_process_group

__all__ = ["AMBIGUOUS_PARAMS", "DATASET_DIR", "ROOT", "TEST_OUTPUT", "ambiguous_batch", "free_port", "load_retrain_dag",
           "poll", "run_dag", "start_infinity", "start_server", "stop_process_group", "wait_http", "write_held_row",
           "write_slice"]
# The gate's Params under which "better" on a holdout only means "some bootstrap resample favours the challenger"
# (p < 1) and any loss on the other holdout is beyond the tolerance; see ambiguous_batch.
AMBIGUOUS_PARAMS = {"min_improvement": -1, "significance": 1, "tolerance": 0}
ROOT = Path(__file__).resolve().parents[1]
DATASET_DIR = Path(os.environ.get("TWEET_SENTIMENT_DATASET_DIR", ROOT.parent / "shared" / "data"))
TEST_OUTPUT = ROOT / "test-output"


def poll(done: Callable[[], object], what: str, timeout_s: float, every_s: float = 0.5, where: str = "") -> object:
    """The first truthy result of ``done()``, asked every ``every_s`` until ``timeout_s``; else an AssertionError
    saying what did not happen (and ``where`` to look)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := done():
            return result
        time.sleep(every_s)
    raise AssertionError(f"{what} not within {timeout_s} s{where}")


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


def start_server(start: Callable[[int], subprocess.Popen], log: Path, health_path: str, timeout_s: float,
                 port: int | None = None, attempts: int = 3) -> tuple[subprocess.Popen, int]:
    """``start(port)`` a server (writing ``log``) and wait until it answers ``health_path`` from its own process.

    A port from free_port() is free when asked, not when the server binds it: another process may take it in
    between (or, for a restart, while the server was down). The server then dies with "address already in use",
    and it is started again on a fresh port. ``port`` is the first port to try (a restart on the same address).
    Returns the process and the port it listens on.
    """
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None and attempt == 1 else free_port()
        proc = start(chosen)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            if answers(f"http://127.0.0.1:{chosen}{health_path}") and _listens_on(proc, chosen):
                return proc, chosen
            time.sleep(0.5)
        lost_the_port = proc.poll() is not None and "address already in use" in log.read_text(errors="replace").lower()
        stop_process_group(proc)
        if not lost_the_port or attempt == attempts:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"server on port {chosen} did not answer {health_path} within {timeout_s} s "
                        f"(exit code {proc.returncode}):\n{tail}")
    raise AssertionError("not reached")


def _listens_on(proc: subprocess.Popen, port: int) -> bool:
    """Is ``proc`` (or a process below it) the one listening on ``port``, not another that took the port?"""
    pid = listening_pid(port)
    return pid is None or pid == proc.pid or pid in descendants({proc.pid})


def start_infinity(port: int, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start scripts/start_infinity.sh (the same script `make run` uses) in its own process group."""
    env = {**os.environ, "INFINITY_PORT": str(port), **(extra_env or {})}
    with open(log, "wb") as fh:
        return subprocess.Popen([str(ROOT / "scripts" / "start_infinity.sh")], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def write_slice(src: Path, dst: Path, rows: int, chronological: bool = False) -> None:
    """Copy the header and ``rows`` rows of a Kaggle CSV (optionally the chronologically first ones)."""
    from tweet_sentiment.intake.feed import chronological_rows
    from tweet_sentiment.storage.csvio import decode_lines, to_csv_bytes

    if chronological:
        header, body = chronological_rows(src)
    else:
        reader = csv.reader(io.StringIO(decode_lines(src.read_bytes()), newline=""))
        header, body = next(reader), list(reader)
    dst.write_bytes(to_csv_bytes(header, body[:rows]))


def load_retrain_dag():
    """The retrain DAG parsed from dags/ as Airflow parses it: a fresh object (dag.test() changes its params)."""
    return load_dag("tweet_sentiment_retrain")


def load_dag(dag_id: str):
    """The DAG ``dag_id`` parsed from dags/ as Airflow parses it: a fresh object."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def run_dag(dag, conf: dict) -> dict[str, str]:
    """Run the DAG once in this process against the Airflow DB; return each task's final state.

    dag.test() folds run_conf into the DAG object's params, so each run states every choice it relies on.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    run = dag.test(run_conf=conf)
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}


def ambiguous_batch(settings, header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """Rows (copies) that make the next refit's challenger ambiguous under AMBIGUOUS_PARAMS, deterministically.

    The rows that will fall in the recent holdout are labelled with the champion's own predictions (real
    champion, real embeddings), so on a recent window made of them the champion is perfect: no resample favours
    the challenger (p = 1) and its gain is < 0 once the two disagree on one row. The other rows keep the
    sentiment shifted by one class (people now label differently: the challenger learns it, so it disagrees
    with the champion) and are also appended to the fixed holdout file (``settings.holdout_file``, which the
    caller owns), where the challenger, which learnt them, is favoured in some resample (p < 1) and the champion
    is wrong. Better on the fixed holdout only: ``promotion_decision`` calls it ambiguous.
    """
    from tweet_sentiment.intake.feed import chronological_rows, write_rows
    from tweet_sentiment.model.prediction import Predictor
    from tweet_sentiment.model.registry import ModelRegistry
    from tweet_sentiment.pipeline.resources import infinity_client
    from tweet_sentiment.schema import LABELS
    from tweet_sentiment.storage.fs import as_path
    from tweet_sentiment.text import clean_tweet, in_hash_slice, text_hash

    text, label = header.index("OriginalTweet"), header.index("Sentiment")
    rows = [list(r) for r in rows if clean_tweet(r[text])]
    cleaned = [clean_tweet(r[text]) for r in rows]
    recent = in_hash_slice([text_hash(t) for t in cleaned], settings.recent_holdout_fraction,
                           settings.recent_holdout_salt)
    with infinity_client(settings) as client:
        predictor = Predictor(ModelRegistry.of(settings), client, settings.layout().embeddings)
        predicted = predictor.predict_cleaned([t for t, r in zip(cleaned, recent, strict=True) if r])
    for row, p in zip([r for r, flag in zip(rows, recent, strict=True) if flag], predicted, strict=True):
        row[label] = p.label
    for row in [r for r, flag in zip(rows, recent, strict=True) if not flag]:
        row[label] = LABELS[(LABELS.index(row[label]) + 1) % len(LABELS)]
    fixed_header, fixed_rows = chronological_rows(settings.holdout_file)
    taught = [[r[header.index(c)] for c in fixed_header] for r, flag in zip(rows, recent, strict=True) if not flag]
    write_rows(as_path(settings.holdout_file.parent), settings.holdout_file.name, fixed_header, fixed_rows + taught)
    return rows


def write_held_row(layout, text: str, tweet_at: str, label: str) -> str:
    """A row the label check held, ``b1--0`` of batch ``b1``, as check_batch writes it; its review id."""
    import pandas as pd

    from tweet_sentiment.label_check.check import FLAG_COLUMNS, HELD, flagged_file

    row = dict.fromkeys(FLAG_COLUMNS, "")
    row.update(text=text, raw_text=text, tweet_at=tweet_at, label=label, batch_id="b1", seq=0, flag_id="b1--0",
               suggested="Neutral", confidence=0.9, given_confidence=0.1, action=HELD, recent_holdout=False,
               label_weight=1.0, source_row=1, superseding=False)
    path = flagged_file(layout, "b1")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row], columns=list(FLAG_COLUMNS)).to_parquet(path)
    return "b1--0"


def local_registry(folder: Path | os.PathLike):
    """The registry in ``folder`` with its index in SQLite beside it (``<folder>/../state.sqlite``: for a data
    root's ``registry`` folder, the state database the settings default to)."""
    from tweet_sentiment.model.registry import ModelRegistry
    from tweet_sentiment.storage.fs import as_path

    return ModelRegistry(as_path(folder), f"sqlite:///{Path(folder).parent / 'state.sqlite'}")
