"""The whole scale bench: build (or reuse) each history, measure its cycles, count its bytes; one dict of figures.

The headline keys name the largest size measured (1M by default): ``cycle_steps_ratio_1m`` is the median cycle's
steps at the largest N over the same at the smallest, ``task_peak_rss_mb_1m`` the peak RSS of any step at the
largest N, ``disk_bytes_per_labelled`` the bytes of store + vectors + lexicon features + archive per labelled row
there, ``build_1m_s`` its cold build's seconds (measured when it was built; ``build_cached`` says so),
``refit_1m_s`` / ``refit_peak_rss_mb_1m`` a refit of it (refit.py: the median of the runs, the highest peak). The
labelling keys (``label_click_ms_p95``, ``labels_page_p95_ms``, ...) are labelling.py's, at as many answers.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from benchmarks.options import median
from benchmarks.scale.build import ensure_history, history_folder, history_settings
from benchmarks.scale.cycle import measure_cycle
from benchmarks.scale.labelling import labelling_figures
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.refit import measure_refit
from benchmarks.scale.registry import measure_registry
from benchmarks.scale.standin import standin_server
from benchmarks.scale.synthetic import Corpus, SyntheticHistory
from tweet_sentiment.config import Settings
from tweet_sentiment.storage.vector_cache import VectorCache

log = logging.getLogger(__name__)


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def disk_figures(settings: Settings, rows: int) -> dict:
    """Bytes on disk of the history's parts, and per labelled row (store + vectors + lexicon + archive)."""
    root, cache = Path(settings.data_root), Path(settings.cache_root)
    model = Path(str(VectorCache(cache, settings.embedding_model).location))
    parts = {"labelled": folder_bytes(root / "labelled"), "archive": folder_bytes(root / "archive"),
             "vectors": folder_bytes(model), "lexicon": folder_bytes(cache) - folder_bytes(model)}
    parts["other"] = folder_bytes(root) - parts["labelled"] - parts["archive"]
    per_row = {f"{name}_per_labelled": round(size / rows) for name, size in parts.items()}
    counted = parts["labelled"] + parts["archive"] + parts["vectors"] + parts["lexicon"]
    return {"disk_bytes": parts, **per_row, "disk_bytes_per_labelled": round(counted / rows)}


def size_figures(manifest: dict, disk: dict, cycles: list[dict]) -> dict:
    """One history size's figures: medians of its cycles' step times, the peaks, the bytes, the build."""
    steps = list(cycles[0]["steps_s"])
    return {
        "batches": manifest["batches"], "build_s": manifest["build_s"], "build_cached": manifest["cached"],
        "lexicon_computed_batches": manifest["lexicon_computed_batches"],
        "steps_s": {s: median([c["steps_s"][s] for c in cycles]) for s in steps},
        "cycle_steps_s": median([sum(c["steps_s"].values()) for c in cycles], 2),
        "cycle_steps_s_runs": [round(sum(c["steps_s"].values()), 2) for c in cycles],
        "steps_peak_rss_mb": {s: max(c["steps_peak_rss_mb"][s] for c in cycles) for s in steps},
        "load_avg_1m": [c["load_avg_1m"] for c in cycles],
        "outcome": cycles[-1]["outcome"], **disk,
    }


def run_scale(base: Settings, options: ScaleOptions) -> dict:
    """Every size's figures and the headline keys (see the module doc)."""
    load_before = os.getloadavg()[0]
    history = SyntheticHistory(Corpus.from_settings(base), options)
    per_n: dict[str, dict] = {}
    with standin_server() as url:
        # the largest first: its build computes every lexicon feature (cold); the smaller ones reuse them
        manifests = {rows: ensure_history(base, options, rows, history.corpus, url)
                     for rows in sorted(options.sizes, reverse=True)}
        for rows in sorted(options.sizes):
            manifest = manifests[rows]
            settings = history_settings(base, history_folder(options, rows), url)
            cycles = []
            for run in range(options.runs):
                log.info("N=%d: cycle %d/%d", rows, run + 1, options.runs)
                cycles.append(measure_cycle(settings, history, manifest["batches"], options.root / "run",
                                            options.root / "lexicon"))
            per_n[str(rows)] = size_figures(manifest, disk_figures(settings, rows), cycles)
            log.info("N=%d: cycle steps %.1f s, peak RSS %.0f MB, %d bytes per labelled row", rows,
                     per_n[str(rows)]["cycle_steps_s"], max(per_n[str(rows)]["steps_peak_rss_mb"].values()),
                     per_n[str(rows)]["disk_bytes_per_labelled"])
        refit = measure_refit(history_settings(base, history_folder(options, max(options.sizes)), url), options.runs,
                              options.root / "refit-run")
    smallest, largest = per_n[str(min(options.sizes))], per_n[str(max(options.sizes))]
    registry = measure_registry(options.root / "registry")
    return {"model_page_p95_ms": registry["model_page_p95_ms"], "registry": registry,
        "sizes": sorted(options.sizes), "runs": options.runs, "cpu_count": os.cpu_count(),
        "cycle_steps_ratio_1m": round(largest["cycle_steps_s"] / smallest["cycle_steps_s"], 2),
        "task_peak_rss_mb_1m": max(largest["steps_peak_rss_mb"].values()),
        "disk_bytes_per_labelled": largest["disk_bytes_per_labelled"],
        "build_1m_s": largest["build_s"], "build_cached": largest["build_cached"],
        "refit_1m_s": refit["refit_s"], "refit_peak_rss_mb_1m": refit["refit_peak_rss_mb"], "refit": refit,
        "per_n": per_n, **labelling_figures(options),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
