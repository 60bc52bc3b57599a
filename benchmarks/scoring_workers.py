"""Per-worker scoring rates (issue 27): the scoring DAG's partitions, each in a process of its own as a Celery
worker runs a mapped ``score_partition`` task, on ``--texts`` tweets of the 2022 unlabelled file, with 1 and 2
workers at once, through the infinity at the configured URL (the default model; started for the bench if none
answers):

- ``score_per_s_per_worker_w<N>``: new tweets, embedding through infinity included: each worker's rows over its
  seconds (the median worker), with N workers at once; ``score_per_s_total_w<N>``: every row over the slowest
  worker's seconds;
- ``rescore_per_s_per_worker_w<N>`` / ``rescore_per_s_total_w<N>``: the same tweets re-scored (a champion change:
  the stream's stored vectors, so the embedding is excluded).

Medians of ``--runs`` runs; the load average is printed with them. The last line is the figures as JSON.
Run: ``source scripts/env.sh && .venv/bin/python -m benchmarks.scoring_workers [--texts 3000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median

from benchmarks.infinity_server import infinity_server
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.pipeline.score import claim_unlabelled, plan_score, score_part
from tweet_sentiment.storage.database import dispose_engines

log = logging.getLogger(__name__)
WORKERS = (1, 2)


def _scored(args: tuple[Settings, dict]) -> dict:
    settings, partition = args
    return score_part(settings, partition)


def _pass(settings: Settings, workers: int, rescore: bool) -> tuple[float, float]:
    """One scoring run's partitions on ``workers`` processes at once: (median worker's tweets/s, all tweets/s)."""
    plan = plan_score(settings, ScoreOptions(None, rescore))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:  # delta-rs and lance: no fork
        results = pool.map(_scored, [(settings, p) for p in plan])
    key, seconds = ("rescored_rows", "rescored_s") if rescore else ("scored_rows", "scored_s")
    rows = [r[key] for r in results]
    return (median(n / r[seconds] for n, r in zip(rows, results, strict=True)),
            sum(rows) / max(r[seconds] for r in results))


def measure_workers(base: Settings, texts: int, runs: int, scratch: Path) -> dict:
    """The figures of the module's docstring; ``base`` holds a champion (its data root is copied per run)."""
    header, rows = chronological_rows(base.unlabelled_file)
    figures: dict = {"texts": texts, "runs": runs}
    samples: dict[str, list[float]] = {}
    for run in range(runs):
        for workers in WORKERS:
            root = scratch / f"run{run}-w{workers}"
            shutil.copytree(base.data_root, root / "data")
            settings = dataclasses.replace(base, data_root=str(root / "data"), score_partitions=workers,
                                           file_settle_s=0, stream_part_rows=max(texts // (4 * workers), 1))
            offset = (run * len(WORKERS) + WORKERS.index(workers)) * texts  # other tweets each time: none cached
            write_rows(settings.layout().unlabelled, "bench.csv", header, rows[offset:offset + texts])
            claim_unlabelled(settings, "bench")
            for name, rescore in (("score", False), ("rescore", True)):
                per_worker, total = _pass(settings, workers, rescore)
                samples.setdefault(f"{name}_per_s_per_worker_w{workers}", []).append(per_worker)
                samples.setdefault(f"{name}_per_s_total_w{workers}", []).append(total)
                log.info("run %d, %d worker(s), %s: %.1f tweets/s per worker, %.1f in all", run + 1, workers, name,
                         per_worker, total)
            dispose_engines()
            shutil.rmtree(root)
    figures.update({key: round(median(values), 1) for key, values in samples.items()})
    figures["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=3000, help="tweets scored per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="scoring-workers-") as tmp, \
            infinity_server(settings, Path(tmp) / "infinity.log"):
        scratch = Path(tmp)
        base = dataclasses.replace(settings, data_root=str(scratch / "base"), cache_root=str(scratch / "cache"),
                                   bootstrap_rows=1000)
        started = time.monotonic()
        bootstrap(base, refit=False)
        log.info("champion trained in %.0f s; scoring %d tweets per run", time.monotonic() - started, args.texts)
        dispose_engines()
        figures = measure_workers(base, args.texts, args.runs, scratch / "runs")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
