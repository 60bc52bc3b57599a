"""The DAG file imports cleanly and wires the loop the product needs."""

from datetime import timedelta

import pytest
from support import ROOT


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["tweet_sentiment_retrain"]


def test_schedule_every_20_minutes_or_an_inbox_event_one_run_at_a_time_no_catchup(dag):
    from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable

    from tweet_sentiment.pipeline.assets import INBOX

    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, DeltaTriggerTimetable)
    assert dag.timetable.timetable.delta == timedelta(minutes=20)
    assert [(a.name, a.uri) for a in dag.timetable.asset_condition.objects] == [(INBOX.name, INBOX.uri)]
    assert dag.max_active_runs == 1 and dag.catchup is False


def test_only_a_real_promotion_can_record_a_champion_event_through_the_alias(dag):
    from airflow.sdk import Asset, AssetAlias

    from tweet_sentiment.pipeline.assets import CHAMPION

    assert dag.task_dict["promote"].outlets == [AssetAlias("tweet_sentiment_champion_change")]
    # keep_champion records a candidate event only when the evaluation was ambiguous: through its own alias
    assert dag.task_dict["keep_champion"].outlets == [AssetAlias("tweet_sentiment_candidate_ambiguous")]
    assert all(not task.outlets for task in dag.tasks if task.task_id not in ("promote", "keep_champion"))
    # evaluate reads the champion: the asset is declared (and known to the API server) before any promotion
    assert dag.task_dict["evaluate"].inlets == [Asset(name=CHAMPION.name, uri=CHAMPION.uri)]


def test_task_graph_is_the_retraining_loop(dag):
    downstream = {t: sorted(dag.task_dict[t].downstream_task_ids) for t in dag.task_dict}
    assert downstream["sense_inbox"] == ["claim_and_ingest"]
    assert downstream["claim_and_ingest"] == ["archive", "embed"]
    assert downstream["embed"] == ["archive", "check_labels"] and downstream["check_labels"] == ["archive", "train"]
    assert downstream["train"] == ["archive", "evaluate"]
    assert downstream["decide"] == ["keep_champion", "promote"]
    assert downstream["promote"] == ["archive"] and downstream["keep_champion"] == ["archive"]
    assert dag.task_dict["archive"].trigger_rule == "none_failed_min_one_success"


def test_sensor_waits_seconds_at_most_and_skips_when_nothing_is_there(dag):
    from tweet_sentiment.config import Settings

    sensor = dag.task_dict["sense_inbox"]
    assert sensor.mode == "poke" and sensor.soft_fail is True
    assert sensor.timeout == Settings.from_env().sensor_deadline_s
    assert Settings().sensor_deadline_s <= 120 and Settings().sensor_poke_s <= 2


def test_branch_is_a_branch_operator(dag):
    from airflow.providers.standard.operators.python import BranchPythonOperator

    assert isinstance(dag.task_dict["decide"], BranchPythonOperator)


def test_every_task_says_what_it_does_and_pushes_one_xcom(dag):
    for task in dag.tasks:
        assert task.doc_md or task.doc, f"{task.task_id} has no docstring"
        assert getattr(task, "multiple_outputs", False) is False, task.task_id


def test_the_strategy_param_says_what_a_manual_run_does_without_new_files(dag):
    description = dag.params.get_param("strategy").description
    assert "refit retrains on the labelled store at once" in description
    assert "continue ends skipped at once" in description and "the run's note" in description


def test_params_have_titles_and_sections_from_the_one_definition(dag):
    from tweet_sentiment.pipeline.params import PARAMS

    assert set(dag.params.keys()) == set(PARAMS)
    for name, spec in PARAMS.items():
        schema = dag.params.get_param(name).schema
        assert schema["title"] == spec.title and schema["section"] in ("Training", "Label check", "Promotion")


def test_params_are_validated_and_hold_no_paths(dag):
    params = dag.params
    assert {"num_boost_round", "learning_rate", "replay_rows", "min_improvement", "force_promote",
            "strategy"} <= set(params.keys())
    assert params.get_param("strategy").schema["enum"] == ["continue", "refit"]
    assert not any("path" in k or "dir" in k or "root" in k for k in params)
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    trigger_form = ParamsDict(dict(params.items()))
    with pytest.raises(ParamValidationError, match="'yolo' is not one of"):
        trigger_form["strategy"] = "yolo"
    with pytest.raises(ParamValidationError):
        trigger_form["learning_rate"] = 0


@pytest.fixture(scope="module")
def approve():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["tweet_sentiment_approve"]


def test_the_approval_dag_runs_on_candidate_events_and_never_holds_the_retrain_slot(approve, dag):
    from tweet_sentiment.pipeline.assets import CANDIDATE

    assert [(a.name, a.uri) for a in approve.timetable.asset_condition.objects] == [(CANDIDATE.name, CANDIDATE.uri)]
    assert approve.max_active_runs > 1 and approve.catchup is False and approve.dag_id != dag.dag_id


def test_the_approval_asks_through_a_hitl_branch_with_the_settings(approve):
    from airflow.providers.standard.operators.hitl import HITLBranchOperator
    from airflow.sdk import AssetAlias

    from tweet_sentiment.config import Settings

    review = approve.task_dict["review"]
    settings = Settings.from_env()
    assert isinstance(review, HITLBranchOperator)
    assert review.options == ["Promote", "Keep champion"] and review.defaults == ["Keep champion"]
    assert review.options_mapping == {"Promote": "promote", "Keep champion": "keep"}
    assert review.response_timeout == timedelta(seconds=settings.approval_timeout_s)
    assert review.assigned_users == settings.approvers
    assert sorted(review.downstream_task_ids) == ["keep", "promote"]
    assert approve.task_dict["promote"].outlets == [AssetAlias("tweet_sentiment_champion_change")]
    assert not approve.task_dict["keep"].outlets
