"""Drift of a window of tweets against a reference, by the usual methods (each with its threshold):

- **embedding drift**: a domain classifier (logistic regression, scikit-learn) is trained to tell the window's
  sentence embeddings from the reference's; its cross-validated ROC AUC is 0.5 when it cannot, and drift is
  declared above the threshold (Evidently's default: 0.55);
- **predicted class mix**: the Jensen–Shannon distance (base 2, 0 … 1) between the shares of the predicted
  classes (``scipy.spatial.distance.jensenshannon``; chi-square is always significant at these sizes);
- **mean confidence** (the top-class probability): a label-free quality estimate; drift when it falls by more
  than the threshold.

The classifier's out-of-fold probability also ranks the window's tweets by how unlike the reference they are: the
examples shown to people and the tweets offered for labelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import jensenshannon
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from tweet_sentiment.schema import LABELS

METHOD = ("logistic regression (C=0.1) on the sentence embeddings, reference vs window, balanced; "
          "ROC AUC of the out-of-fold probabilities")


@dataclass(frozen=True)
class Thresholds:
    """When each figure counts as drift."""

    auc: float = 0.55
    js: float = 0.1
    confidence_drop: float = 0.05


class Window(NamedTuple):
    """Tweets of one side: embeddings ``(n, d)``, predicted class names, top-class probabilities."""

    vectors: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray


def _sample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


def domain_classifier(reference: np.ndarray, current: np.ndarray, folds: int = 5, seed: int = 13,
                      sample_rows: int = 5000) -> tuple[float, np.ndarray, np.ndarray]:
    """(cross-validated ROC AUC, the current rows used, their out-of-fold probability of being "current").

    At most ``sample_rows`` rows per side are used (a uniform sample beyond).
    """
    rng = np.random.default_rng(seed)
    ref_idx, cur_idx = _sample(len(reference), sample_rows, rng), _sample(len(current), sample_rows, rng)
    if min(len(ref_idx), len(cur_idx)) < 2 * folds:
        raise ValueError(f"too few rows for {folds}-fold drift check: {len(ref_idx)} reference, {len(cur_idx)} window")
    x = np.vstack([reference[ref_idx], current[cur_idx]]).astype(np.float32)
    y = np.r_[np.zeros(len(ref_idx), dtype=int), np.ones(len(cur_idx), dtype=int)]
    model = LogisticRegression(C=0.1, max_iter=500, class_weight="balanced")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba)), cur_idx, proba[len(ref_idx):]


def class_shares(labels: np.ndarray) -> np.ndarray:
    """Share of each class of LABELS among predicted labels."""
    counts = np.array([(labels == label).sum() for label in LABELS], dtype=float)
    return counts / max(counts.sum(), 1.0)


def class_mix_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2) between the predicted class mixes of two sets of labels."""
    return float(jensenshannon(class_shares(reference), class_shares(current), base=2))


def check(reference: Window, current: Window, thresholds: Thresholds, folds: int = 5, seed: int = 13,
          sample_rows: int = 5000) -> dict:
    """The three figures against their thresholds, ``drifted`` if any crosses, and ``novel``: indices of the
    current window's rows, most unlike the reference first."""
    auc, used, proba = domain_classifier(reference.vectors, current.vectors, folds, seed, sample_rows)
    js = class_mix_distance(reference.labels, current.labels)
    ref_conf, cur_conf = float(np.mean(reference.confidence)), float(np.mean(current.confidence))
    figures = {
        "embedding": {"auc": round(auc, 4), "threshold": thresholds.auc, "drifted": auc > thresholds.auc,
                      "method": METHOD, "folds": folds, "rows_used": [int(min(len(reference.vectors), sample_rows)),
                                                                      len(used)]},
        "class_mix": {"js": round(js, 4), "threshold": thresholds.js, "drifted": js > thresholds.js,
                      "reference_shares": dict(zip(LABELS, np.round(class_shares(reference.labels), 4).tolist(),
                                                   strict=True)),
                      "window_shares": dict(zip(LABELS, np.round(class_shares(current.labels), 4).tolist(),
                                                strict=True))},
        "confidence": {"reference_mean": round(ref_conf, 4), "window_mean": round(cur_conf, 4),
                       "drop": round(ref_conf - cur_conf, 4), "threshold": thresholds.confidence_drop,
                       "drifted": ref_conf - cur_conf > thresholds.confidence_drop},
    }
    figures["drifted"] = any(figures[k]["drifted"] for k in ("embedding", "class_mix", "confidence"))
    figures["novel"] = used[np.argsort(-proba, kind="stable")].tolist()
    return figures
