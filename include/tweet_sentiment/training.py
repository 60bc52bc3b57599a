"""LightGBM on the feature matrix: fresh training, continued boosting from a champion, and divergence guards.

Continued boosting on a confident multiclass model is fragile: its hessians p(1-p) are tiny, so a leaf value
g/h explodes (measured here: raw scores of ±78,000 and macro-F1 0.16). The guards are an L2 term and a
minimum hessian per leaf, a cap on each leaf's step, and a sanity check of the raw scores before promotion.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import lightgbm as lgb
import numpy as np

from tweet_sentiment.schema import LABELS


@dataclass(frozen=True)
class BoostingParams:
    """Hyper-parameters of one training; the DAG's Params override the per-run ones."""

    learning_rate: float = 0.05
    num_boost_round: int = 400
    continue_learning_rate: float = 0.05
    continue_rounds: int = 30
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.5
    lambda_l2: float = 1.0
    min_sum_hessian_in_leaf: float = 0.01
    max_delta_step: float = 2.0
    num_threads: int = 2
    seed: int = 13

    def lgb_params(self, learning_rate: float) -> dict:
        return {
            "objective": "multiclass", "num_class": len(LABELS), "learning_rate": learning_rate,
            "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction, "lambda_l2": self.lambda_l2,
            "min_sum_hessian_in_leaf": self.min_sum_hessian_in_leaf, "max_delta_step": self.max_delta_step,
            "num_threads": self.num_threads, "seed": self.seed, "deterministic": True,
            "force_row_wise": True, "verbose": -1,
        }

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainingResult:
    booster: lgb.Booster
    train_s: float
    rounds_added: int


def train_fresh(features: np.ndarray, labels: np.ndarray, params: BoostingParams) -> TrainingResult:
    """A new model from scratch on ``features`` (a refit on all labelled rows, or the bootstrap)."""
    start = time.perf_counter()
    booster = lgb.train(params.lgb_params(params.learning_rate), lgb.Dataset(features, labels),
                        num_boost_round=params.num_boost_round)
    return TrainingResult(booster, time.perf_counter() - start, params.num_boost_round)


def continue_boosting(champion: lgb.Booster, features: np.ndarray, labels: np.ndarray,
                      params: BoostingParams) -> TrainingResult:
    """Add ``continue_rounds`` trees to a copy of the champion, fitted to its residuals on ``features``."""
    start = time.perf_counter()
    booster = lgb.train(params.lgb_params(params.continue_learning_rate), lgb.Dataset(features, labels),
                        num_boost_round=params.continue_rounds, init_model=champion, keep_training_booster=True)
    return TrainingResult(booster, time.perf_counter() - start, params.continue_rounds)
