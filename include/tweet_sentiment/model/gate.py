"""Holdout metrics, the paired test, and the promotion rule on two holdouts (the fixed one and the recent one).

The fixed holdout (the official test split) never changes; the recent holdout is the newest slice of what
annotators labelled (never trained on), so it sees what people teach now. A challenger is promoted when a
paired bootstrap on the same rows calls it better on one holdout by at least ``min_improvement`` and it loses
no more than ``tolerance`` on the other; better on the recent window, it may also give up on the fixed holdout
as much as it gained there (people's current labels outweigh old ones, but not by more than they show). Better
on one and worse beyond that on the other is *ambiguous*: the champion stays and the card says why (a person
may decide).

When the label check found systematic corrections, the gate also looks where the change is (slices.py): a
challenger significantly better on the rows a correction touches (Holm-adjusted with the whole-window test) that
holds elsewhere (no worse than the tolerance on the recent rows no correction touches and on the fixed-holdout
rows no correction touches, whose labels may be the team's old rule) is promoted; better there but worse
elsewhere is ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from tweet_sentiment.model.slices import SliceComparison
from tweet_sentiment.schema import LABELS

_K = len(LABELS)


def predict_ids(booster: lgb.Booster, features: object) -> tuple[np.ndarray, float]:
    """Predicted class ids, and the largest absolute raw score (the divergence symptom; inf if not finite)."""
    raw = booster.predict(features, raw_score=True)
    return raw.argmax(axis=1), float(np.abs(raw).max()) if np.isfinite(raw).all() else float("inf")


def metrics(labels: np.ndarray, predicted: np.ndarray, max_abs_raw: float = 0.0) -> dict:
    """Macro-F1, accuracy, per class F1 and confusion of ``predicted`` against ``labels``."""
    ids = list(range(_K))
    per_class = f1_score(labels, predicted, labels=ids, average=None, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(labels, predicted, labels=ids, average="macro", zero_division=0)), 5),
        "accuracy": round(float(accuracy_score(labels, predicted)), 5),
        "per_class_f1": {label: round(float(f), 5) for label, f in zip(LABELS, per_class, strict=True)},
        "confusion": confusion_matrix(labels, predicted, labels=ids).tolist(),
        "max_abs_raw": max_abs_raw,
        "rows": len(labels),
    }


def evaluate(booster: lgb.Booster, features: object, labels: np.ndarray) -> dict:
    """Holdout metrics of ``booster``; ``max_abs_raw`` is the largest raw score."""
    predicted, max_abs_raw = predict_ids(booster, features)
    return metrics(labels, predicted, max_abs_raw)


def _macro_f1_rows(labels: np.ndarray, predicted: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Macro-F1 of each resample (rows of ``samples`` index the rows), computed from confusion counts."""
    cells = labels[samples] * _K + predicted[samples]
    offsets = np.arange(len(samples))[:, None] * _K * _K
    confusion = np.bincount((cells + offsets).ravel(), minlength=len(samples) * _K * _K)
    confusion = confusion.reshape(len(samples), _K, _K)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    denominator = confusion.sum(axis=1) + confusion.sum(axis=2)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(axis=1)


@dataclass(frozen=True)
class PairedComparison:
    """Challenger minus champion macro-F1 on the same rows, and the one-sided p-value that it is no better."""

    rows: int
    gain: float
    p_value: float
    adjusted_p: float | None = None  # Holm-adjusted with the slices' tests (None: no slices, p_value applies)

    @property
    def decisive_p(self) -> float:
        """The p-value the gate reads: the adjusted one when the test is part of a family."""
        return self.p_value if self.adjusted_p is None else self.adjusted_p

    def to_dict(self) -> dict:
        data = {"rows": self.rows, "gain": round(self.gain, 5), "p_value": round(self.p_value, 5)}
        return data if self.adjusted_p is None else {**data, "adjusted_p": round(self.adjusted_p, 5)}


def paired_bootstrap(labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray, resamples: int = 2000,
                     seed: int = 13) -> PairedComparison:
    """Compare two models' predictions on the same rows by resampling the rows (both models on each resample).

    The p-value is the share of resamples in which the challenger is not better (plus one, for a valid test).
    """
    labels, champion, challenger = (np.asarray(a, dtype=np.int64) for a in (labels, champion, challenger))
    full = _macro_f1_rows(labels, challenger, np.arange(len(labels))[None, :])[0]
    gain = full - _macro_f1_rows(labels, champion, np.arange(len(labels))[None, :])[0]
    samples = np.random.default_rng(seed).integers(0, len(labels), size=(resamples, len(labels)))
    diffs = _macro_f1_rows(labels, challenger, samples) - _macro_f1_rows(labels, champion, samples)
    return PairedComparison(len(labels), float(gain), float((1 + np.sum(diffs <= 0)) / (resamples + 1)))


@dataclass(frozen=True)
class GateRules:
    """How sure and how much better a challenger must be (the DAG's Promotion Params), and the safety limits."""

    significance: float = 0.01
    min_improvement: float = 0.002
    tolerance: float = 0.005
    min_recent_rows: int = 200
    force_promote: bool = False
    max_raw_score: float = 50.0


@dataclass(frozen=True)
class Decision:
    """Whether to promote, whether a person should look (ambiguous), and why in words."""

    promote: bool
    reason: str
    ambiguous: bool = False


