"""A person decides an ambiguous challenger: build the request → ask (Required actions) → promote | keep.

The retrain DAG records a candidate asset event when its gate calls a challenger ambiguous (better on one
holdout, worse beyond the tolerance on the other); each event starts a run here. A separate DAG, so that a
waiting approval never holds the retrain DAG's only run slot. The request waits in Airflow's Browse → Required
actions for the configured users; without an answer within the timeout (the retrain run's ``approval_timeout_s``
Param, else the setting) the champion stays. The answer is checked against the registry again: after another
promotion or a rollback it promotes nothing. Each task calls one function of ``tweet_sentiment.pipeline.approve``, which
is tested without Airflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline import airflow_assets, approve

SETTINGS = Settings.from_env()  # the approvers and the default timeout are fixed when the file is parsed


class ApprovalOperator(HITLBranchOperator):
    """Airflow's HITL branch, which waits as long as the request says (the retrain run's ``approval_timeout_s``,
    else the setting) and keeps who answered (XCom ``response``; None: the timeout's default)."""

    def execute(self, context: Any) -> Any:
        request = context["ti"].xcom_pull(task_ids="build_request")
        self.response_timeout = timedelta(seconds=request["timeout_s"])
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        user = event.get("responded_by_user") or {}
        context["ti"].xcom_push(key="response", value={"by": user.get("name") or user.get("id")})
        return super().execute_complete(context, event)


def _by(ti: Any) -> str | None:
    return (ti.xcom_pull(task_ids="review", key="response") or {}).get("by")


@dag(
    dag_id="tweet_sentiment_approve",
    description="A person promotes an ambiguous challenger, or keeps the champion.",
    schedule=[airflow_assets.CANDIDATE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,  # several approvals may wait at once; a stale one is refused when answered
    tags=["ml", "sentiment"],
    doc_md=__doc__,
)
def tweet_sentiment_approve() -> None:
    @task(multiple_outputs=False)
    def build_request(*, triggering_asset_events=None) -> dict:
        """The request for the newest candidate of this run's events: subject, Markdown body, the candidate."""
        events = triggering_asset_events.get(airflow_assets.CANDIDATE, []) if triggering_asset_events else []
        if not events:
            raise AirflowSkipException("no candidate event: this DAG runs on the retrain DAG's candidate events")
        return approve.build_request(Settings.from_env(), [dict(event.extra) for event in events])

    review = ApprovalOperator(
        task_id="review",
        subject="{{ ti.xcom_pull(task_ids='build_request')['subject'] }}",
        body="{{ ti.xcom_pull(task_ids='build_request')['body'] }}",
        options=approve.OPTIONS,
        options_mapping={approve.PROMOTE: "promote", approve.KEEP: "keep"},
        defaults=approve.KEEP,
        response_timeout=timedelta(seconds=SETTINGS.approval_timeout_s),
        assigned_users=SETTINGS.approvers,
    )

    @task(multiple_outputs=False, outlets=[airflow_assets.CHAMPION_CHANGE])
    def promote(request: dict, *, ti=None, outlet_events=None) -> dict:
        """Promote the challenger unless the champion changed since its evaluation; a real promotion records a
        champion asset event through the alias, a refused one none."""
        decided = approve.decide(Settings.from_env(), request["candidate"], approve.PROMOTE, _by(ti))
        if decided.get("event"):
            outlet_events[airflow_assets.CHAMPION_CHANGE].add(airflow_assets.CHAMPION, extra=decided["event"])
        return decided

    @task(multiple_outputs=False)
    def keep(request: dict, *, ti=None) -> dict:
        """Keep the champion: a person chose so, or nobody answered in time (the default)."""
        return approve.decide(Settings.from_env(), request["candidate"], approve.KEEP, _by(ti))

    request = build_request()
    request >> review >> [promote(request), keep(request)]


tweet_sentiment_approve()
