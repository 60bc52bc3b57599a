"""LightGBM on the feature matrix: fresh training, continued boosting from a champion, and divergence guards.

Continued boosting on a confident multiclass model is fragile: its hessians p(1-p) are tiny, so a leaf value
g/h explodes (docs/quality.md shows how far). The guards are an L2 term and a
minimum hessian per leaf, a cap on each leaf's step, a lower learning rate for continuation rounds, early
stopping on a validation slice (a continuation adds only the rounds that still help), and a sanity check of
the raw scores before promotion (evaluation.promotion_decision).

The validation slice is carved from the training rows by text hash, so a row is in it in every cycle and for
every strategy; the holdout is never used to choose anything here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import lightgbm as lgb
import numpy as np
from scipy import sparse
from sklearn.metrics import f1_score

from tweet_sentiment.schema import LABELS
from tweet_sentiment.text import in_hash_slice

Features = np.ndarray | sparse.csr_matrix  # dense, or sparse when the schema holds hashed words
MIN_VALIDATION_ROWS = 50  # fewer validation rows than this: no early stopping, the round caps apply
# A refit leaves out the rows whose recency weight is below this (under a millionth of a new row's: 20 half-lives
# old). At a million rows nearly every row is such a row: they cost the refit's rounds time and move no split.
NEGLIGIBLE_RECENCY_WEIGHT = 2.0 ** -20


@dataclass(frozen=True)
class BoostingParams:
    """Hyper-parameters of one training (chosen on the validation split, docs/quality.md); Params override some."""

    learning_rate: float = 0.1
    num_boost_round: int = 300  # at most: early stopping on the validation slice stops sooner
    early_stopping_rounds: int = 20
    continue_learning_rate: float = 0.1
    continue_rounds: int = 30  # at most, per continuation
    continue_early_stopping_rounds: int = 5
    new_row_weight: float = 2.0  # a continuation's new rows weigh this much more than the replayed ones
    validation_fraction: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 1.0
    lambda_l2: float = 1.0
    min_sum_hessian_in_leaf: float = 0.01
    max_delta_step: float = 2.0
    # One thread: the machine is small and shared; OpenMP threads contend with the other tasks (docs/quality.md).
    num_threads: int = 1
    seed: int = 13

    def lgb_params(self, learning_rate: float) -> dict:
        return {
            "objective": "multiclass", "num_class": len(LABELS), "learning_rate": learning_rate,
            "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction, "lambda_l2": self.lambda_l2,
            "min_sum_hessian_in_leaf": self.min_sum_hessian_in_leaf, "max_delta_step": self.max_delta_step,
            "num_threads": self.num_threads, "seed": self.seed, "deterministic": True,
            "force_col_wise": True, "verbose": -1,
        }

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainingResult:
    booster: lgb.Booster
    train_s: float
    rounds_added: int
    validation_macro_f1: float | None  # on the validation slice; None when there was none


def within_tree_bound(params: BoostingParams, max_trees: int) -> BoostingParams:
    """``params`` with a fresh fit's rounds capped so that it holds at most half of ``max_trees`` trees (0: no
    bound). A compacting refit then leaves the champion room for continuations before the bound asks for the
    next refit; a fresh fit as large as the bound would make each of its continuations another compaction."""
    if not max_trees:
        return params
    return replace(params, num_boost_round=min(params.num_boost_round, max(1, max_trees // (2 * len(LABELS)))))


def validation_mask(text_hashes: Sequence[str], fraction: float) -> np.ndarray:
    """Which rows form the validation slice: a fixed share of text hashes, the same in every cycle."""
    return in_hash_slice(text_hashes, fraction)


@dataclass
class TrainingSet:
    """The rows boosted on and the validation slice (None: no early stopping), each with labels and weights.

    A refit builds the two sides apart, chunk by chunk (model/training_set.py), so no row is held twice."""

    features: Features
    labels: np.ndarray
    weights: np.ndarray
    valid: tuple[Features, np.ndarray, np.ndarray] | None = None

    @classmethod
    def split(cls, features: Features, labels: np.ndarray, valid: np.ndarray | None,
              weights: np.ndarray | None) -> TrainingSet:
        """The rows of ``features`` split by the ``valid`` mask; too small a slice (or nothing left to train on):
        every row is trained on, without a validation slice."""
        weights = np.ones(len(labels)) if weights is None else weights
        if valid is None or valid.sum() < MIN_VALIDATION_ROWS or not (~valid).any():
            return cls(features, labels, weights)
        return cls(features[~valid], labels[~valid], weights[~valid], (features[valid], labels[valid], weights[valid]))


def _train(params: dict, data: TrainingSet, rounds: int, patience: int,
           init_model: lgb.Booster | None) -> tuple[lgb.Booster, float | None]:
    """Boost up to ``rounds`` rounds; with a validation slice, stop early and keep only the best rounds."""
    train_set = lgb.Dataset(data.features, data.labels, weight=data.weights)
    if data.valid is None:
        booster = lgb.train(params, train_set, num_boost_round=rounds, init_model=init_model,
                            keep_training_booster=True)
        return booster, None
    features, labels, weights = data.valid
    valid_set = lgb.Dataset(features, labels, weight=weights, reference=train_set)
    # keep_training_booster: no copy through a model string (that copy cost more than a continuation's rounds).
    best = lgb.train(params, train_set, num_boost_round=rounds, init_model=init_model, valid_sets=[valid_set],
                     callbacks=[lgb.early_stopping(patience, verbose=False)], keep_training_booster=True)
    while best.current_iteration() > best.best_iteration:
        best.rollback_one_iter()
    best.free_dataset()
    if init_model is not None and _log_loss(init_model, *data.valid) <= _log_loss(best, *data.valid):
        best = init_model  # no added round helps: add none
    predicted = best.predict(features, raw_score=True).argmax(axis=1)
    return best, float(f1_score(labels, predicted, labels=range(len(LABELS)), average="macro"))


def recency_weights(batch_age: np.ndarray, half_life: float) -> np.ndarray:
    """Row weights halving every ``half_life`` batches of age (0: every row weighs 1)."""
    if half_life <= 0:
        return np.ones(len(batch_age), dtype=np.float64)
    return 0.5 ** (np.asarray(batch_age, dtype=np.float64) / half_life)


def max_weighing_age(half_life: float) -> float:
    """The oldest batch age whose rows weigh at least NEGLIGIBLE_RECENCY_WEIGHT (inf: rows do not age)."""
    return math.inf if half_life <= 0 else -half_life * math.log2(NEGLIGIBLE_RECENCY_WEIGHT)


def _log_loss(booster: lgb.Booster, features: Features, labels: np.ndarray, weights: np.ndarray) -> float:
    probabilities = booster.predict(features)[np.arange(len(labels)), labels]
    return float(np.average(-np.log(np.clip(probabilities, 1e-15, 1.0)), weights=weights))


def train_fresh(features: Features, labels: np.ndarray, params: BoostingParams,
                valid: np.ndarray | None = None, weights: np.ndarray | None = None) -> TrainingResult:
    """A new model from scratch (the bootstrap, the lab); ``valid`` marks the slice, ``weights`` each row's weight
    (recency)."""
    return train_fresh_on(TrainingSet.split(features, labels, valid, weights), params)


def train_fresh_on(data: TrainingSet, params: BoostingParams) -> TrainingResult:
    """A new model from scratch on rows already split into training rows and validation slice (a refit)."""
    start = time.perf_counter()
    booster, valid_f1 = _train(params.lgb_params(params.learning_rate), data, params.num_boost_round,
                               params.early_stopping_rounds, None)
    return TrainingResult(booster, time.perf_counter() - start, booster.current_iteration(), valid_f1)


def continue_boosting(champion: lgb.Booster, features: Features, labels: np.ndarray,
                      params: BoostingParams, valid: np.ndarray | None = None,
                      weights: np.ndarray | None = None) -> TrainingResult:
    """Add at most ``continue_rounds`` trees to a copy of the champion, fitted to its residuals on ``features``.

    With a validation slice, only the rounds that lower its log-loss are kept, possibly none.
    """
    start = time.perf_counter()
    before = champion.current_iteration()
    booster, valid_f1 = _train(params.lgb_params(params.continue_learning_rate),
                               TrainingSet.split(features, labels, valid, weights), params.continue_rounds,
                               params.continue_early_stopping_rounds, champion)
    return TrainingResult(booster, time.perf_counter() - start, booster.current_iteration() - before, valid_f1)
