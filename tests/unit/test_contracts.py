"""The retrain DAG's XCom contracts: each result survives its JSON round trip, a run started on the code before the
typed contracts (its XComs in the old plain-dict shapes) finishes on the new code, and an XCom of another shape
fails naming the contract instead of deep inside a task."""

import json

import lightgbm as lgb
import numpy as np
import pytest

from tweet_sentiment.config import Settings
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.contracts import (
    ChallengerResult,
    ContractError,
    Embedded,
    Evaluation,
    Outcome,
    RunReport,
)

METRICS = {"macro_f1": 0.71, "accuracy": 0.73, "per_class_f1": {"Neutral": 0.8}, "rows": 600}
# What the code before the contracts returned through XComs (copied from a run report it wrote).
OLD_EMBEDDED = {"batch_id": "b7", "rows": 1980, "seconds": 12.4}
OLD_CHALLENGER = {"version": "v1", "strategy": "continue", "train_s": 0.31, "rows_trained": 3691,
                  "validation_macro_f1": 0.93, "seconds": 2.2}
OLD_EVALUATION = {"version": "v1", "champion": "v0", "promote": True, "ambiguous": False,
                  "reason": "better: recent holdout (900 rows): +0.0100 macro-F1, p=0.0010",
                  "gate": {"fixed": {"rows": 3798, "gain": 0.004, "p_value": 0.01},
                           "recent": {"rows": 900, "gain": 0.01, "p_value": 0.001}},
                  "challenger_metrics": METRICS, "champion_metrics": METRICS,
                  "challenger_recent_metrics": METRICS, "champion_recent_metrics": METRICS, "seconds": 9.1}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_root=str(tmp_path / "data"))


@pytest.fixture
def booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    return lgb.train({"objective": "multiclass", "num_class": 5, "verbose": -1, "num_leaves": 4},
                     lgb.Dataset(rng.normal(size=(100, 4)), rng.integers(0, 5, 100)), num_boost_round=2)


@pytest.mark.parametrize("result", [
    Embedded("b1", 3, seconds=1.0),
    ChallengerResult("v1", "continue", 0.3, 100, 0.9, seconds=2.0),
    ChallengerResult(None, reason="no accepted rows in this batch"),
    Evaluation("v1", "v0", True, "better", gate={"fixed": None, "recent": None}, challenger_metrics=METRICS),
    Outcome("v1", True, "better", event={"version": "v1"}),
])
def test_every_result_survives_its_xcom_round_trip(result):
    assert type(result).from_json(json.loads(json.dumps(result.to_json()))) == result


def test_a_run_started_on_the_old_code_finishes_on_the_new(settings, booster):
    """The old plain dicts read as contracts; promote and archive then run on them as on fresh results."""
    registry = ModelRegistry.of(settings)
    champion, challenger = registry.save(booster, {"metrics": METRICS}), registry.save(booster, {"metrics": METRICS})
    registry.promote(champion, "bootstrap", expected=registry.champion_version())
    evaluation = Evaluation.from_json({**OLD_EVALUATION, "version": challenger, "champion": champion})
    assert evaluation.gate["recent"]["gain"] == 0.01 and evaluation.seconds == 9.1
    promoted = retrain.promote_challenger(settings, evaluation)
    assert promoted.promoted and registry.champion_version() == challenger
    assert promoted.event["version"] == challenger and promoted.event["previous"] == champion

    settings.layout().ensure()
    report = retrain.archive_batch(settings, {"batch_id": "b7", "rows_in": 0, "seconds": 1.0},
                                   Embedded.from_json(OLD_EMBEDDED),
                                   ChallengerResult.from_json({**OLD_CHALLENGER, "version": challenger}),
                                   evaluation, {"rows_flagged": 0, "seconds": 0.5})
    assert report.decision == Outcome(challenger, True, OLD_EVALUATION["reason"])
    assert report.timings_s == {"claim_and_ingest": 1.0, "embed": 12.4, "check_labels": 0.5, "train": 2.2,
                                "evaluate": 9.1}
    assert RunReport.from_json(json.loads(json.dumps(report.to_json()))) == report


@pytest.mark.parametrize("xcom", [None, "v1", ["v1"], {"version": "v1"}])
def test_an_xcom_of_another_shape_fails_naming_the_contract(xcom):
    with pytest.raises(ContractError, match="Evaluation"):
        Evaluation.from_json(xcom)
