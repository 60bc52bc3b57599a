"""The drift check of the scored stream: which tweets it compares, and what it leaves for the pages and the queue.

The **reference** is, by default, the first scored window of the unlabelled stream (its first
``drift_window_rows`` tweets in arrival order), or the champion's training rows (up to
``drift_reference_max_rows``, scored by the champion) when a person chooses it (``drift_reference``: the setting,
or the scoring DAG's Param). The **window** is the latest ``drift_window_rows`` scored tweets after the reference.
Embeddings come from the feature cache. Writes ``mood/drift.json`` (figures, thresholds, what the reference and
the window are, example tweets, a short history) and ``mood/drift_candidates.parquet`` (the window's tweets most
unlike the reference: what the labelling queue draws from while drift holds).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.model.features import embed_cached
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.prediction import class_probabilities
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.monitoring.drift import Thresholds, Window, check
from tweet_sentiment.monitoring.scoring import read_scores
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_bytes_atomic, write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache

WINDOW_COLUMNS = ["text", "raw_text", "text_hash", "tweet_at", "dated_by", "label", "confidence", "champion_version",
                  "arrived_at", "batch_id", "source_row"]
MIN_WINDOW_ROWS = 50
_EXAMPLES, _CANDIDATES, _HISTORY = 12, 1000, 100


def stream_order(scores: pd.DataFrame) -> pd.DataFrame:
    """Scored rows in the order they arrived (file arrival, batch, row)."""
    return scores.sort_values(["arrived_at", "batch_id", "source_row"], kind="stable")


def stream_windows(scores: pd.DataFrame, window_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the first ``window_rows`` scored tweets in arrival order, the latest ``window_rows`` after them)."""
    ordered = stream_order(scores)
    return ordered.iloc[:window_rows], ordered.iloc[window_rows:].tail(window_rows)


def training_reference(layout: DataLayout, champion: Champion, client: InfinityClient, max_rows: int,
                       seed: int) -> pd.DataFrame:
    """The champion's training rows still current in the labelled store, outside the recent holdout (a sample
    of ``max_rows``), with its predictions: the rows stored before it was trained (its card keeps the span of
    its batches, not every id)."""
    rows = LabelledStore(layout.labelled).trainable(["text", "text_hash", "tweet_at", "ingested_at"])
    rows = rows[rows["ingested_at"].astype(str) <= champion.card["created_at"]]
    if len(rows) > max_rows:
        rows = rows.sample(n=max_rows, random_state=seed)
    if rows.empty:
        return rows.assign(label=pd.Series(dtype=object), confidence=pd.Series(dtype=float))
    proba = class_probabilities(champion, rows["text"].tolist(), client, layout.embeddings, num_threads=0)
    return rows.assign(label=np.asarray(LABELS, dtype=object)[proba.argmax(axis=1)], confidence=proba.max(axis=1))


def _window(frame: pd.DataFrame, client: InfinityClient, cache: VectorCache) -> Window:
    vectors = embed_cached(frame["text"].tolist(), client, cache)
    return Window(vectors, frame["label"].to_numpy(), frame["confidence"].to_numpy(dtype=float))


def _describe(frame: pd.DataFrame, kind: str, what: str) -> dict:
    times = pd.to_datetime(frame["tweet_at"], utc=True, errors="coerce") if len(frame) else pd.Series(dtype=object)
    return {"kind": kind, "description": what, "rows": len(frame),
            "from": times.min().isoformat() if len(times.dropna()) else None,
            "to": times.max().isoformat() if len(times.dropna()) else None}


def compared(settings: Settings, champion: Champion, client: InfinityClient,
             reference: str) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(reference rows, window rows, and what each is) for the reference kind ``stream`` or ``training``."""
    layout = settings.layout()
    scores = read_scores(layout, WINDOW_COLUMNS)
    n = settings.drift_window_rows
    if reference == "training":
        ref = training_reference(layout, champion, client, settings.drift_reference_max_rows, settings.seed)
        window = stream_order(scores).tail(n)
        ref_what = (f"the champion's training rows ({champion.version}; a sample of at most "
                    f"{settings.drift_reference_max_rows:,})")
    else:
        ref, window = stream_windows(scores, n)
        ref_what = f"the first {n:,} scored tweets of the unlabelled stream (arrival order)"
    window_what = f"the latest {n:,} scored tweets"
    return ref, window, _describe(ref, reference, ref_what), _describe(window, "window", window_what)


def run_drift_check(settings: Settings, champion: Champion, client: InfinityClient, reference: str) -> dict:
    """Check the window against the reference; write drift.json and the labelling candidates; the report."""
    layout = settings.layout()
    ref, window, ref_info, window_info = compared(settings, champion, client, reference)
    report: dict = {"checked_at": datetime.now(UTC).isoformat(timespec="seconds"), "reference": ref_info,
                    "window": window_info, "champion_version": champion.version}
    if min(len(ref), len(window)) < MIN_WINDOW_ROWS:
        report.update(status="waiting", drifted=False,
                      reason=f"not enough tweets yet: {len(ref)} in the reference, {len(window)} in the window "
                             f"(at least {MIN_WINDOW_ROWS} each)")
    else:
        cache = VectorCache(layout.embeddings, settings.embedding_model)
        thresholds = Thresholds(settings.drift_auc_threshold, settings.drift_js_threshold,
                                settings.drift_confidence_drop)
        figures = check(_window(ref, client, cache), _window(window, client, cache), thresholds,
                        seed=settings.seed, sample_rows=settings.drift_sample_rows)
        novel = window.iloc[figures.pop("novel")]
        report.update(status="checked", **figures, examples=_examples(novel.head(_EXAMPLES)),
                      window_versions=sorted(window["champion_version"].unique().tolist()))
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
