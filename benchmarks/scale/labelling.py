"""The labelling side of `make bench-scale`: a state database holding ``answers`` answers (1M at the default
largest size), a click's time and the Labels page's data time on it.

The answers are built once (bulk inserts through the product's tables, with progress) under
``<root>/labelling/n-<answers>/`` and reused: tweets that left the queue, each answered by two of six annotators
(mostly agreeing, mostly with the model), their batches, and a queue of pending tweets to click on. Then:

- ``label_click_ms_p95`` (and ``_p50``): one answer recorded through ``LabellingQueue.record`` (its transaction
  and every query it makes), over ``CLICKS`` clicks;
- ``labels_page_p95_ms`` (and ``_p50``): what the Labels page's two requests compute (``/api/label-quality``:
  overlap, agreement figures, a page of disputed tweets, the label check's held rows; ``/api/queue?limit=0``: the
  annotator's counts), measured in process, not over HTTP, ``PAGE_LOADS`` times.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from itertools import combinations
from pathlib import Path

import sqlalchemy as sa

from benchmarks.scale.options import ScaleOptions
from tweet_sentiment.labelling.counts import recount
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items, set_counters
from tweet_sentiment.labelling.tables import ANSWERS, BATCHES, ITEMS
from tweet_sentiment.pages.labels import labels_page
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import read_connection, write_transaction
from tweet_sentiment.storage.fs import DataLayout

log = logging.getLogger(__name__)
ANNOTATORS = tuple(f"annotator{i}" for i in range(6))
PAIRS = tuple(combinations(ANNOTATORS, 2))
PENDING = 3000  # tweets waiting in the queue
BATCH_ITEMS = 500  # sent tweets per batch
CHUNK = 50_000  # rows per bulk insert
CLICKS = 300
PAGE_LOADS = 9


def _label(rng: random.Random, near: str, keep: float) -> str:
    return near if rng.random() < keep else rng.choice(LABELS)


def _sent_rows(rng: random.Random, start: int, count: int, send_no: int) -> tuple[list[dict], list[dict]]:
    """``count`` sent tweets from number ``start``, each answered by a pair of annotators: item and answer rows."""
    items, answers = [], []
    for n in range(start, start + count):
        suggested = rng.choice(LABELS)
        first = _label(rng, suggested, 0.7)
        a, b = PAIRS[n % len(PAIRS)]
        items.append({"id": f"s{n:015d}", "loaded_no": n, "source": "bench.csv", "row": n, "text": f"tweet {n}",
                      "suggested": suggested, "margin": rng.random(), "version": "v1", "pair_first": a,
                      "pair_second": b, "label": first, "annotator": b, "status": "decided", "send_no": send_no,
                      "batch": f"feedback-bench-{send_no}.csv"})
        answers += [{"item_id": f"s{n:015d}", "annotator": a, "label": first, "at": "2026-12-01T00:00:00"},
                    {"item_id": f"s{n:015d}", "annotator": b, "label": _label(rng, first, 0.8),
                     "at": "2026-12-01T00:00:01"}]
    return items, answers


def build_answers(db: str, answers: int) -> float:
    """Bulk-insert ``answers`` answers (two per sent tweet), their batches and a pending queue; seconds taken."""
    started, rng, tweets = time.perf_counter(), random.Random(26), answers // 2
    for start in range(0, tweets, CHUNK // 2):
        count = min(CHUNK // 2, tweets - start)
        items, rows = _sent_rows(rng, start, count, start // BATCH_ITEMS + 1)
        batches = [{"file": f"feedback-bench-{s}.csv", "annotator": ANNOTATORS[s % len(ANNOTATORS)],
                    "rows": BATCH_ITEMS, "record": {"file": f"feedback-bench-{s}.csv", "rows": BATCH_ITEMS}}
                   for s in range(start // BATCH_ITEMS + 1, (start + count - 1) // BATCH_ITEMS + 2)]
        with write_transaction(db) as connection:
            connection.execute(sa.insert(ITEMS), items)
            connection.execute(sa.insert(ANSWERS), rows)
            connection.execute(sa.insert(BATCHES), batches)
        log.info("labelling: %d/%d answers written", 2 * (start + count), answers)
    pending = [{"id": f"p{n:015d}", "row": n, "source": "bench.csv", "text": f"pending tweet {n}",
                "suggested": rng.choice(LABELS), "probabilities": {}, "margin": rng.random(), "version": "v1",
                "label": None, "annotator": None, "answers": {}} for n in range(PENDING)]
    with write_transaction(db) as connection:
        insert_items(connection, pending, loaded_from=tweets)
        recount(connection)
        set_counters(connection, {"loaded": tweets + PENDING, "sends": tweets // BATCH_ITEMS + 1})
    return round(time.perf_counter() - started, 1)


def _quantiles(samples_ms: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in ms."""
    return round(statistics.median(samples_ms), 2), round(statistics.quantiles(samples_ms, n=20)[-1], 2)


def _clicks(queue: LabellingQueue) -> list[float]:
    """Times of CLICKS answers on pending tweets; each is undone afterwards (the queue stays as built)."""
    with read_connection(queue.db) as connection:
        ids = connection.execute(sa.select(ITEMS.c.id).where(ITEMS.c.send_no.is_(None) & ITEMS.c.label.is_(None))
                                 .order_by(ITEMS.c.id).limit(CLICKS)).scalars().all()
    times = []
    for n, item_id in enumerate(ids):
        started = time.perf_counter()
        queue.record(item_id, LABELS[n % len(LABELS)], ANNOTATORS[n % len(ANNOTATORS)])
        times.append((time.perf_counter() - started) * 1000)
    for n in reversed(range(len(ids))):
        queue.undo(ANNOTATORS[n % len(ANNOTATORS)])
    return times


def _page_loads(queue: LabellingQueue) -> list[float]:
    times = []
    for _ in range(PAGE_LOADS):
        started = time.perf_counter()
        labels_page(queue)
        queue.view(limit=0, annotator=ANNOTATORS[0])
        times.append((time.perf_counter() - started) * 1000)
    return times


def labelling_figures(options: ScaleOptions) -> dict:
    """The labelling keys of bench-scale's JSON, at as many answers as the largest history has labelled rows."""
    answers = max(options.sizes)
    folder = options.root / "labelling" / f"n-{answers}"
    db = f"sqlite:///{folder / 'state.sqlite'}"
    built = folder / "built"
    if built.exists():
        build_s = float(built.read_text())
        log.info("labelling: %d answers cached in %s", answers, folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "state.sqlite").unlink(missing_ok=True)
        build_s = build_answers(db, answers)
        built.write_text(str(build_s))
    queue = LabellingQueue(DataLayout(Path(folder) / "data"), db, predictor=None, max_chars=1000,
                           annotators=list(ANNOTATORS), overlap_share=0.1)
    click_p50, click_p95 = _quantiles(_clicks(queue))
    page_p50, page_p95 = _quantiles(_page_loads(queue))
    log.info("labelling at %d answers: click p50 %.1f ms p95 %.1f ms; Labels page p50 %.0f ms p95 %.0f ms", answers,
             click_p50, click_p95, page_p50, page_p95)
    return {"labelling_answers": answers, "labelling_build_s": build_s, "label_click_ms_p50": click_p50,
            "label_click_ms_p95": click_p95, "labels_page_p50_ms": page_p50, "labels_page_p95_ms": page_p95}
