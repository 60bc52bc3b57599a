"""A refit at the largest history (``refit_1m_s``, ``refit_peak_rss_mb_1m``): the refit DAG's train task
(pipeline/refit.train_refit: every trainable row, chunk by chunk) with 2 LightGBM threads, in a fresh process on a
copy of the history (so its peak RSS is its own and the history is left as built). ``python -m
benchmarks.scale.refit`` is that process: ``{"settings"}`` (overrides) as JSON on stdin, ``{"result", "seconds",
"peak_rss_mb"}`` as the last stdout line."""

from __future__ import annotations

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
from benchmarks.scale.cycle import scratch_copy
from tweet_sentiment.config import Settings
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit import refit_due, train_refit

log = logging.getLogger(__name__)
THREADS = 2


def measure_refit(settings: Settings, runs: int, scratch: Path) -> dict:
    """``runs`` refits of ``settings``' history, each on a fresh copy in ``scratch`` (removed after): the median
    seconds, the highest peak RSS, each run's figures and load."""
    done = []
    for run in range(runs):
        try:
            overrides = scratch_copy(settings, scratch)
            load = round(os.getloadavg()[0], 2)
            figures = run_json_process("benchmarks.scale.refit", {"settings": overrides}, PROJECT_ROOT)
            done.append({**figures, "load_avg_1m": [load, round(os.getloadavg()[0], 2)]})
            log.info("refit %d/%d: %.1f s, peak RSS %.0f MB, %s rows", run + 1, runs, figures["seconds"],
                     figures["peak_rss_mb"], figures["result"].get("rows_trained"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"refit_s": median([d["seconds"] for d in done]), "refit_peak_rss_mb": max(d["peak_rss_mb"] for d in done),
            "refit_runs": done}


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    job = json.load(sys.stdin)
    settings = dataclasses.replace(Settings.from_env(), **job["settings"])
    options = RunOptions(boosting=BoostingParams(num_threads=THREADS))
    start = time.perf_counter()
    result = train_refit(settings, refit_due(settings, force=True), options)
    seconds = time.perf_counter() - start
    trees = ModelRegistry.of(settings).card(result.version)["num_trees"] if result.version else 0
    print(json.dumps({"result": result.to_json(), "seconds": round(seconds, 3), "num_trees": trees,
                      "peak_rss_mb": peak_rss_mb(os.getpid())}))


if __name__ == "__main__":
    main()
