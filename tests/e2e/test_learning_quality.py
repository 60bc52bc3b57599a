"""Learning quality on a small real slice with a real infinity server: the stream behind `make quality`
(continued vs refit champions through tasks.run_cycle), and a feature-schema change forcing a fresh training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import policies, scenarios
from lab.charts import CONFUSION_PNG, LEARNING_CURVE_PNG
from lab.scenarios import Policy
from lab.stream import QUALITY_JSON, QualityOptions, stream
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import next_batch
from tweet_sentiment.model import features
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.schema import LABELS, FeatureSchema

pytestmark = pytest.mark.e2e
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_stream_keeps_the_continued_model_sane_and_writes_the_reports(pipeline_env: Path):
    settings = Settings.from_env()
    summary = stream(settings, QualityOptions(bootstrap_rows=1000, batch_rows=500, max_batches=2))

    report = json.loads((settings.layout().reports / QUALITY_JSON).read_text())
    cycles = report["per_cycle"]
    assert [c["rows_seen"] for c in cycles] == [1000, 1500, 2000]
    gate = RunOptions()
    for cycle in cycles[1:]:
        assert cycle["continue_strategy"] == "continue" and cycle["refit_strategy"] == "refit"
        # no exploding raw scores, and never worse than the champion by more than the gate would let through
        assert cycle["continue_challenger_max_abs_raw"] < gate.max_raw_score
        assert cycle["continue_challenger_f1"] >= cycle["continue_f1"] - 0.02, cycle
    assert summary["final_macro_f1"] == cycles[-1]["continue_f1"] > 0.7  # the lexicon views carry this data
    assert summary["max_gap_to_refit"] == pytest.approx(
        max(c["refit_challenger_f1"] - c["continue_f1"] for c in cycles[1:]), abs=1e-5)
    assert summary["mean_continue_train_s"] > 0 and summary["mean_refit_train_s"] > 0
    for name in (LEARNING_CURVE_PNG, CONFUSION_PNG):
        assert (settings.layout().reports / name).read_bytes().startswith(PNG_MAGIC)


def test_policy_stream_relabels_from_its_start_and_reports_how_fast_the_champion_adapts(
        pipeline_env: Path, monkeypatch: pytest.MonkeyPatch):
    policy = Policy("tiny", r"\bstores?\b|\bshop", dict.fromkeys(LABELS, "Extremely Negative"),
                    start_batch=1, relabel_holdout=True)
    monkeypatch.setitem(scenarios.POLICIES, "tiny", policy)
    settings = Settings.from_env()
    summary = stream(settings, QualityOptions(bootstrap_rows=1000, batch_rows=500, max_batches=3, scenario="tiny"))

    cycles = json.loads((settings.layout().reports / QUALITY_JSON).read_text())["per_cycle"]
    assert cycles[0]["rows_touched"] == 0 and all(c["rows_touched"] > 25 for c in cycles[1:])
    assert summary["scenario"] == "tiny" and summary["rows_relabelled_share"] > 0.05
    assert summary["policy_macro_f1"] == cycles[3]["continue_recent_f1"]  # read three batches after the start
    assert summary["plain_macro_f1_same_rows"] == cycles[3]["plain_recent_f1"]
    assert summary["policy_gap_to_refit"] == pytest.approx(
        cycles[3]["refit_challenger_recent_f1"] - cycles[3]["continue_recent_f1"], abs=1e-5)
    assert summary["batches_to_adapt"] in (None, 1, 2, 3) and 0.3 < summary["unaffected_macro_f1"] <= 1
    assert summary["promotions"] == sum(c["continue_promoted"] + c.get("continue_refit_promoted", False)
                                        for c in cycles[1:])  # a refit that paid counts too


def test_a_feature_schema_change_forces_a_fresh_training(pipeline_env: Path, monkeypatch: pytest.MonkeyPatch):
    settings = Settings.from_env()
    bootstrap(settings, refit=False)
    registry = ModelRegistry.of(settings)
    first = registry.card(registry.champion_version())
    assert FeatureSchema.from_dict(first["feature_schema"]).embedding_components == features.EMBEDDING_COMPONENTS

    monkeypatch.setattr(features, "EMBEDDING_COMPONENTS", 8)  # the code now builds another schema
    next_batch(settings.layout(), settings.train_file, 500, settings.bootstrap_rows)
    report = run_cycle(settings, "after-schema-change", RunOptions(strategy="continue", force_promote=True))

    card = registry.card(report.challenger.version)
    assert card["strategy"] == "refit" and card["note"] == "feature schema changed: trained from scratch"
    assert card["parent"] is None and card["feature_schema"]["embedding_components"] == 8
    assert report.decision.promoted and report.evaluation.champion_metrics["rows"] > 0


def test_policy_scenario_scores_each_policy_on_its_annotators_holdout(pipeline_env: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    shops = Policy("shops", r"\bstores?\b|\bshop", dict.fromkeys(LABELS, "Extremely Negative"), start_batch=1)
    prices = Policy("prices", r"\bprices?\b|\bcost", dict.fromkeys(LABELS, "Extremely Positive"), start_batch=1)
    monkeypatch.setattr(scenarios, "POLICIES", {"shops": shops, "prices": prices})
    monkeypatch.setattr(policies, "POLICIES", scenarios.POLICIES)
    monkeypatch.setenv("TWEET_SENTIMENT_REFIT_EVERY_BATCHES", "2")  # a refit pays at batch 2 at the latest
    settings = Settings.from_env()
    summary = policies.policy_stream(settings, QualityOptions(bootstrap_rows=1000, batch_rows=500, max_batches=2))

    report = json.loads((settings.layout().reports / policies.POLICY_JSON[False]).read_text())
    assert set(summary["policies"]) == {"shops", "prices"} and summary["batches"] == 2
    for name, figures in summary["policies"].items():
        batches = report["per_batch"][name]
        assert [b["batch"] for b in batches] == [0, 1, 2] and batches[0]["rows_relabelled"] == 0
        assert all(b["rows_relabelled"] > 10 for b in batches[1:])
        assert figures["holdout_rows_relabelled"] > 10
        # the gate never saw the relabelled holdout: the bootstrap champion gets the rule's rows mostly wrong
        assert batches[0]["policy_rows_accuracy"] < 0.5
        assert figures["policy_rows_accuracy"] == [b["policy_rows_accuracy"] for b in batches[1:]]
        assert figures["ceiling_policy_rows_accuracy"] > batches[0]["policy_rows_accuracy"]
        assert figures["ceiling_macro_f1"] > figures["bootstrap_macro_f1"]
        room = figures["ceiling_macro_f1"] - figures["bootstrap_macro_f1"]
        assert figures["gap_closed"] == pytest.approx(
            (figures["final_macro_f1"] - figures["bootstrap_macro_f1"]) / room, abs=1e-3)
        assert 0.3 < figures["unaffected_macro_f1"] <= 1
        # the refit path ran beside the cycle: a refit challenger, judged at half the significance
        refits = [b for b in batches[1:] if b["refit_version"]]
        assert refits and figures["refit_challengers"] == len(refits) and figures["refit_cpu_s_per_batch"] > 0
        assert all("a refit pays" in b["refit_reason"] for b in refits)
        assert all(("p<0.005" in b["refit_reason"]) or ("changed" in b["refit_reason"]) for b in refits), refits
    gaps = sorted(f["gap_closed"] for f in summary["policies"].values())
    assert summary["gap_closed_median"] == pytest.approx(sum(gaps) / 2)
