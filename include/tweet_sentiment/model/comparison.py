"""Champion and challenger side by side on the holdouts: predictions, then metrics, the paired comparisons and
the rows where the two disagree (what the gate decides on and what the approval request shows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from upath import UPath

from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.gate import (
    PairedComparison,
    SliceEvidence,
    disagreements,
    metrics,
    paired_bootstrap,
    predict_ids,
)
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.model.slices import adjusted_family, compare_slices

CHAMPION, CHALLENGER = "champion", "challenger"


class Holdout(NamedTuple):
    """Cleaned texts and their label ids (``version``: the fixed holdout's version, labelling/holdout.py;
    ``batches``: the recent window's rows' batch ids)."""

    texts: list[str]
    labels: np.ndarray
    version: int | None = None
    batches: list[str] | None = None


class Predicted(NamedTuple):
    """One model's class ids on a holdout, and its largest absolute raw score (inf if not finite)."""

    ids: np.ndarray
    max_abs_raw: float


def predict_holdout(models: Mapping[str, Champion], holdout: Holdout, client: InfinityClient,
                    cache_root: UPath) -> dict[str, Predicted]:
    """Each model's predictions on ``holdout`` (features from the cache, or embedded through ``client``)."""
    return {role: Predicted(*predict_ids(model.booster, feature_matrix(holdout.texts, model.schema, client,
                                                                        cache_root)))
            for role, model in models.items()}


@dataclass(frozen=True)
class Comparison:
    """Per holdout: each model's metrics, the paired comparison and the disagreements (both models there); and
    the challenger's largest raw score over the holdouts (None: no challenger)."""

    figures: dict[str, dict[str, dict]]
    paired: dict[str, PairedComparison | None]
    disagreements: dict[str, list[dict]]
    max_abs_raw: float | None

    def metrics_of(self, holdout: str, role: str) -> dict | None:
        return self.figures.get(holdout, {}).get(role)

    def gate(self) -> dict[str, dict | None]:
        """The paired comparisons as JSON (the card's and the evaluation's ``gate``)."""
        return {name: c.to_dict() if c else None for name, c in self.paired.items()}


def compare(holdouts: Mapping[str, Holdout], predictions: Mapping[str, Mapping[str, Predicted]],
            examples: int) -> Comparison:
    """Metrics of every prediction, and, on each holdout both models predicted, the paired bootstrap and up to
    ``examples`` disagreements. ``predictions``: holdout name → role → what the role's model predicted there."""
    figures: dict[str, dict[str, dict]] = {}
    paired: dict[str, PairedComparison | None] = dict.fromkeys(holdouts)
    differ: dict[str, list[dict]] = {}
    max_abs_raw = None
    for name, predicted in predictions.items():
        holdout = holdouts[name]
        figures[name] = {role: metrics(holdout.labels, p.ids, p.max_abs_raw) for role, p in predicted.items()}
        if CHALLENGER in predicted and CHAMPION in predicted:
            champion, challenger = predicted[CHAMPION].ids, predicted[CHALLENGER].ids
            paired[name] = paired_bootstrap(holdout.labels, champion, challenger)
            differ[name] = disagreements(holdout.texts, holdout.labels, champion, challenger, examples)
        if CHALLENGER in predicted:
            max_abs_raw = max(max_abs_raw or 0.0, predicted[CHALLENGER].max_abs_raw)
    return Comparison(figures, paired, differ, max_abs_raw)


def _paired_outside(holdout: Holdout, predicted: Mapping[str, Predicted],
                    masks: Mapping[str, np.ndarray]) -> PairedComparison | None:
    """The paired bootstrap on the holdout's rows that no slice touches (None: no such rows)."""
    outside = ~np.logical_or.reduce([*masks.values(), np.zeros(len(holdout.labels), dtype=bool)])
    if not outside.any():
        return None
    return paired_bootstrap(holdout.labels[outside], predicted[CHAMPION].ids[outside],
                            predicted[CHALLENGER].ids[outside])


def look_at_slices(comparison: Comparison, holdouts: Mapping[str, Holdout],
                   predictions: Mapping[str, Mapping[str, Predicted]], slices: Mapping[str, np.ndarray],
                   mentions: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[Comparison, SliceEvidence | None]:
    """The corrections' slices of the recent window tested (model/slices.py; ``slices``: correction → the window
    rows labelled since it began) and the whole-window test adjusted with them; the rows that mention no
    correction's word (``mentions``: holdout name → correction → rows holding its word) compared on both
    holdouts. No slice with rows (or no pair to compare): the comparison unchanged."""
    recent = comparison.paired.get("recent")
    predicted = predictions.get("recent", {})
    if recent is None or CHALLENGER not in predicted or CHAMPION not in predicted:
        return comparison, None
    tests = compare_slices(holdouts["recent"].labels, predicted[CHAMPION].ids, predicted[CHALLENGER].ids, slices)
    if not tests:
        return comparison, None
    window_p, tested = adjusted_family(recent.p_value, tests)
    outside = {name: _paired_outside(holdouts[name], predictions[name], mentions.get(name, {}))
               if {CHAMPION, CHALLENGER} <= set(predictions.get(name, {})) else None for name in ("recent", "fixed")}
    paired = {**comparison.paired, "recent": dataclasses.replace(recent, adjusted_p=window_p)}
    return (dataclasses.replace(comparison, paired=paired),
            SliceEvidence(tuple(tested), outside["recent"], outside["fixed"]))
