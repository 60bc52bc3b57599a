"""A refit at the largest history (``refit_1m_s``, ``refit_peak_rss_mb_1m``): the refit DAG's train task
(pipeline/refit.train_refit: every trainable row, chunk by chunk) with 2 LightGBM threads, in a fresh process on a
copy of the history (so its peak RSS is its own and the history is left as built).

Every round of the cap runs (``num_boost_round``, 300, within the tree bound: at most half of
``TWEET_SENTIMENT_MAX_CHAMPION_TREES`` trees, ``boosting.within_tree_bound``, 80 rounds at 800): the synthetic
history's labels are not learnable from the stand-in's vectors, so early stopping would end it after a few rounds,
while a refit of real tweets runs up to the cap; the patience is set to the cap, so no round is skipped (the
rounds past the best are then rolled back, as a real refit rolls back its last ``early_stopping_rounds``).

``python -m benchmarks.scale.refit --history DIR`` runs it alone on a built history (``DIR``: e.g.
``var/bench-scale/n-1000000``; a hard-linked copy is written in ``--scratch``). With no arguments the module is
the measured process: ``{"settings"}`` (overrides) as JSON on stdin, ``{"result", "seconds", "peak_rss_mb"}`` as
the last stdout line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from benchmarks.options import PROJECT_ROOT, median
from benchmarks.processes import peak_rss_mb, run_json_process
from benchmarks.report import log_progress, print_figures
from benchmarks.scale.build import history_settings
from benchmarks.scale.cycle import scratch_copy
from benchmarks.scale.standin import standin_server
from tweet_sentiment.config import Settings
from tweet_sentiment.model.boosting import BoostingParams, within_tree_bound
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit import refit_due, train_refit

log = logging.getLogger(__name__)
THREADS = 2


def refit_rounds(settings: Settings) -> int:
    """A refit's cap of rounds under ``settings``' tree bound: every one of them runs (see the module doc)."""
    return within_tree_bound(BoostingParams(), settings.max_champion_trees).num_boost_round


def measure_refit(settings: Settings, runs: int, scratch: Path) -> dict:
    """``runs`` refits of ``settings``' history, each on a fresh copy in ``scratch`` (removed after): the median
    seconds, the highest peak RSS, each run's figures and load."""
    done, rounds = [], refit_rounds(settings)
    for run in range(runs):
        try:
            overrides = scratch_copy(settings, scratch)
            load = round(os.getloadavg()[0], 2)
            log.info("refit %d/%d: %d rounds with %d threads (takes minutes at 1M rows)", run + 1, runs, rounds,
                     THREADS)
            figures = run_json_process("benchmarks.scale.refit", {"settings": overrides}, PROJECT_ROOT)
            done.append({**figures, "load_avg_1m": [load, round(os.getloadavg()[0], 2)]})
            log.info("refit %d/%d: %.1f s, peak RSS %.0f MB, %s rows", run + 1, runs, figures["seconds"],
                     figures["peak_rss_mb"], figures["result"].get("rows_trained"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"refit_s": median([d["seconds"] for d in done]), "refit_peak_rss_mb": max(d["peak_rss_mb"] for d in done),
            "refit_rounds": rounds, "refit_runs": done}


def measured_process() -> None:
    """The measured refit (see the module doc)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    job = json.load(sys.stdin)
    settings = dataclasses.replace(Settings.from_env(), **job["settings"])
    rounds = refit_rounds(settings)
    options = RunOptions(boosting=BoostingParams(num_threads=THREADS, num_boost_round=rounds,
                                                 early_stopping_rounds=rounds))
    start = time.perf_counter()
    result = train_refit(settings, refit_due(settings, force=True), options)
    seconds = time.perf_counter() - start
    trees = ModelRegistry.of(settings).card(result.version)["num_trees"] if result.version else 0
    print(json.dumps({"result": result.to_json(), "seconds": round(seconds, 3), "num_trees": trees,
                      "peak_rss_mb": peak_rss_mb(os.getpid())}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale.refit", description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=Path, required=True, help="a built history (its data/ and cache/)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scratch", type=Path, default=PROJECT_ROOT / "var" / "bench-scale" / "refit-run")
    args = parser.parse_args(argv)
    log_progress("tweet_sentiment")

    def figures() -> dict:
        with standin_server() as url:
            return measure_refit(history_settings(Settings.from_env(), args.history.resolve(), url), args.runs,
                                 args.scratch.resolve())

    return print_figures(figures)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    measured_process()
