"""The drift check of the scored stream: which tweets it compares, and what it leaves for the pages and the queue.

The **reference** is, by default, the first scored window of the unlabelled stream (its first
``drift_window_rows`` tweets in arrival order; retention keeps its batches), or the champion's training rows (up to
``drift_reference_max_rows``, scored by the champion) when a person chooses it (``drift_reference``: the setting,
or the scoring DAG's Param). The **window** is the latest ``drift_window_rows`` scored tweets after the reference.
Both are read by batch (the manifest says which batches hold them), never the whole stream; the stream's sides
are scored by the pinned champion from the stream's stored vectors, the training side's embeddings come from
the training side's feature cache. Writes ``mood/drift.json`` (figures, thresholds, what the reference and
the window are, example tweets, a short history) and ``mood/drift_candidates.parquet`` (the window's tweets most
unlike the reference: what the labelling queue draws from while drift holds).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.model.features import embed_cached
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.prediction import class_probabilities
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.monitoring.drift import Thresholds, Window, check
from tweet_sentiment.monitoring.scoring import predict, stream_inputs
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_bytes_atomic, write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.storage.vector_cache import VectorCache

ROW_COLUMNS = ["batch_id", "seq", "text", "raw_text", "text_hash", "tweet_at", "dated_by", "arrived_at"]
MIN_WINDOW_ROWS = 50
_EXAMPLES, _CANDIDATES, _HISTORY = 12, 1000, 100


def first_batches(batches: pd.DataFrame, rows: int) -> list[str]:
    """The fewest batches, from the top of ``batches``, holding at least ``rows`` rows."""
    before = batches["rows"].cumsum().shift(fill_value=0)
    return batches.loc[before < rows, "batch_id"].tolist()


def stream_windows(tables: ScoredStream, window_rows: int, after_reference: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the first ``window_rows`` stored tweets in arrival order, the latest ``window_rows``, after the first ones
    when ``after_reference``), read by batch from the manifest: never the whole stream."""
    live = tables.live_batches()
    reference = tables.read_rows(first_batches(live, window_rows), ROW_COLUMNS).head(window_rows)
    newest = tables.read_rows(first_batches(live.iloc[::-1], window_rows + len(reference)), ROW_COLUMNS)
    if after_reference:
        taken = pd.MultiIndex.from_frame(reference[["batch_id", "seq"]])
        newest = newest[~pd.MultiIndex.from_frame(newest[["batch_id", "seq"]]).isin(taken)]
    return reference, newest.tail(window_rows)


def scored_side(tables: ScoredStream, rows: pd.DataFrame, champion: Champion,
                client: InfinityClient) -> tuple[pd.DataFrame, np.ndarray]:
    """(``rows`` of the stream with the champion's label and confidence, their embeddings), from the stream's
    stored vectors: both sides of a check are scored by the one pinned version."""
    if rows.empty:
        empty = rows.assign(label=pd.Series(dtype=object), confidence=pd.Series(dtype=float))
        return empty, np.zeros((0, champion.schema.embedding_dim), dtype=np.float32)
    embeddings, lexicon, _ = stream_inputs(tables, rows, champion, client)
    proba = predict(champion, rows["text"].tolist(), embeddings, lexicon)
    return rows.assign(label=np.asarray(LABELS, dtype=object)[proba.argmax(axis=1)], confidence=proba.max(axis=1),
                       champion_version=champion.version).reset_index(drop=True), embeddings


