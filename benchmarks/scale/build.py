"""A synthetic history of ``rows`` labelled rows, built once under ``<root>/n-<rows>/`` and kept between runs.

The first batch goes through a real refit cycle (so a champion of the current design exists, trained as a cycle
trains it); every later batch is written in bulk by the product's own writers, in the format a cycle leaves: the
labelled store's batch file (rows parsed, cleaned and stamped by the ingest's functions), the claimed CSV in the
archive, the ledger entry, the file digest, and the texts' vectors and lexicon features in the vector cache.
``manifest.json`` is written last: a folder without it is a build that did not finish, and is built again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.report import log_progress
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import DIM, standin_vectors
from benchmarks.scale.synthetic import Corpus, SyntheticHistory
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import write_rows
from tweet_sentiment.intake.labelled import RecentHoldout, parse_labelled_file
from tweet_sentiment.model.features import current_schema, lexicon_features, lexicon_namespace
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.storage.archive import archive_bytes
from tweet_sentiment.storage.csvio import to_csv_bytes
from tweet_sentiment.storage.file_digests import FileDigests, digest
from tweet_sentiment.storage.fs import read_json, write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache, compact_vectors

log = logging.getLogger(__name__)
FLUSH_ROWS = 100_000  # vectors are put (one Lance append) about this many texts at a time
COMMIT_BATCHES = 50  # batches of labelled rows appended to the Delta table per commit (a bulk load)
PROGRESS_STEPS = 20


def batch_id(batch: int) -> str:
    return f"hist-{batch:06d}"


def history_folder(options: ScaleOptions, rows: int) -> Path:
    return options.root / f"n-{rows}"


def history_settings(base: Settings, folder: Path, infinity_url: str) -> Settings:
    """The settings of a history's data root and feature cache, embedding through ``infinity_url``."""
    return dataclasses.replace(base, data_root=str(folder / "data"), cache_root=str(folder / "cache"),
                               infinity_url=infinity_url, file_settle_s=0.0)


def ensure_history(base: Settings, options: ScaleOptions, rows: int, corpus: Corpus, infinity_url: str) -> dict:
    """The manifest of the history of ``rows`` rows, built first (in a process of its own) unless cached."""
    manifest = history_folder(options, rows) / "manifest.json"
    if manifest.exists() and champion_design_is_current(base, manifest.parent):
        log.info("N=%d: history cached in %s (built in %s s)", rows, manifest.parent, read_json(manifest)["build_s"])
        return {**read_json(manifest), "cached": True}
    if manifest.exists():
        log.info("N=%d: the cached history's champion is of another feature design than the code builds (every "
                 "cycle would be a refit): building it again", rows)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=log_progress,
                             initargs=("tweet_sentiment",)) as pool:
        return {**pool.submit(build_history, base, options, rows, corpus, infinity_url).result(), "cached": False}


def champion_design_is_current(base: Settings, folder: Path) -> bool:
    """Whether the history in ``folder`` has a champion of the feature design the code builds now (one of another
    design cannot be continued: a cycle on it would measure a refit)."""
    registry = ModelRegistry.of(history_settings(base, folder, base.infinity_url))
    version = registry.champion_version()
    if version is None:
        return False
    schema = FeatureSchema.from_dict(registry.card(version)["feature_schema"])
    return schema.design() == current_schema(base.embedding_model, DIM)


def build_history(base: Settings, options: ScaleOptions, rows: int, corpus: Corpus, infinity_url: str) -> dict:
    """Build the history of ``rows`` rows from scratch; its manifest (with the build's seconds)."""
    folder = history_folder(options, rows)
    shutil.rmtree(folder, ignore_errors=True)
    start, load = time.perf_counter(), os.getloadavg()[0]
    settings = history_settings(base, folder, infinity_url)
    history = SyntheticHistory(corpus, options)
    settings.layout().ensure()
    write_rows(settings.layout().inbox, f"{batch_id(0)}.csv", history.header, history.rows(0))
    log.info("N=%d: batch 1/%d through a refit cycle (the champion)", rows, options.batches(rows))
    run_cycle(settings, batch_id(0), RunOptions(strategy="refit", force_promote=True, flagged_rows="off"))
    computed = write_batches(settings, history, range(1, options.batches(rows)), options.root / "lexicon")
    compact_s = housekeep(settings)
    manifest = {"rows": rows, "batches": options.batches(rows), "build_s": round(time.perf_counter() - start, 1),
                "lexicon_computed_batches": computed, "compact_s": compact_s,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_avg_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}
    write_json_atomic(folder / "manifest.json", manifest)
    log.info("N=%d: built in %.0f s", rows, manifest["build_s"])
    return manifest


