"""Measurement-only metrics of the lab: proper scoring rules, calibration, the margin's error ranking, and a paired
bootstrap of per-row losses. The gate decides on macro-F1 (``tweet_sentiment.model.gate``); these only measure."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from tweet_sentiment.model.gate import PairedComparison


def row_losses(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's log loss (-ln p of its label, p clipped at 1e-15) and Brier score (squared distance of the
    probabilities from the label's one-hot vector, 0..2): proper scoring rules, lower is better."""
    labels = np.asarray(labels, dtype=np.int64)
    given = probabilities[np.arange(len(labels)), labels]
    brier = np.square(probabilities).sum(axis=1) - 2 * given + 1
    return {"log_loss": -np.log(np.clip(given, 1e-15, 1.0)), "brier": brier}


def calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top class: |accuracy - mean confidence| per equal-width confidence bin,
    weighted by the bin's share of the rows."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    gaps = [abs(correct[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
            for b in range(bins) if (which == b).any()]
    return float(np.sum(gaps))


def error_ranking(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """How well the labelling queue's order (smallest top-2 margin first) finds the wrong predictions: the ROC AUC
    of the negated margin for "prediction is wrong" (0.5: no better than chance; None without both kinds)."""
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    wrong = probabilities.argmax(axis=1) != np.asarray(labels)
    return float(roc_auc_score(wrong, top2[:, 0] - top2[:, 1])) if 0 < wrong.sum() < len(wrong) else None


def probability_scores(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Mean log loss, mean Brier score, expected calibration error and the margin's error ranking (AUC) of
    ``probabilities`` (rows × classes)."""
    losses = row_losses(labels, probabilities)
    ranking = error_ranking(labels, probabilities)
    return {"log_loss": round(float(losses["log_loss"].mean()), 5), "brier": round(float(losses["brier"].mean()), 5),
            "ece": round(calibration_error(labels, probabilities), 5),
            "error_auc": None if ranking is None else round(ranking, 5), "rows": len(labels)}


def paired_loss_bootstrap(baseline: np.ndarray, other: np.ndarray, resamples: int = 2000,
                          seed: int = 13) -> PairedComparison:
    """Two models' per-row losses on the same rows: ``gain`` is how much lower ``other``'s mean loss is, the
    p-value the share of row resamples in which it is not lower (plus one, as in :func:`paired_bootstrap`)."""
    saved = np.asarray(baseline, dtype=float) - np.asarray(other, dtype=float)
    samples = np.random.default_rng(seed).integers(0, len(saved), size=(resamples, len(saved)))
    means = saved[samples].mean(axis=1)
    return PairedComparison(len(saved), float(saved.mean()), float((1 + np.sum(means <= 0)) / (resamples + 1)))
