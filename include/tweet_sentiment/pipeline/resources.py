"""The objects the settings describe and several parts share: the infinity client, the fixed holdout, the claim's
limits."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import ClaimLimits
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.label_check.confident_learning import MAX_SLICES, rows_touched
from tweet_sentiment.label_check.teaching import contradicted
from tweet_sentiment.labelling import holdout as versioned
from tweet_sentiment.model.comparison import Holdout
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.schema import LABEL_TO_ID, LABELS
from tweet_sentiment.storage.labelled_store import LabelledStore


def infinity_client(settings: Settings, url: str | None = None) -> InfinityClient:
    """The infinity client the settings describe (URL, model, key, batching, retries); ``url``: another replica."""
    return InfinityClient(url or settings.infinity_url, settings.embedding_model, settings.infinity_api_key,
                          settings.embed_batch_size, settings.embed_concurrency, settings.embed_timeout_s,
                          settings.embed_retries, settings.embed_backoff_s)


def _newest_holdout(settings: Settings) -> versioned.VersionedHoldout:
    """The newest version of the fixed holdout (labelling/holdout.py); the holdout file (the official test split,
    cleaned the way training rows are) is read into a new base version on first use and whenever its content
    changed (one hash of the file per call)."""
    path = settings.holdout_file
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if versioned.base_digest(settings.state_db) != digest:
        parsed = parse_labelled_file(path.name, data, settings.max_text_chars)
        versioned.seed(settings.state_db, [r["text"] for r in parsed.rows], [r["label"] for r in parsed.rows],
                       path.name, digest)
    return versioned.newest(settings.state_db)


def fixed_holdout(settings: Settings) -> Holdout:
    """The fixed holdout the gate judges on: its newest version, with the version's number."""
    found = _newest_holdout(settings)
    return Holdout(found.texts, np.array([LABEL_TO_ID[label] for label in found.labels], dtype=np.int64),
                   found.version)


def route_to_reannotation(settings: Settings, corrections: list[dict]) -> int:
    """Queue the fixed-holdout tweets each systematic correction (word and direction) touches for re-annotation,
    once per correction; how many were queued."""
    if not corrections:
        return 0
    holdout = _newest_holdout(settings)
    touched = {f"{c['word']}: {c['direction']}": mask for c in corrections[:MAX_SLICES]
               for mask in rows_touched(holdout.texts, [c]).values()}
    return versioned.queue_reannotation(settings.state_db, holdout, touched)


def claim_limits(settings: Settings) -> ClaimLimits:
    """How much one run claims from an inbox, and after how many failed runs a claimed file is set aside."""
    return ClaimLimits(settings.claim_max_files, int(settings.claim_max_mb * 2**20), settings.max_failed_runs)


def without_contradicted(held_out: dict[str, Holdout], corrections: list[dict],
                         ages: dict[str, int]) -> tuple[dict[str, Holdout], dict[str, int]]:
    """The holdouts without the rows a known systematic correction contradicts (label_check.teaching.contradicted:
    the term, a label the team moves away from, labelled before the team began it; a fixed-holdout row counts as
    older than any batch, a re-annotated one carries the team's label), and how many rows each lost. Their labels
    are the rule the team has left: judged on them, a challenger that learnt the team's rule would lose. Which rows
    leave depends on texts and labels only, never on the models, so the tests' false-promotion rate is kept."""
    if not corrections:
        return held_out, dict.fromkeys(held_out, 0)
    out, dropped = {}, {}
    for name, holdout in held_out.items():
        rows = pd.DataFrame({"text": holdout.texts, "label": [LABELS[y] for y in holdout.labels],
                             "age": [float(ages.get(b, np.nan)) for b in holdout.batches] if holdout.batches
                             is not None else np.inf})
        keep = ~contradicted(rows, corrections, ages)
        dropped[name] = int((~keep).sum())
        out[name] = holdout if keep.all() else Holdout(
            [t for t, k in zip(holdout.texts, keep, strict=True) if k], holdout.labels[keep], holdout.version,
            [b for b, k in zip(holdout.batches, keep, strict=True) if k] if holdout.batches is not None else None)
    return out, dropped


def holdouts(settings: Settings) -> dict[str, Holdout]:
    """The fixed holdout and the recent window (the newest current rows of the labelled store's recent slice)."""
    window = LabelledStore(settings.layout().labelled).recent_window(settings.recent_window_rows)
    recent = Holdout(window["text"].tolist(), window["label"].map(LABEL_TO_ID).to_numpy(dtype=np.int64),
                     batches=window["batch_id"].tolist())
    return {"fixed": fixed_holdout(settings), "recent": recent}
