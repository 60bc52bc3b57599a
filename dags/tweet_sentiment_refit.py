"""The refit, off the retrain cycle's path: due → train → judge.

Hourly (``TWEET_SENTIMENT_REFIT_CRON``) the policy is checked: a refit is due when the champion holds more than
``TWEET_SENTIMENT_MAX_CHAMPION_TREES`` trees (a compacting refit), or when a run is triggered with ``force``.
A fresh model is then trained on every labelled row that weighs (the newest 20 recency half-lives of batches),
chunk by chunk (minutes at a million rows, progress in the train task's log), while the 20-minute cycle goes on;
the challenger is judged by the cycle's gate, and its promotion is a compare-and-swap on the champion pointer (a
refit that ends after the cycle promoted another model is rejected, with the reason). Each task calls one function
of ``tweet_sentiment.pipeline.refit``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline import airflow_assets, refit
from tweet_sentiment.pipeline.contracts import ChallengerResult
from tweet_sentiment.pipeline.params import REFIT_PARAMS, RunOptions

SETTINGS = Settings.from_env()  # the schedule is fixed when the file is parsed


def _params() -> dict:
    return get_current_context()["params"]


@task(multiple_outputs=False)
def due() -> dict:
    """Is a refit due (the policy, or the force Param)? Skips the run, with the reason, when it is not."""
    answer = refit.refit_due(Settings.from_env(), bool(_params().get("force")))
    if not answer.due:
        raise AirflowSkipException(answer.reason)
    return answer.to_json()


@task(multiple_outputs=False)
def train(answer: dict) -> dict:
    """A fresh model on every labelled row, built chunk by chunk (progress in this log)."""
    return refit.train_refit(Settings.from_env(), refit.RefitDue.from_json(answer),
                             RunOptions.from_params(_params())).to_json()


@task(multiple_outputs=False, inlets=[airflow_assets.CHAMPION],
      outlets=[airflow_assets.CHAMPION_CHANGE, airflow_assets.CANDIDATE_AMBIGUOUS])
def judge(challenger: dict, *, outlet_events=None) -> dict:
    """The cycle's gate: promote (compare-and-swap on the pointer) or keep the champion; a promotion records a
    champion asset event, an ambiguous challenger a candidate event (the approval DAG asks a person)."""
    outcome = refit.judge_refit(Settings.from_env(), ChallengerResult.from_json(challenger),
                                RunOptions.from_params(_params()))
    if outcome.event:
        alias, asset = ((airflow_assets.CHAMPION_CHANGE, airflow_assets.CHAMPION) if outcome.promoted
                        else (airflow_assets.CANDIDATE_AMBIGUOUS, airflow_assets.CANDIDATE))
        outlet_events[alias].add(asset, extra=outcome.event)
    return outcome.to_json()


@dag(
    dag_id="tweet_sentiment_refit",
    description="Refit the model on every labelled row, off the retrain cycle's path; promote it only if better.",
    schedule=SETTINGS.refit_cron,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ml", "sentiment"],
    doc_md=__doc__,
    params={name: Param(spec.default, title=spec.title, section=spec.section, description=spec.description,
                        **spec.schema) for name, spec in REFIT_PARAMS.items()},
)
def tweet_sentiment_refit() -> None:
    judge(train(due()))


tweet_sentiment_refit()
