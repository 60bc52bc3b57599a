"""The model registry at V versions (issue 26, "pages by the page"): the Model page's data and the prediction's
read of the champion, with a registry of V = 500 versions, each promoted in turn (a 500-entry history), each card
as a continued champion's is (its batches, metrics, gate, disagreements).

- ``model_page_p95_ms`` / ``model_page_p50_ms``: the Model page's data function (``pages.model.overview``, what
  ``GET /api/model`` answers: the champion, one page of versions, the newest history entries, the approvals) at the
  first page, p95 and median of ``REPEATS`` calls after one warm call;
- ``model_page_last_p50_ms``: the same at the last page (its offset the largest);
- ``every_card_read_p50_ms``: reading every card once (``ModelRegistry.versions``), for comparison: the page
  before the index read every card three times;
- ``champion_read_p50_ms``: what a prediction reads before it predicts (``ModelRegistry.champion_version``, the
  pointer row), median; ``legacy_champion_read_p50_ms``: the same read from a ``champion.json`` holding the
  500-entry history, as the registry before the state database did, for comparison.

``python -m benchmarks.scale.registry [--versions 500]`` runs it alone; ``make bench-scale`` puts its figures in
the JSON line under ``registry``, the headline ``model_page_p95_ms`` at the top level.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from benchmarks.options import PROJECT_ROOT, median
from benchmarks.report import log_progress, print_figures
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pages.model import overview
from tweet_sentiment.storage.fs import as_path, read_json, write_json_atomic

log = logging.getLogger(__name__)
VERSIONS = 500
REPEATS = 40
CLASSES = ("Extremely Negative", "Negative", "Neutral", "Positive", "Extremely Positive")


def _booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    return lgb.train({"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1},
                     lgb.Dataset(x, rng.integers(0, 5, 300)), 5)


def _card(i: int) -> dict:
    """A continued champion's card after ``i + 1`` batches."""
    metrics = {"macro_f1": 0.5 + i / 5000, "accuracy": 0.55, "per_class_f1": dict.fromkeys(CLASSES, 0.5)}
    disagreement = {"text": "a tweet where the two models disagree " * 3, "label": "Neutral",
                    "champion": "Negative", "challenger": "Neutral"}
    return {"strategy": "continue", "batch_id": f"batch-{i:05d}",
            "batches": {"count": i + 1, "first": "batch-00000", "last": f"batch-{i:05d}"},
            "rows_trained": 2000 + 2000 * i, "new_rows": 2000, "num_trees": 100 + 10 * i, "train_s": 2.0,
            "metrics": metrics, "recent_metrics": metrics,
            "gate": {"fixed": {"rows": 3800, "gain": 0.01, "p_value": 0.02}, "recent": None},
            "gate_rules": {"tolerance": 0.0}, "disagreements": {"fixed": [disagreement] * 8}}


def build_registry(folder: Path, versions: int) -> ModelRegistry:
    """A registry of ``versions`` versions, each promoted in turn (its state database beside it)."""
    shutil.rmtree(folder, ignore_errors=True)
    registry = ModelRegistry(as_path(folder / "registry"), f"sqlite:///{folder / 'state.sqlite'}")
    booster, champion = _booster(), None
    for i in range(versions):
        version = registry.save(booster, _card(i))
        registry.promote(version, f"better by {i}", expected=champion)
        champion = version
        if (i + 1) % 100 == 0:
            log.info("registry: %d/%d versions", i + 1, versions)
    write_json_atomic(folder / "registry" / "champion.json", {"version": champion, "history": registry.history()})
    return registry


def _timed_ms(call, repeats: int) -> list[float]:
    call()  # warm: the engine, the first connection, the OS cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure_registry(scratch: Path, versions: int = VERSIONS, repeats: int = REPEATS) -> dict:
    """The figures of the module doc, on a registry built in ``scratch`` (removed after)."""
    try:
        registry = build_registry(scratch, versions)
        reports = as_path(scratch / "reports")
        first = _timed_ms(lambda: overview(registry, reports), repeats)
        last = _timed_ms(lambda: overview(registry, reports, offset=versions - 10), repeats)
        every_card = _timed_ms(registry.versions, 5)
        pointer = _timed_ms(registry.champion_version, repeats * 5)
        legacy = _timed_ms(lambda: read_json(as_path(scratch / "registry" / "champion.json"))["version"], repeats * 5)
        return {"versions": versions, "history_entries": len(registry.history()),
                "model_page_p95_ms": round(float(np.percentile(first, 95)), 2),
                "model_page_p50_ms": median(first, 2), "model_page_last_p50_ms": median(last, 2),
                "every_card_read_p50_ms": median(every_card, 2),
                "champion_read_p50_ms": median(pointer, 3), "legacy_champion_read_p50_ms": median(legacy, 3),
                "load_avg_1m": round(os.getloadavg()[0], 2)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale.registry", description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=VERSIONS)
    parser.add_argument("--scratch", type=Path, default=PROJECT_ROOT / "var" / "bench-registry")
    args = parser.parse_args(argv)
    log_progress("tweet_sentiment")
    return print_figures(lambda: measure_registry(args.scratch.resolve(), args.versions))


if __name__ == "__main__":
    sys.exit(main())
