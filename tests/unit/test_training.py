"""Fresh and continued boosting on small synthetic data: early stopping, sane continuation, divergence guard."""

import hashlib

import lightgbm as lgb
import numpy as np

from tweet_sentiment.model.boosting import BoostingParams, continue_boosting, train_fresh, validation_mask
from tweet_sentiment.model.gate import GateRules, evaluate, promotion_decision
from tweet_sentiment.schema import LABELS

FAST = BoostingParams(num_boost_round=60, continue_rounds=15, early_stopping_rounds=5, min_data_in_leaf=5)


def noisy_classes(rows: int, seed: int, noise: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(LABELS), rows)
    features = np.eye(len(LABELS))[labels] + rng.normal(scale=noise, size=(rows, len(LABELS)))
    return features.astype(np.float32), labels


def hashes(n: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(n)]


def test_validation_mask_is_a_stable_share_of_hashes():
    mask = validation_mask(hashes(5000), 0.1)
    assert 0.08 < mask.mean() < 0.12
    assert (validation_mask(hashes(5000), 0.1) == mask).all()
    assert not validation_mask(hashes(100), 0.0).any()


def test_early_stopping_keeps_only_the_best_rounds_and_reports_validation_f1():
    x, y = noisy_classes(1500, seed=1)
    valid = validation_mask(hashes(len(y)), 0.2)
    stopped = train_fresh(x, y, FAST, valid)
    assert stopped.validation_macro_f1 is not None and stopped.validation_macro_f1 > 0.6
    assert 0 < stopped.rounds_added < FAST.num_boost_round  # easy data: it stops well before the cap
    assert stopped.booster.current_iteration() == stopped.rounds_added
    unstopped = train_fresh(x, y, FAST)
    assert unstopped.rounds_added == FAST.num_boost_round and unstopped.validation_macro_f1 is None


def test_continued_model_stays_sane_over_many_cycles():
    """Ten continuations on new batches plus replay: raw scores stay bounded, F1 does not fall below the gate."""
    x, y = noisy_classes(1500, seed=2)
    x_test, y_test = noisy_classes(1000, seed=3)
    champion = train_fresh(x, y, FAST, validation_mask(hashes(len(y)), 0.1)).booster
    start = evaluate(champion, x_test, y_test)
    rng = np.random.default_rng(5)
    added = 0
    for cycle in range(10):
        xn, yn = noisy_classes(600, seed=10 + cycle)
        replay = rng.choice(len(y), 600, replace=False)
        xb, yb = np.vstack([xn, x[replay]]), np.concatenate([yn, y[replay]])
        x, y = np.vstack([x, xn]), np.concatenate([y, yn])
        result = continue_boosting(champion, xb, yb, FAST, validation_mask(hashes(len(yb), f"c{cycle}"), 0.2))
        assert 0 <= result.rounds_added <= FAST.continue_rounds
        champion, added = result.booster, added + result.rounds_added
    assert added > 0  # the continuations did add trees
    end = evaluate(champion, x_test, y_test)
    assert end["max_abs_raw"] < 20
    assert end["macro_f1"] >= start["macro_f1"] - 0.01, (start["macro_f1"], end["macro_f1"])


def test_divergence_guard_rejects_an_exploded_model_that_the_regularised_continuation_avoids():
    """A confident model continued on a batch with 10% wrong labels: unguarded it explodes, guarded it does not."""
    x, y = noisy_classes(400, seed=4, noise=0.05)
    reckless = {"objective": "multiclass", "num_class": len(LABELS), "learning_rate": 1.0, "lambda_l2": 0.0,
                "min_sum_hessian_in_leaf": 1e-12, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1}
    champion = lgb.train(reckless, lgb.Dataset(x, y), 50)
    xb, yb = noisy_classes(400, seed=5, noise=0.05)
    wrong = np.random.default_rng(6).random(len(yb)) < 0.1
    yb[wrong] = (yb[wrong] + 1) % len(LABELS)
    before = evaluate(champion, x, y)
    exploded = evaluate(lgb.train(reckless, lgb.Dataset(xb, yb), 30, init_model=champion), x, y)
    assert exploded["max_abs_raw"] > 1000
    decision = promotion_decision(None, None, exploded["max_abs_raw"], GateRules(force_promote=True))
    assert decision.promote is False and decision.reason.startswith("diverged")
    guarded = evaluate(continue_boosting(champion, xb, yb, FAST).booster, x, y)
    assert guarded["max_abs_raw"] < 50 and guarded["macro_f1"] >= before["macro_f1"] - 0.01