class _PendingVectors:
    """New texts' vectors and lexicon features, put into the vector cache some FLUSH_ROWS at a time."""

    def __init__(self, settings: Settings) -> None:
        design = current_schema(settings.embedding_model, DIM)
        cache = settings.layout().embeddings
        self.caches = (VectorCache(cache, settings.embedding_model), VectorCache(cache, lexicon_namespace(design)))
        self.hashes: list[str] = []
        self.parts: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])

    def add(self, hashes: list[str], vectors: np.ndarray, lexicon: np.ndarray) -> None:
        self.hashes.extend(hashes)
        self.parts[0].append(vectors)
        self.parts[1].append(lexicon)
        if len(self.hashes) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.hashes:
            for cache, part in zip(self.caches, self.parts, strict=True):
                cache.put(self.hashes, np.concatenate(part))
                part.clear()
            self.hashes = []


def write_batches(settings: Settings, history: SyntheticHistory, batches: range, lexicon_pool: Path) -> int:
    """Write ``batches`` of ``history`` as a cycle would leave them (see the module doc), with progress lines;
    how many batches' lexicon features had to be computed (the others were in the pool)."""
    pending, rows = _PendingVectors(settings), _PendingRows(settings)
    computed = sum(not _pool_file(lexicon_pool, history, batch).exists() for batch in batches)
    every = max(1, len(batches) // PROGRESS_STEPS)
    start = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        frame = write_batch(settings, history, batch)
        rows.add(frame)
        fresh = frame.iloc[:history.fresh_count(batch)]
        texts = fresh["text"].tolist()
        pending.add(fresh["text_hash"].tolist(), standin_vectors(texts), pool_lexicon(lexicon_pool, history, batch,
                                                                                      texts))
        if done % every == 0 or done == len(batches):
            rate = done * history.options.batch_rows / (time.perf_counter() - start)
            log.info("batch %d/%d written (%.0f rows/s)", batch + 1, batches.stop, rate)
    pending.flush()
    rows.flush()
    return computed


class _PendingRows:
    """Batches of labelled rows, appended to the store's Delta table COMMIT_BATCHES batches per commit."""

    def __init__(self, settings: Settings) -> None:
        self.store = LabelledStore(settings.layout().labelled)
        self.frames: list[pd.DataFrame] = []

    def add(self, frame: pd.DataFrame) -> None:
        self.frames.append(frame)
        if len(self.frames) >= COMMIT_BATCHES:
            self.flush()

    def flush(self) -> None:
        if self.frames:
            self.store.append_batches(pd.concat(self.frames, ignore_index=True))
            self.frames = []


def housekeep(settings: Settings) -> float:
    """Leave the history as the daily housekeeping would (its steady state): the labelled table compacted and the
    files it replaced vacuumed; each vector namespace's index deltas merged into one, its fragments compacted and
    old versions removed (the bulk appends leave a fragment and an index delta per FLUSH_ROWS texts); seconds."""
    start = time.perf_counter()
    store = LabelledStore(settings.layout().labelled)
    metrics = store.compact()
    store.rows.expire(timedelta(0))
    vectors = compact_vectors(settings.layout().embeddings, older_than=timedelta(0))
    log.info("housekeeping in %.0f s: rows %s, vectors %s", time.perf_counter() - start, metrics, vectors)
    return round(time.perf_counter() - start, 1)


def write_batch(settings: Settings, history: SyntheticHistory, batch: int) -> pd.DataFrame:
    """Store batch ``batch`` (archived file, ledger entry, digest) as its ingest would; its rows for the labelled
    store (appended in bulk by the caller)."""
    layout, name = settings.layout(), f"{batch_id(batch)}.csv"
    rows = history.rows(batch)
    data = to_csv_bytes(history.header, rows)
    parsed = parse_labelled_file(name, data, settings.max_text_chars)
    if len(parsed.rows) != len(rows):
        raise AssertionError(f"{name}: {len(rows) - len(parsed.rows)} synthetic rows were rejected")
    frame = pd.DataFrame(parsed.rows).assign(batch_id=batch_id(batch))
    ledger = RecentHoldout(settings.recent_holdout_fraction, settings.recent_holdout_salt).stamp(frame)
    archive_bytes(layout.archive / f"{datetime.now(UTC):%Y-%m-%d}" / batch_id(batch), name, data)
    fresh = history.fresh_count(batch)
    totals = {"rows_in": len(rows), "rows_accepted": fresh, "rows_superseding": len(rows) - fresh,
              "rows_quarantined": 0}
    write_json_atomic(layout.ledger / f"{batch_id(batch)}.json", {
        "batch_id": batch_id(batch), "ingested_at": frame["ingested_at"].iat[0],
        "files": [{"file": name, "sha256": digest(data), **totals}], "files_rejected": 0, **totals, **ledger})
    FileDigests(layout.labels / "batch_digests.json", layout.ledger).record(batch_id(batch), {digest(data): name})
    return frame


def _pool_file(pool: Path, history: SyntheticHistory, batch: int) -> Path:
    return pool / f"{history.options.seed}-{batch:06d}.npy"


def pool_lexicon(pool: Path, history: SyntheticHistory, batch: int, texts: list[str]) -> np.ndarray:
    """The lexicon features of batch ``batch``'s new ``texts``: computed once, then read from ``pool``."""
    path = _pool_file(pool, history, batch)
    if path.exists():
        return np.load(path)
    features = lexicon_features(texts)
    pool.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp.npy")
    np.save(partial, features)
    partial.replace(path)
    return features
