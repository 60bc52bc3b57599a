"""A model and the holdout → metrics (macro-F1, accuracy, per class F1, confusion), and the promotion rule."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from tweet_sentiment.schema import LABELS


def evaluate(booster: lgb.Booster, features: np.ndarray, labels: np.ndarray) -> dict:
    """Holdout metrics of ``booster``; ``max_abs_raw`` is the largest raw score (the divergence symptom)."""
    raw = booster.predict(features, raw_score=True)
    predicted = raw.argmax(axis=1)
    ids = list(range(len(LABELS)))
    per_class = f1_score(labels, predicted, labels=ids, average=None, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(labels, predicted, labels=ids, average="macro", zero_division=0)), 5),
        "accuracy": round(float(accuracy_score(labels, predicted)), 5),
        "per_class_f1": {label: round(float(f), 5) for label, f in zip(LABELS, per_class, strict=True)},
        "confusion": confusion_matrix(labels, predicted, labels=ids).tolist(),
        "max_abs_raw": float(np.abs(raw).max()) if np.isfinite(raw).all() else float("inf"),
        "rows": len(labels),
    }


def promotion_decision(challenger: dict | None, champion: dict | None, min_improvement: float,
                       force_promote: bool, max_raw_score: float) -> tuple[bool, str]:
    """Whether to promote the challenger (given both holdout metrics), and the reason in words.

    A diverged challenger is never promoted, not even when forced.
    """
    if challenger is None:
        return False, "no challenger: the batch had no new accepted rows"
    if not challenger["max_abs_raw"] <= max_raw_score:
        return False, f"diverged: raw scores reach {challenger['max_abs_raw']:.1f} (limit {max_raw_score})"
    if champion is None:
        return True, f"no champion yet; challenger macro-F1 {challenger['macro_f1']:.4f}"
    gain = challenger["macro_f1"] - champion["macro_f1"]
    summary = (f"challenger macro-F1 {challenger['macro_f1']:.4f} vs champion {champion['macro_f1']:.4f} "
               f"({gain:+.4f}, needed {min_improvement:+.4f})")
    if force_promote:
        return True, f"forced; {summary}"
    return gain >= min_improvement, summary
