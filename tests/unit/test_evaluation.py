import lightgbm as lgb
import numpy as np

from tweet_sentiment.evaluation import evaluate, promotion_decision
from tweet_sentiment.schema import LABELS


def metrics(f1: float, raw: float = 5.0) -> dict:
    return {"macro_f1": f1, "max_abs_raw": raw}


def test_promotes_only_a_sufficient_gain():
    assert promotion_decision(metrics(0.80), metrics(0.79), 0.005, False, 50)[0] is True
    promote, reason = promotion_decision(metrics(0.793), metrics(0.79), 0.005, False, 50)
    assert promote is False and "needed +0.0050" in reason


def test_force_promotes_a_worse_model_but_never_a_diverged_one():
    assert promotion_decision(metrics(0.5), metrics(0.8), 0.0, True, 50) == (
        True, "forced; challenger macro-F1 0.5000 vs champion 0.8000 (-0.3000, needed +0.0000)")
    promote, reason = promotion_decision(metrics(0.9, raw=78000.0), metrics(0.8), 0.0, True, 50)
    assert promote is False and reason.startswith("diverged")
    assert promotion_decision(metrics(0.9, raw=float("inf")), None, 0.0, True, 50)[0] is False


def test_first_model_and_missing_challenger():
    assert promotion_decision(metrics(0.6), None, 0.01, False, 50)[0] is True
    assert promotion_decision(None, metrics(0.6), 0.0, True, 50)[0] is False


def test_evaluate_reports_macro_f1_per_class_and_confusion():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(len(LABELS)), 40)
    x = np.eye(len(LABELS))[labels] + rng.normal(scale=0.1, size=(len(labels), len(LABELS)))
    params = {"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, labels), 20)
    result = evaluate(booster, x, labels)
    assert result["macro_f1"] == 1.0 and result["accuracy"] == 1.0
    assert set(result["per_class_f1"]) == set(LABELS)
    assert np.trace(np.array(result["confusion"])) == len(labels)
    assert 0 < result["max_abs_raw"] < 50 and result["rows"] == len(labels)
