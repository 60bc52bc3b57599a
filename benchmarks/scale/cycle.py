"""One measured cycle on a copy of a built history: 2,000 new rows through the task functions, each step in its own
process (``step.py``), timed and with its peak RSS. The new texts' vectors and lexicon features are cached before
the cycle: embedding new texts costs the same whatever the history, the rest of the embed step does not."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from upath import UPath

from benchmarks.options import PROJECT_ROOT
from benchmarks.processes import run_json_process
from benchmarks.scale.build import batch_id, pool_lexicon
from benchmarks.scale.standin import DIM, standin_vectors
from benchmarks.scale.step import STEPS
from benchmarks.scale.synthetic import SyntheticHistory
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import write_rows
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.model.features import current_schema, lexicon_namespace
from tweet_sentiment.storage.csvio import to_csv_bytes
from tweet_sentiment.storage.fs import as_path
from tweet_sentiment.storage.vector_cache import VectorCache

log = logging.getLogger(__name__)


def link_or_copy(src: str, dst: str) -> None:
    """A hard link, except for the state database (SQLite and its journal), which a cycle writes into."""
    if Path(src).name.startswith("state.sqlite"):
        shutil.copy2(src, dst)
    else:
        os.link(src, dst)


def scratch_copy(settings: Settings, scratch: Path) -> dict:
    """Settings overrides naming a copy of ``settings``' data root and feature cache in ``scratch`` (hard links:
    a cycle or a refit replaces files, it never writes into one; the caller removes ``scratch``)."""
    shutil.rmtree(scratch, ignore_errors=True)
    run = {"data_root": str(scratch / "data"), "cache_root": str(scratch / "cache"),
           "infinity_url": settings.infinity_url, "file_settle_s": 0.0}
    for key in ("data_root", "cache_root"):
        shutil.copytree(getattr(settings, key), run[key], copy_function=link_or_copy)
    return run


def measure_cycle(settings: Settings, history: SyntheticHistory, batches: int, scratch: Path,
                  lexicon_pool: Path) -> dict:
    """Run the cycle of batch ``batches`` (the one after the history) on a copy of ``settings``' data root and
    feature cache in ``scratch`` (removed after); each step's seconds and peak RSS, and what the cycle decided."""
    try:
        run = scratch_copy(settings, scratch)
        rows = history.rows(batches)
        write_rows(as_path(run["data_root"]) / "inbox", f"{batch_id(batches)}.csv", history.header, rows)
        _cache_new_texts(settings, history, batches, rows, as_path(run["cache_root"]), lexicon_pool)
        parts, figures = {}, {"steps_s": {}, "steps_peak_rss_mb": {}, "load_avg_1m": round(os.getloadavg()[0], 2)}
        for step in STEPS:
            done = _run_step(step, run, batch_id(batches), parts)
            parts[step] = done["result"]
            figures["steps_s"][step] = done["seconds"]
            figures["steps_peak_rss_mb"][step] = done["peak_rss_mb"]
            log.info("  %s: %.2f s, peak RSS %.0f MB", step, done["seconds"], done["peak_rss_mb"])
        ledger = parts["archive"]["ledger"]
        figures["outcome"] = {"rows_in": ledger["rows_in"], "rows_accepted": ledger["rows_accepted"],
                              "rows_superseding": ledger["rows_superseding"], "rows_held": ledger.get("rows_held", 0),
                              "strategy": parts["train"].get("strategy"),
                              "rows_trained": parts["train"].get("rows_trained"),
                              "promoted": bool(parts["decide"].get("promoted"))}
        return figures
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _cache_new_texts(settings: Settings, history: SyntheticHistory, batch: int, rows: list[list[str]],
                     cache_root: UPath, lexicon_pool: Path) -> None:
    """Put the vectors and lexicon features of the batch's new texts into the copy's feature cache (one Lance
    append each: new files beside the hard-linked ones, none of which is written into)."""
    parsed = parse_labelled_file("new.csv", to_csv_bytes(history.header, rows), settings.max_text_chars)
    texts = [r["text"] for r in parsed.rows[:history.fresh_count(batch)]]
    hashes = [r["text_hash"] for r in parsed.rows[:history.fresh_count(batch)]]
    namespaces = (settings.embedding_model, lexicon_namespace(current_schema(settings.embedding_model, DIM)))
    values = (standin_vectors(texts), pool_lexicon(lexicon_pool, history, batch, texts))
    for namespace, vectors in zip(namespaces, values, strict=True):
        VectorCache(cache_root, namespace).put(hashes, vectors)


def _run_step(step: str, settings: dict, batch: str, parts: dict) -> dict:
    """``step`` in a fresh Python process; its result, seconds and peak RSS."""
    job = {"step": step, "settings": settings, "batch_id": batch, "parts": parts}
    return run_json_process("benchmarks.scale.step", job, PROJECT_ROOT)
