"""The scoring DAG imports cleanly, is scheduled on the champion and the unlabelled inbox or a short timetable,
and wires the scoring run: sense → claim → plan → score partitions (mapped) → score → alerts → mood | drift |
labelling queue → archive; its alerts task emits the mood-alert asset through an alias."""

from datetime import timedelta

import pytest
from support import ROOT


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["tweet_sentiment_score"]


def test_schedule_a_champion_or_unlabelled_event_or_a_short_timetable_one_run_at_a_time(dag):
    from airflow.sdk import AssetAny, AssetOrTimeSchedule, DeltaTriggerTimetable

    from tweet_sentiment.config import Settings
    from tweet_sentiment.pipeline.assets import CHAMPION, UNLABELLED

    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, DeltaTriggerTimetable)
    assert dag.timetable.timetable.delta == timedelta(minutes=Settings.from_env().score_every_min) <= timedelta(
        minutes=10)
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny)
    assert sorted((a.name, a.uri) for a in condition.objects) == sorted((a.name, a.uri) for a in (CHAMPION, UNLABELLED))
    assert dag.max_active_runs == 1 and dag.catchup is False


def test_task_graph_is_the_scoring_run(dag):
    downstream = {t: sorted(dag.task_dict[t].downstream_task_ids) for t in dag.task_dict}
    assert downstream["sense"] == ["claim_and_ingest"]
    assert downstream["claim_and_ingest"] == ["archive", "plan_scoring"]
    assert downstream["plan_scoring"] == ["score", "score_partition"]
    assert downstream["score_partition"] == ["score"]
    assert dag.task_dict["score_partition"].is_mapped  # one task per partition, over the workers
    assert downstream["score"] == ["alerts", "archive", "drift", "mood", "rescore_labelling_queue"]
    assert downstream["alerts"] == ["archive", "mood"]  # the chart marks the run's own alerts
    assert all(downstream[t] == ["archive"] for t in ("mood", "drift", "rescore_labelling_queue"))
    assert downstream["archive"] == []
    assert dag.task_dict["plan_scoring"].inlets[0].name == "tweet_sentiment_champion"
    assert {t.task_id: [o.name for o in t.outlets] for t in dag.tasks if t.outlets} == {
        "alerts": ["tweet_sentiment_mood_alert_began"]}  # the alias the mood-alert events go through


def test_every_task_says_what_it_does_and_pushes_one_xcom(dag):
    for task in dag.tasks:
        assert task.doc_md or task.doc, f"{task.task_id} has no docstring"
        assert getattr(task, "multiple_outputs", False) is False, task.task_id


def test_params_choose_the_drift_reference_and_a_full_rescore_and_hold_no_paths(dag):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    from tweet_sentiment.pipeline.params import ScoreOptions

    assert set(dag.params.keys()) == {"drift_reference", "rescore_all"}
    assert dag.params.get_param("drift_reference").schema["enum"] == ["setting", "stream", "training"]
    form = ParamsDict(dict(dag.params.items()))
    with pytest.raises(ParamValidationError):
        form["drift_reference"] = "yesterday"
    assert ScoreOptions.from_params({}) == ScoreOptions(None, False)
    assert ScoreOptions.from_params({"drift_reference": "training", "rescore_all": True}) == ScoreOptions("training",
                                                                                                          True)