def smallest_hashes(rows: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """The ``max_rows`` rows with the smallest ``text_hash`` (a uniform sample: the hashes are), in hash order:
    the same rows in the same order however the store ordered its answer, so the same store gives the same
    check. Sorted by the hashes' first 16 hex digits as two big-endian words (ASCII digits sort as their values),
    in numpy: a million rows in a fraction of a second."""
    words = rows["text_hash"].to_numpy().astype("S16").view(">u8").reshape(-1, 2)
    return rows.iloc[np.lexsort((words[:, 1], words[:, 0]))[:max_rows]].reset_index(drop=True)


def training_reference(layout: DataLayout, champion: Champion, client: InfinityClient,
                       max_rows: int) -> pd.DataFrame:
    """The champion's training rows still current in the labelled store, outside the recent holdout (at most
    ``max_rows``: :func:`smallest_hashes`), with its predictions: the rows stored before it was trained (its card
    keeps the span of its batches, not every id)."""
    rows = LabelledStore(layout.labelled).trainable(["text", "text_hash", "tweet_at", "ingested_at"])
    rows = smallest_hashes(rows[rows["ingested_at"].astype(str) <= champion.card["created_at"]], max_rows)
    if rows.empty:
        return rows.assign(label=pd.Series(dtype=object), confidence=pd.Series(dtype=float))
    proba = class_probabilities(champion, rows["text"].tolist(), client, layout.embeddings, num_threads=0)
    return rows.assign(label=np.asarray(LABELS, dtype=object)[proba.argmax(axis=1)], confidence=proba.max(axis=1))


def _window(frame: pd.DataFrame, vectors: np.ndarray) -> Window:
    return Window(vectors, frame["label"].to_numpy(), frame["confidence"].to_numpy(dtype=float))


def _describe(frame: pd.DataFrame, kind: str, what: str) -> dict:
    times = pd.to_datetime(frame["tweet_at"], utc=True, errors="coerce") if len(frame) else pd.Series(dtype=object)
    return {"kind": kind, "description": what, "rows": len(frame),
            "from": times.min().isoformat() if len(times.dropna()) else None,
            "to": times.max().isoformat() if len(times.dropna()) else None}


class Side(NamedTuple):
    """One side of the check: its rows (with label and confidence), their embeddings, what it is."""

    rows: pd.DataFrame
    vectors: np.ndarray
    info: dict


def compared(settings: Settings, champion: Champion, client: InfinityClient, reference: str) -> tuple[Side, Side]:
    """(the reference, the window) for the reference kind ``stream`` or ``training``."""
    layout = settings.layout()
    tables = ScoredStream(layout.stream)
    n = settings.drift_window_rows
    first, latest = stream_windows(tables, n, after_reference=reference != "training")
    window, window_vectors = scored_side(tables, latest, champion, client)
    if reference == "training":
        ref = training_reference(layout, champion, client, settings.drift_reference_max_rows)
        ref_vectors = embed_cached(ref["text"].tolist(), client,
                                   VectorCache(layout.embeddings, settings.embedding_model))
        ref_what = (f"the champion's training rows ({champion.version}; a sample of at most "
                    f"{settings.drift_reference_max_rows:,})")
    else:
        ref, ref_vectors = scored_side(tables, first, champion, client)
        ref_what = f"the first {n:,} scored tweets of the unlabelled stream (arrival order)"
    return (Side(ref, ref_vectors, _describe(ref, reference, ref_what)),
            Side(window, window_vectors, _describe(window, "window", f"the latest {n:,} scored tweets")))


def run_drift_check(settings: Settings, champion: Champion, client: InfinityClient, reference: str) -> dict:
    """Check the window against the reference; write drift.json and the labelling candidates; the report."""
    layout = settings.layout()
    ref, window = compared(settings, champion, client, reference)
    report: dict = {"checked_at": datetime.now(UTC).isoformat(timespec="seconds"), "reference": ref.info,
                    "window": window.info, "champion_version": champion.version}
    if min(len(ref.rows), len(window.rows)) < MIN_WINDOW_ROWS:
        report.update(status="waiting", drifted=False,
                      reason=f"not enough tweets yet: {len(ref.rows)} in the reference, {len(window.rows)} in the "
                             f"window (at least {MIN_WINDOW_ROWS} each)")
    else:
        thresholds = Thresholds(settings.drift_auc_threshold, settings.drift_js_threshold,
                                settings.drift_confidence_drop)
        figures = check(_window(ref.rows, ref.vectors), _window(window.rows, window.vectors), thresholds,
                        seed=settings.seed, sample_rows=settings.drift_sample_rows)
        novel = window.rows.iloc[figures.pop("novel")]
        report.update(status="checked", **figures, examples=_examples(novel.head(_EXAMPLES)),
                      window_versions=[champion.version])
        _write_candidates(layout, novel.head(_CANDIDATES))
    report["history"] = [*_history(layout), _history_entry(report)][-_HISTORY:]
    write_json_atomic(layout.mood / "drift.json", report)
    return report


def _examples(rows: pd.DataFrame) -> list[dict]:
    return [{"text": r.raw_text, "label": r.label, "confidence": round(float(r.confidence), 4),
             "tweet_at": pd.Timestamp(r.tweet_at).isoformat(), "dated_by": r.dated_by} for r in rows.itertuples()]


def _write_candidates(layout: DataLayout, rows: pd.DataFrame) -> None:
    buf = io.BytesIO()
    rows.loc[:, ["raw_text", "text", "text_hash", "tweet_at", "label", "confidence"]].to_parquet(buf, index=False)
    write_bytes_atomic(layout.mood / "drift_candidates.parquet", buf.getvalue())


def _history(layout: DataLayout) -> list[dict]:
    drift = read_drift(layout)
    return drift.get("history", []) if drift else []


def _history_entry(report: dict) -> dict:
    entry = {"checked_at": report["checked_at"], "champion_version": report["champion_version"],
             "reference": report["reference"]["kind"], "window_to": report["window"]["to"],
             "status": report["status"], "drifted": report["drifted"]}
    if report["status"] == "checked":
        entry.update(auc=report["embedding"]["auc"], js=report["class_mix"]["js"],
                     confidence_drop=report["confidence"]["drop"])
    return entry


def read_drift(layout: DataLayout) -> dict | None:
    """The last drift check (None before the first)."""
    path = layout.mood / "drift.json"
    return read_json(path) if path.exists() else None


def drift_candidates(layout: DataLayout) -> pd.DataFrame | None:
    """The drifted window's tweets most unlike the reference, first first; None unless the last check drifted."""
    drift, path = read_drift(layout), layout.mood / "drift_candidates.parquet"
    if not drift or not drift.get("drifted") or not path.exists():
        return None
    with path.open("rb") as fh:
        return pd.read_parquet(fh)
