"""The retraining loop: sense → claim → embed → check labels → train → evaluate → decide → promote | keep → archive.

A run starts on an inbox asset event (an annotator's "Send batch"), every 20 minutes (files that came without an
event, e.g. `make feed`), or by hand. New labelled CSVs in the inbox are claimed, cleaned and stored; a
challenger is trained on them (continuing the champion's boosting, or a refit), evaluated against the fixed
holdout and the annotators' recent holdout, and promoted only if it is better; a promotion records a champion
asset event, an ambiguous evaluation a candidate event (the approval DAG asks a person). A run with nothing to
do ends skipped at once, with the reason in the sensor's log and the run's note. Each task calls one function
of ``tweet_sentiment.pipeline.retrain``, which is tested without Airflow.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pendulum
from airflow.sdk import (
    AssetOrTimeSchedule,
    Connection,
    DeltaTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import batch_id_for
from tweet_sentiment.pipeline import airflow_assets, assets, retrain
from tweet_sentiment.pipeline.api_login import api_login
from tweet_sentiment.pipeline.contracts import ChallengerResult, Embedded, Evaluation
from tweet_sentiment.pipeline.params import PARAMS, RunOptions
from tweet_sentiment.pipeline.run_notes import set_run_note
from tweet_sentiment.pipeline.sensing import GO, SKIP

log = logging.getLogger(__name__)


def _settings() -> Settings:
    """The settings, read from the environment where the code runs (the task's, at run time)."""
    return Settings.from_env()


def _batch_id() -> str:
    return batch_id_for(get_current_context()["run_id"])


def _options() -> RunOptions:
    return RunOptions.from_params(get_current_context()["params"])


def _waited_s() -> float:
    """Seconds since the sensor started."""
    return (pendulum.now("UTC") - get_current_context()["ti"].start_date).total_seconds()


def _note_run(note: str) -> None:
    """The run's note, through the REST API with the service login of the configured connection, if any.

    Best effort: a missing or broken connection leaves the reason in the task log only, never fails the task.
    """
    context, conn_id = get_current_context(), _settings().api_conn_id
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        log.info("no connection %r: the reason is in this log only, not in the run's note", conn_id)
        return
    except Exception:  # an unparsable connection must not turn a skip into a failure
        log.warning("connection %r cannot be read: the reason is in this log only", conn_id, exc_info=True)
        return
    set_run_note(api_login(conn.host or "", conn.port, conn.login or "", conn.password or ""),
                 context["dag"].dag_id, context["run_id"], note)


# poke mode: the sensor waits seconds at most (files still being written, SENSOR_WAIT_S), never minutes,
# and rescheduling would cost more than it frees
@task.sensor(poke_interval=_settings().sensor_poke_s, timeout=_settings().sensor_deadline_s, mode="poke",
             soft_fail=True)
def sense_inbox() -> bool:
    """Go on new files (or a refit on the store); wait only for files still being written; else skip now."""
    work = retrain.sense_inbox(_settings(), _options(), _waited_s())
    log.info("%s: %s", work.action, work.reason)
    if work.action == SKIP:
        _note_run(f"Skipped: {work.reason}")
        raise AirflowSkipException(work.reason)
    return work.action == GO


@task(multiple_outputs=False)
def claim_and_ingest() -> dict:
    """Claim the inbox files; validate, clean and store their rows, quarantining the rest with reasons."""
    return retrain.claim_and_ingest(_settings(), _batch_id())


@task(multiple_outputs=False)
def embed() -> dict:
    """Embed the batch's new texts and the holdout through infinity (cached ones are not sent again)."""
    return retrain.embed_batch(_settings(), _batch_id()).to_json()


@task(multiple_outputs=False)
def check_labels() -> dict:
    """Flag the batch's likely label errors (confident learning); hold them for review or down-weight them."""
    return retrain.check_labels(_settings(), _batch_id(), _options())


@task(multiple_outputs=False)
def train() -> dict:
    """Train a challenger: continue the champion's boosting, or refit on every labelled row."""
    return retrain.train_challenger(_settings(), _batch_id(), _options()).to_json()


@task(multiple_outputs=False, inlets=[airflow_assets.CHAMPION])
def evaluate(challenger: dict) -> dict:
    """Score challenger and champion on the fixed and the recent holdout and decide whether to promote."""
    return retrain.evaluate_challenger(_settings(), ChallengerResult.from_json(challenger), _options()).to_json()


@task.branch
def decide(evaluation: dict) -> str:
    """Follow the evaluation's decision: promote, or keep the champion."""
    return "promote" if Evaluation.from_json(evaluation).promote else "keep_champion"


@task(multiple_outputs=False, outlets=[airflow_assets.CHAMPION_CHANGE])
def promote(evaluation: dict, *, outlet_events=None) -> dict:
    """Make the challenger the champion, unless the champion changed during the run; a real promotion
    records a champion asset event (version, metrics) through the alias, a refused one records none."""
    promoted = retrain.promote_challenger(_settings(), Evaluation.from_json(evaluation))
    if promoted.event:
        outlet_events[airflow_assets.CHAMPION_CHANGE].add(airflow_assets.CHAMPION, extra=promoted.event)
    return promoted.to_json()


@task(multiple_outputs=False, outlets=[airflow_assets.CANDIDATE_AMBIGUOUS])
def keep_champion(evaluation: dict, *, outlet_events=None) -> dict:
    """Record the challenger as rejected, with the reason; an ambiguous one waits for a person instead, and a
    candidate asset event (through the alias) starts the approval DAG."""
    kept = retrain.keep_champion(_settings(), Evaluation.from_json(evaluation), _options())
    if kept.event:
        outlet_events[airflow_assets.CANDIDATE_AMBIGUOUS].add(airflow_assets.CANDIDATE, extra=kept.event)
    return kept.to_json()


@task(trigger_rule="none_failed_min_one_success", multiple_outputs=False)
def archive(ledger: dict, embedded: dict, checked: dict, challenger: dict, evaluation: dict) -> dict:
    """Move the claimed files to the archive and write the run report."""
    return retrain.archive_batch(_settings(), ledger, Embedded.from_json(embedded),
                                 ChallengerResult.from_json(challenger), Evaluation.from_json(evaluation),
                                 checked).to_json()


@dag(
    dag_id=assets.RETRAIN_DAG_ID,
    description="Retrain the tweet-sentiment model on newly labelled CSVs; promote it only if it is better.",
    schedule=AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(timedelta(minutes=20)), assets=[airflow_assets.INBOX]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=0,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20), "retry_exponential_backoff": True},
    tags=["ml", "sentiment"],
    doc_md=__doc__,
    params={name: Param(spec.default, title=spec.title, section=spec.section, description=spec.description,
                        **spec.schema) for name, spec in PARAMS.items()},
)
def tweet_sentiment_retrain() -> None:
    ledger = claim_and_ingest()
    embedded = embed()
    checked = check_labels()
    challenger = train()
    evaluation = evaluate(challenger)
    promoted, kept = promote(evaluation), keep_champion(evaluation)
    sense_inbox() >> ledger >> embedded >> checked >> challenger
    decide(evaluation) >> [promoted, kept] >> archive(ledger, embedded, checked, challenger, evaluation)


tweet_sentiment_retrain()
