"""The retraining loop: sense → claim → embed → train → evaluate → decide → promote | keep → archive.

Every 20 minutes, new labelled CSVs in the inbox are claimed, cleaned and stored; a challenger is trained on
them (continuing the champion's boosting, or a refit), evaluated against the fixed holdout, and promoted only if
it is better. Each task calls one function of ``tweet_sentiment.tasks``, which is tested without Airflow.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from tweet_sentiment import tasks
from tweet_sentiment.claim import batch_id_for
from tweet_sentiment.config import Settings
from tweet_sentiment.run_options import PARAMS, RunOptions


def _settings() -> Settings:
    """The settings, read from the environment where the code runs (the task's, at run time)."""
    return Settings.from_env()


def _batch_id() -> str:
    return batch_id_for(get_current_context()["run_id"])


def _options() -> RunOptions:
    return RunOptions.from_params(get_current_context()["params"])


@dag(
    dag_id="tweet_sentiment_retrain",
    description="Retrain the tweet-sentiment model on newly labelled CSVs; promote it only if it is better.",
    schedule=timedelta(minutes=20),
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
    @task.sensor(poke_interval=_settings().sensor_poke_s, timeout=_settings().sensor_timeout_s, mode="reschedule",
                 soft_fail=True)
    def sense_inbox() -> bool:
        """Wait, without holding a worker slot, for complete CSVs in the inbox; none by the timeout: skipped."""
        return tasks.inbox_has_files(_settings())

    @task(multiple_outputs=False)
    def claim_and_ingest() -> dict:
        """Claim the inbox files; validate, clean and store their rows, quarantining the rest with reasons."""
        return tasks.claim_and_ingest(_settings(), _batch_id())

    @task(multiple_outputs=False)
    def embed() -> dict:
        """Embed the batch's new texts and the holdout through infinity (cached ones are not sent again)."""
        return tasks.embed_batch(_settings(), _batch_id())

    @task(multiple_outputs=False)
    def train() -> dict:
        """Train a challenger: continue the champion's boosting, or refit on every labelled row."""
        return tasks.train_challenger(_settings(), _batch_id(), _options())

    @task(multiple_outputs=False)
    def evaluate(challenger: dict) -> dict:
        """Score challenger and champion on the fixed holdout and decide whether to promote."""
        return tasks.evaluate_challenger(_settings(), challenger, _options())

    @task.branch
    def decide(evaluation: dict) -> str:
        """Follow the evaluation's decision: promote, or keep the champion."""
        return "promote" if evaluation["promote"] else "keep_champion"

    @task(multiple_outputs=False)
    def promote(evaluation: dict) -> dict:
        """Make the challenger the champion, unless the champion changed during the run."""
        return tasks.promote_challenger(_settings(), evaluation)

    @task(multiple_outputs=False)
    def keep_champion(evaluation: dict) -> dict:
        """Record the challenger as rejected, with the reason."""
        return tasks.keep_champion(_settings(), evaluation)

    @task(trigger_rule="none_failed_min_one_success", multiple_outputs=False)
    def archive(ledger: dict, embedded: dict, challenger: dict, evaluation: dict) -> dict:
        """Move the claimed files to the archive and write the run report."""
        return tasks.archive_batch(_settings(), ledger, embedded, challenger, evaluation)

    ledger = claim_and_ingest()
    embedded = embed()
    challenger = train()
    evaluation = evaluate(challenger)
    promoted, kept = promote(evaluation), keep_champion(evaluation)
    sense_inbox() >> ledger >> embedded >> challenger
    decide(evaluation) >> [promoted, kept] >> archive(ledger, embedded, challenger, evaluation)


tweet_sentiment_retrain()