@dataclass(frozen=True)
class SliceEvidence:
    """The slices the systematic corrections touch (tests adjusted with the whole-window one), and the paired
    comparisons on the rows outside every slice: the recent window's and the fixed holdout's (None: no rows)."""

    slices: tuple[SliceComparison, ...]
    recent_outside: PairedComparison | None
    fixed_outside: PairedComparison | None

    def to_dict(self) -> dict:
        return {"slices": [s.to_dict() for s in self.slices],
                "recent_outside": self.recent_outside.to_dict() if self.recent_outside else None,
                "fixed_outside": self.fixed_outside.to_dict() if self.fixed_outside else None}


def _verdict(name: str, comparison: PairedComparison, rules: GateRules) -> tuple[bool, str]:
    better = comparison.gain >= rules.min_improvement and comparison.decisive_p < rules.significance
    adjusted = "" if comparison.adjusted_p is None else f" (Holm {comparison.adjusted_p:.4f})"
    return better, (f"{name} holdout ({comparison.rows} rows): {comparison.gain:+.4f} macro-F1, "
                    f"p={comparison.p_value:.4f}{adjusted}")


def _slice_decision(evidence: SliceEvidence, rules: GateRules) -> Decision | None:
    """Promote (or ask a person) on the corrections' slices; None when no slice is significantly better."""
    better = [s for s in evidence.slices if s.gain >= rules.min_improvement and s.adjusted_p < rules.significance]
    if not better:
        return None
    shown = "; ".join(f"{s.correction} ({s.rows} {s.holdout} rows): {s.gain:+.3f} accuracy, {s.wins} fixed / "
                      f"{s.losses} broken, Holm p={s.adjusted_p:.4f}" for s in better)
    outside = {name: c for name, c in (("recent", evidence.recent_outside), ("fixed", evidence.fixed_outside)) if c}
    held = all(c.gain >= -rules.tolerance for c in outside.values())
    elsewhere = ", ".join(f"{name} rows outside the corrections ({c.rows}): {c.gain:+.4f} macro-F1"
                          for name, c in outside.items())
    if held:
        return Decision(True, f"follows the team's correction: {shown}; holds elsewhere: {elsewhere} "
                              f"(tolerance {rules.tolerance})")
    return Decision(False, f"ambiguous (follows the team's correction, worse beyond the tolerance elsewhere): "
                           f"{shown}; {elsewhere}", ambiguous=True)


def promotion_decision(fixed: PairedComparison | None, recent: PairedComparison | None, max_abs_raw: float | None,
                       rules: GateRules, evidence: SliceEvidence | None = None) -> Decision:
    """The promotion rule. ``fixed``/``recent``: the paired comparisons (None: no champion / no window; ``recent``
    with its Holm-adjusted p-value when there are slices); ``max_abs_raw``: the challenger's largest raw score
    (None: no challenger); ``evidence``: the corrections' slices, if any. A diverged challenger is never promoted,
    not even when forced."""
    decision = _whole_holdouts(fixed, recent, max_abs_raw, rules)
    if decision.promote or evidence is None or fixed is None or max_abs_raw is None or not (
            max_abs_raw <= rules.max_raw_score):
        return decision
    on_slices = _slice_decision(evidence, rules)
    if on_slices is None:
        return decision
    return Decision(on_slices.promote, f"{on_slices.reason}; whole holdouts: {decision.reason}", on_slices.ambiguous)


def _whole_holdouts(fixed: PairedComparison | None, recent: PairedComparison | None, max_abs_raw: float | None,
                    rules: GateRules) -> Decision:
    """The rule on the whole holdouts (see the module doc)."""
    if max_abs_raw is None:
        return Decision(False, "no challenger: the batch had no new accepted rows")
    if not max_abs_raw <= rules.max_raw_score:
        return Decision(False, f"diverged: raw scores reach {max_abs_raw:.1f} (limit {rules.max_raw_score})")
    if fixed is None:
        return Decision(True, "no champion yet")
    fixed_better, fixed_text = _verdict("fixed", fixed, rules)
    needed = f"needed {rules.min_improvement:+.4f} at p<{rules.significance}"
    if recent is None or recent.rows < rules.min_recent_rows:
        rows = recent.rows if recent else 0
        summary = (f"{fixed_text}; {needed}; recent window {rows} rows < {rules.min_recent_rows}: "
                   "judged on the fixed holdout alone")
        return Decision(rules.force_promote or fixed_better, f"forced; {summary}" if rules.force_promote else summary)
    recent_better, recent_text = _verdict("recent", recent, rules)
    summary = f"{recent_text}; {fixed_text}; {needed}, tolerance {rules.tolerance}"
    if rules.force_promote:
        return Decision(True, f"forced; {summary}")
    if (recent_better and fixed.gain >= -(rules.tolerance + recent.gain)) or (
            fixed_better and recent.gain >= -rules.tolerance):
        return Decision(True, f"better: {summary}")
    if recent_better or fixed_better:
        return Decision(False, f"ambiguous (better on one holdout, worse beyond the tolerance on the other): "
                               f"{summary}", ambiguous=True)
    return Decision(False, f"not better: {summary}")


def disagreements(texts: list[str], labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                  limit: int) -> list[dict]:
    """Up to ``limit`` rows where the two models predict different labels: the text, the label and both guesses."""
    rows = np.flatnonzero(np.asarray(champion) != np.asarray(challenger))[:limit]
    return [{"text": texts[i], "label": LABELS[labels[i]], "champion": LABELS[champion[i]],
             "challenger": LABELS[challenger[i]]} for i in rows]
