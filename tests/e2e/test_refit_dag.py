"""The refit DAG with real parts (a real infinity, dag.test() on a real Airflow DB, a slice of the Kaggle data):
skipped while the champion is within its tree bound, a compacting refit through the gate once it is past it, and
a refit that ends after the cycle promoted another model rejected by the pointer's compare-and-swap."""

from __future__ import annotations

import pytest
from support import load_dag, local_registry, run_dag

from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit import judge_refit, refit_due, train_refit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def refit_dag():
    return load_dag("tweet_sentiment_refit")


def test_hourly_one_run_at_a_time_due_train_judge_and_no_step_of_the_cycle(refit_dag):
    from airflow.sdk import AssetAlias, CronTriggerTimetable

    assert isinstance(refit_dag.timetable, CronTriggerTimetable) and refit_dag.timetable.expression == "0 * * * *"
    assert refit_dag.max_active_runs == 1 and refit_dag.catchup is False
    assert [t.downstream_task_ids for t in (refit_dag.task_dict[n] for n in ("due", "train", "judge"))] == [
        {"train"}, {"judge"}, set()]
    assert set(refit_dag.task_dict["judge"].outlets) == {AssetAlias("tweet_sentiment_champion_change"),
                                                         AssetAlias("tweet_sentiment_candidate_ambiguous")}
    assert refit_dag.params["force"] is False and "strategy" not in refit_dag.params


def test_within_the_bound_skipped_past_it_a_compacting_refit_through_the_gate(pipeline_env, airflow_db, refit_dag,
                                                                             monkeypatch):
    settings = Settings.from_env()
    registry = local_registry(settings.layout().registry)
    bootstrap(settings, refit=False)
    fresh = registry.champion_version()  # a fresh fit is never compacted: a continued champion (its trees copied)
    first = registry.save(registry.load(fresh), {**registry.card(fresh), "strategy": "continue"})
    registry.promote(first, "continued", expected=fresh)
    trees = registry.card(first)["num_trees"]
    monkeypatch.setenv("TWEET_SENTIMENT_MAX_CHAMPION_TREES", str(trees))
    assert set(run_dag(refit_dag, {"force": False}).values()) == {"skipped"}
    assert registry.count() == 2

    monkeypatch.setenv("TWEET_SENTIMENT_MAX_CHAMPION_TREES", str(trees - 1))
    states = run_dag(refit_dag, {"force": False, "force_promote": True})
    assert states == {"due": "success", "train": "success", "judge": "success"}
    second = registry.champion_version()
    card = registry.card(second)
    assert second != first and card["strategy"] == "refit" and card["champion_at_training"] == first
    assert card["status"] == "champion" and card["reason"].startswith("forced")
    assert card["rows_trained"] == registry.card(first)["rows_trained"]  # every trainable row, once
    assert card["num_trees"] <= (trees - 1) / 2  # room for continuations before the bound asks again
    assert not refit_due(Settings.from_env(), force=False).due  # a fresh fit is not compacted again


def test_a_refit_that_ends_after_the_cycle_promoted_another_model_is_rejected(pipeline_env, airflow_db):
    settings = Settings.from_env()
    registry = local_registry(settings.layout().registry)
    bootstrap(settings, refit=False)
    first = registry.champion_version()
    options = RunOptions(force_promote=True)
    trained = train_refit(settings, refit_due(settings, force=True), options)
    meanwhile = registry.save(registry.load(first), {**registry.card(first), "strategy": "continue"})
    registry.promote(meanwhile, "the cycle's promotion", expected=first)
    outcome = judge_refit(settings, trained, options)
    assert not outcome.promoted and f"champion changed during the run ({first} → {meanwhile})" in outcome.reason
    assert registry.champion_version() == meanwhile and registry.card(trained.version)["status"] == "rejected"
