"""The noisy scenario's forced refits scored on the same rows with their true labels, and compared in pairs.

Macro-F1 only sees each row's top class; uniform flips rarely move it. What they do move is the probabilities
(the labelling queue orders rows by them, the mood view shows them as confidence), so each refit is also scored by
proper scoring rules (mean log loss, Brier score) and the calibration of its top class (ECE). Two holdouts, both
with labels nobody flipped: the fixed holdout, and the recent window of the *clean* stream (the same texts are in
every pipeline's recent slice, so no refit trained on them). A pair of refits is compared on the same rows by a
paired bootstrap: of macro-F1 (evaluation.paired_bootstrap) and of the per-row losses
(evaluation.paired_loss_bootstrap).
"""

from __future__ import annotations

import numpy as np

from lab.metrics import paired_loss_bootstrap, probability_scores, row_losses
from tweet_sentiment.config import Settings
from tweet_sentiment.model.comparison import Holdout
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.gate import metrics, paired_bootstrap
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.resources import holdouts, infinity_client

LOSSES = ("log_loss", "brier")


def true_label_holdouts(clean: Settings) -> dict[str, Holdout]:
    """The fixed holdout and the clean stream's recent window (its labels as the file has them)."""
    return holdouts(clean)


def champion_probabilities(settings: Settings, holdouts: dict[str, Holdout]) -> dict[str, np.ndarray]:
    """The pipeline's champion's class probabilities on each holdout (features from the cache)."""
    champion = ModelRegistry.of(settings).champion()
    if champion is None:
        raise RuntimeError(f"no champion under {settings.data_root}")
    with infinity_client(settings) as client:
        return {name: champion.booster.predict(feature_matrix(h.texts, champion.schema, client,
                                                              settings.layout().embeddings))
                for name, h in holdouts.items()}


def scores(holdouts: dict[str, Holdout], probabilities: dict[str, np.ndarray]) -> dict:
    """Per holdout: macro-F1, accuracy, log loss, Brier score and ECE."""
    out = {}
    for name, h in holdouts.items():
        hard = metrics(h.labels, probabilities[name].argmax(axis=1))
        out[name] = {"macro_f1": hard["macro_f1"], "accuracy": hard["accuracy"],
                     **probability_scores(h.labels, probabilities[name])}
    return out


def compare(holdouts: dict[str, Holdout], worse: dict[str, np.ndarray], better: dict[str, np.ndarray]) -> dict:
    """Per holdout and figure, how much ``better`` beats ``worse`` on the same rows (macro-F1 gained, mean loss
    saved) and the paired bootstrap's one-sided p-value that it does not."""
    out = {}
    for name, h in holdouts.items():
        figures = {"macro_f1": paired_bootstrap(h.labels, worse[name].argmax(axis=1),
                                                better[name].argmax(axis=1)).to_dict()}
        lost, kept = row_losses(h.labels, worse[name]), row_losses(h.labels, better[name])
        figures.update({loss: paired_loss_bootstrap(lost[loss], kept[loss]).to_dict() for loss in LOSSES})
        out[name] = figures
    return out
