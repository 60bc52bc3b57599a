"""Run one DAG cycle (the task functions, in order) and SIGKILL this process at a chosen point.

Usage: ``python reliability_killed_run.py <point> <batch_id>``; settings come from the environment. The kill
points are patched in here, in the child process only; product code has no test hooks. A write is killed
after half of its temporary file is on disk and before the rename that would publish it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path

import lightgbm

from tweet_sentiment.config import Settings
from tweet_sentiment.model import registry_index
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.storage import tables


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_on_publish(matches) -> None:
    """Die while writing (before renaming into place) the first file for which ``matches(path)`` is true."""
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if matches(Path(dst)):
            with open(src, "r+b") as fh:
                fh.truncate(os.path.getsize(src) // 2)
            die()
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace


def kill_mid_commit(folder: str) -> None:
    """Die in the middle of a commit to the Delta table in ``folder``: a data file half written into the table's
    folder (delta-rs writes the data files first), the commit's log entry never written."""
    real_write = tables.write_deltalake

    def write(uri, *args, **kwargs):
        if Path(uri).name == folder:
            data = Path(uri) / "part-00000-killed-mid-commit-c000.zstd.parquet"
            data.write_bytes(b"PAR1" + b"\0" * 64)  # a torn data file: named by no log entry
            die()
        return real_write(uri, *args, **kwargs)

    tables.write_deltalake = write


def kill_after_publishing(name) -> None:
    """Die right after the file ``name`` (or the first for which ``name(path)`` is true) is published, before the
    next write is (half of it on disk)."""
    real_replace = os.replace
    published: list[str] = []
    matches = name if callable(name) else (lambda path: path.name == name)

    def replace(src, dst, *args, **kwargs):
        if published:
            with open(src, "r+b") as fh:
                fh.truncate(os.path.getsize(src) // 2)
            die()
        result = real_replace(src, dst, *args, **kwargs)
        if matches(Path(dst)):
            published.append(str(dst))
        return result

    os.replace = replace


def kill_once_published(matches) -> None:
    """Die right after the first file for which ``matches(path)`` is true is published (a database transaction
    open then is never committed)."""
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        result = real_replace(src, dst, *args, **kwargs)
        if matches(Path(dst)):
            die()
        return result

    os.replace = replace


def kill_on_publish_nth(matches, n: int) -> None:
    """Die while writing the ``n``-th file (1: the first) for which ``matches(path)`` is true."""
    seen: list[Path] = []

    def nth(path: Path) -> bool:
        seen.extend([path] if matches(path) else [])
        return len(seen) == n and matches(path)

    kill_on_publish(nth)


def die_after(module, name: str) -> None:
    """Die right after ``module.name(...)`` returns (the step's writes all done, the next step's none)."""
    real = getattr(module, name)

    def step(*args, **kwargs):
        real(*args, **kwargs)
        die()

    setattr(module, name, step)


def kill_inside_pointer_transaction() -> None:
    """Die inside the promotion's transaction: the pointer row updated, its history row and statuses not yet,
    nothing committed."""
    real = registry_index._swap

    def swap(*args, **kwargs):
        real(*args, **kwargs)
        die()

    registry_index._swap = swap


def kill_on_second_move_into(folder: str) -> None:
    """Die after one file was renamed into a folder named ``folder``, before the second is."""
    real_rename = os.rename
    moved: list[str] = []

    def rename(src, dst, *args, **kwargs):
        if folder in Path(dst).parts:
            if moved:
                die()
            moved.append(str(dst))
        return real_rename(src, dst, *args, **kwargs)

    os.rename = rename


def kill_in_vector_commit() -> None:
    """Die in the vector cache's first Lance write: its data file on disk (cut to half), the commit not made."""
    import lance
    from lance.fragment import write_fragments

    def write_dataset(data, uri, *args, storage_options=None, **kwargs):
        (fragment,) = write_fragments(data, uri, storage_options=storage_options)
        written = Path(uri) / "data" / fragment.files[0].path
        with open(written, "r+b") as fh:
            fh.truncate(os.path.getsize(written) // 2)
        die()

    lance.write_dataset = write_dataset


def kill_while_training(at_iteration: int = 2) -> None:
    real_train = lightgbm.train

    def train(*args, **kwargs):
        def callback(env) -> None:
            if env.iteration - env.begin_iteration >= at_iteration:
                die()
        return real_train(*args, **{**kwargs, "callbacks": [*kwargs.get("callbacks", []), callback]})

    lightgbm.train = train


POINTS = {
    "store-write": lambda: kill_mid_commit("labelled"),
    "cache-write": kill_in_vector_commit,
    "training": kill_while_training,
    "card-write": lambda: kill_on_publish(lambda p: p.name == "card.json"),
    "promotion": lambda: kill_inside_pointer_transaction(),
    "after-promotion": lambda: die_after(registry_index, "switch_champion"),
    "archive": lambda: setattr(retrain, "archive_batch", lambda *a, **k: die()),
}


# After (or in the middle of) each step of a cycle that writes; the batch has two files (tests/reliability/
# test_reliability_killed_steps.py).
STEP_POINTS = {
    "after-claim": lambda: die_after(retrain, "claim"),
    "ledger-write": lambda: kill_on_publish(lambda p: p.parent.name == "ledger"),
    "after-ingest": lambda: die_after(retrain, "ingest_batch"),
    "check-flagged-write": lambda: kill_on_publish(lambda p: p.parent.name == "flagged"),
    "check-ledger-update": lambda: kill_on_publish_nth(lambda p: p.parent.name == "ledger", 2),
    "after-check": lambda: die_after(retrain, "check_batch"),
    "archive-marker-write": lambda: kill_on_publish(lambda p: p.parent.name == ".archiving"),
    "archive-midway": lambda: kill_on_second_move_into("archive"),
    "report-write": lambda: kill_on_publish(lambda p: p.parent.name == "runs"),
}


def main(point: str, batch_id: str) -> None:
    {**POINTS, **STEP_POINTS}[point]()
    settings = dataclasses.replace(Settings.from_env(), file_settle_s=0.0)
    options = RunOptions(strategy="continue", force_promote=True,
                               boosting=BoostingParams(num_boost_round=20, continue_rounds=3))
    retrain.run_cycle(settings, batch_id, options)
    print(f"kill point {point} was never reached", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
