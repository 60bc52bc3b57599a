"""The 20-minute retraining loop: sense → claim → embed → train → evaluate → branch → promote|keep → archive.

Only wiring: every task calls one function of ``tweet_sentiment.tasks``, which is tested without Airflow.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from tweet_sentiment import tasks
from tweet_sentiment.config import Settings
from tweet_sentiment.ingest import batch_id_for
from tweet_sentiment.training import BoostingParams

SETTINGS = Settings.from_env()
_B = BoostingParams()
_O = tasks.RunOptions()


def _options() -> tasks.RunOptions:
    return tasks.RunOptions.from_params(get_current_context()["params"])


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
    params={
        "strategy": Param(_O.strategy, enum=list(tasks.STRATEGIES),
                          description="continue: boost the champion on new + replayed rows; refit: train anew "
                                      "on every labelled row"),
        "num_boost_round": Param(_B.num_boost_round, type="integer", minimum=10, maximum=3000,
                                 description="trees per class of a fresh (refit) model"),
        "learning_rate": Param(_B.learning_rate, type="number", exclusiveMinimum=0, maximum=1,
                               description="learning rate of a fresh (refit) model"),
        "continue_rounds": Param(_B.continue_rounds, type="integer", minimum=1, maximum=1000,
                                 description="trees per class added when continuing the champion"),
        "continue_learning_rate": Param(_B.continue_learning_rate, type="number", exclusiveMinimum=0, maximum=1,
                                        description="learning rate of the continuation rounds"),
        "replay_rows": Param(_O.replay_rows, type="integer", minimum=0, maximum=1_000_000,
                             description="earlier labelled rows replayed beside the new batch when continuing"),
        "min_improvement": Param(_O.min_improvement, type="number", minimum=-1, maximum=1,
                                 description="macro-F1 gain over the champion needed to promote"),
        "force_promote": Param(_O.force_promote, type="boolean",
                               description="promote the challenger whatever its score (never a diverged one)"),
    },
)
def tweet_sentiment_retrain() -> None:
    @task.sensor(poke_interval=SETTINGS.sensor_poke_s, timeout=SETTINGS.sensor_timeout_s, mode="reschedule",
                 soft_fail=True)
    def sense_inbox() -> bool:
        """Wait (without holding a worker slot) for complete labelled CSVs; none by the timeout: skipped."""
        return tasks.inbox_has_files(Settings.from_env())

    @task
    def claim_and_ingest() -> dict:
        return tasks.claim_and_ingest(Settings.from_env(), batch_id_for(get_current_context()["run_id"]))

    @task
    def embed(ledger: dict) -> dict:
        return tasks.embed_batch(Settings.from_env(), ledger["batch_id"])

    @task
    def train(ledger: dict, _embedded: dict) -> dict:
        return tasks.train_challenger(Settings.from_env(), ledger["batch_id"], _options())

    @task
    def evaluate(challenger: dict) -> dict:
        return tasks.evaluate_challenger(Settings.from_env(), challenger, _options())

    @task.branch
    def decide(evaluation: dict) -> str:
        return "promote" if evaluation["promote"] else "keep_champion"

    @task
    def promote(evaluation: dict) -> dict:
        return tasks.promote_challenger(Settings.from_env(), evaluation)

    @task
    def keep_champion(evaluation: dict) -> dict:
        return tasks.keep_champion(Settings.from_env(), evaluation)

    @task(trigger_rule="none_failed_min_one_success")
    def archive(ledger: dict, evaluation: dict) -> dict:
        report = {"ledger": ledger, "evaluation": evaluation}
        return tasks.archive_batch(Settings.from_env(), ledger["batch_id"], report)

    ledger = claim_and_ingest()
    embedded = embed(ledger)
    evaluation = evaluate(train(ledger, embedded))
    decision = decide(evaluation)
    promoted, kept = promote(evaluation), keep_champion(evaluation)
    decision >> [promoted, kept]
    sense_inbox() >> ledger
    [promoted, kept] >> archive(ledger, evaluation)


tweet_sentiment_retrain()
