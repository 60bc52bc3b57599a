"""Housekeeping of the stores that grow with history (the housekeeping DAG's work; never a step of a cycle).

Each store registers its maintenance as a named function of the settings in :data:`MAINTENANCE`; the DAG runs
each as a task of its own, ``python -m tweet_sentiment housekeeping`` runs them in order. The labelled rows'
maintenance compacts the Delta table's small files (one per batch, and the label check's rewrites) into large
files (files at the target size stay as they are: a daily run rewrites about a day's rows, so the versions kept
for the retention cost about that much disk, not a copy of the table each), then expires the versions older
than ``table_retention_hours`` and vacuums the files only they needed. Both are commits of their own: a cycle
reading or writing at the same time is not disturbed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.stream_upkeep import maintain_scored_stream
from tweet_sentiment.pipeline.model_retention import drop_rejected_models
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import compact_vectors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Maintenance:
    """One store's maintenance: ``run(settings)`` → what it did (a JSON object)."""

    name: str
    run: Callable[[Settings], dict]


def maintain_labelled_rows(settings: Settings) -> dict:
    """Compact the labelled table's small files, then expire old versions and vacuum; the figures."""
    store = LabelledStore(settings.layout().labelled)
    before = store.version()
    if before is None:
        return {"version": None, "reason": "no labelled rows yet"}
    start = time.perf_counter()
    compacted = store.compact()
    vacuumed = store.rows.expire(timedelta(hours=settings.table_retention_hours))
    return {"version_before": before, "version": store.version(), "files": len(store.rows.files()),
            "files_added": compacted.get("numFilesAdded", 0), "files_removed": compacted.get("numFilesRemoved", 0),
            "files_vacuumed": len(vacuumed), "retention_hours": settings.table_retention_hours,
            "seconds": round(time.perf_counter() - start, 3)}


def maintain_vectors(settings: Settings) -> dict:
    """Every namespace of the feature cache: its hash index made one, small fragments merged, old versions
    removed; what was done, by namespace."""
    return compact_vectors(settings.layout().embeddings)


# The maintenance of every store, in order; other stores append theirs here.
MAINTENANCE: tuple[Maintenance, ...] = (
    Maintenance("labelled_rows", maintain_labelled_rows),
    Maintenance("vectors", maintain_vectors),
    Maintenance("rejected_models", drop_rejected_models),
    Maintenance("scored_stream", maintain_scored_stream),
)


def run_maintenance(settings: Settings, name: str) -> dict:
    """Run the maintenance called ``name``; what it did."""
    for maintenance in MAINTENANCE:
        if maintenance.name == name:
            done = maintenance.run(settings)
            log.info("housekeeping %s: %s", name, done)
            return done
    raise KeyError(f"no maintenance called {name!r}; there are: {', '.join(m.name for m in MAINTENANCE)}")
