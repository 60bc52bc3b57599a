"""Follow the mood: score the unlabelled stream with the champion, draw the mood series, watch drift.

sense → claim_and_ingest → plan_scoring → score_partition (mapped) → score → alerts → mood | drift |
rescore_labelling_queue → archive

The scoring is spread over the workers: ``plan_scoring`` splits the run's batches into partitions of about as
many rows (``TWEET_SENTIMENT_SCORE_PARTITIONS``, by default one per infinity replica of ``INFINITY_URLS``), one
mapped ``score_partition`` task each (dynamic task mapping), each embedding through its own replica and committing
chunk by chunk, so a retried partition scores only what its dead try did not commit; ``score`` gathers them.

Schedule: a champion asset event (a promotion of the retrain DAG, a rollback on the model page) starts a run at
once, which scores the new tweets first, then re-scores a bounded chunk of the history with the new champion,
newest first (stored vectors; the rest in the next runs, so new tweets never wait for it); so does an event of
the unlabelled-inbox asset (``make feed-unlabelled`` records one through the UI plugin; its sensor waits the
seconds a file takes to settle). Files dropped without an event wait for the short timetable (every
``TWEET_SENTIMENT_SCORE_EVERY_MIN`` minutes, 5 by default): a run with nothing to do skips within seconds. A run
pins one champion: every score, mood point and drift figure it writes names that version. ``alerts`` checks the
newest period for mood alerts (kept, mailed once per episode) and emits one ``tweet_sentiment_mood_alert`` asset
event per alert that began an episode; ``mood`` then draws the chart with the alerts marked. Each task calls one
function of ``tweet_sentiment.pipeline.score`` (``alerts``: ``pipeline.alerts``), tested without Airflow.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import batch_id_for
from tweet_sentiment.pipeline import airflow_assets, assets
from tweet_sentiment.pipeline import score as scoring  # not `score`: the DAG's score task has that name
from tweet_sentiment.pipeline.alerts import check_mood
from tweet_sentiment.pipeline.params import SCORE_PARAMS, ScoreOptions
from tweet_sentiment.pipeline.sensing import GO, SKIP

log = logging.getLogger(__name__)


def _settings() -> Settings:
    """The settings, read from the environment where the code runs (the task's, at run time)."""
    return Settings.from_env()


def _options() -> ScoreOptions:
    return ScoreOptions.from_params(get_current_context()["params"])


@dag(
    dag_id=assets.SCORE_DAG_ID,
    description="Score unlabelled tweets with the champion; the mood series over time; drift against a reference.",
    schedule=AssetOrTimeSchedule(
        timetable=DeltaTriggerTimetable(timedelta(minutes=_settings().score_every_min)),
        assets=airflow_assets.CHAMPION | airflow_assets.UNLABELLED),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=0,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20), "retry_exponential_backoff": True},
    tags=["ml", "sentiment", "mood"],
    doc_md=__doc__,
    params={name: Param(spec.default, title=spec.title, section=spec.section, description=spec.description,
                        **spec.schema) for name, spec in SCORE_PARAMS.items()},
)
def tweet_sentiment_score() -> None:
    # poke mode, as the retrain DAG's sensor: it waits seconds at most, for files still being written
    @task.sensor(poke_interval=_settings().sensor_poke_s, timeout=_settings().sensor_deadline_s, mode="poke",
                 soft_fail=True)
    def sense(*, triggering_asset_events=None) -> bool:
        """Go on new files, on a champion other than the scores', on a mood or drift check not yet written; wait
        for files still being written; else skip at once with the reason (in this log)."""
        for asset, events in (triggering_asset_events or {}).items():
            log.info("started by %d event(s) of %s: %s", len(events), asset, [e.extra for e in events][-3:])
        work = scoring.sense_scoring(_settings(), _options())
        log.info("%s: %s", work.action, work.reason)
        if work.action == SKIP:
            raise AirflowSkipException(work.reason)
        return work.action == GO

    @task(multiple_outputs=False)
    def claim_and_ingest() -> dict:
        """Claim the unlabelled inbox's files; validate and store their rows, quarantining the rest with reasons."""
        return scoring.claim_unlabelled(_settings(), batch_id_for(get_current_context()["run_id"]))

    @task(multiple_outputs=False, inlets=[airflow_assets.CHAMPION])
    def plan_scoring() -> list[dict]:
        """Pin the champion; split the new rows, then a bounded chunk of those another champion scored, into
        partitions, each with its infinity replica."""
        return scoring.plan_score(_settings(), _options())

    @task(multiple_outputs=False)
    def score_partition(partition: dict) -> dict:
        """Score one partition (new batches first), committing chunk by chunk."""
        return scoring.score_part(_settings(), partition)

    @task(multiple_outputs=False)
    def score(partitions: list[dict], results: list[dict]) -> dict:
        """The run's scoring record from its partitions."""
        return scoring.score(_settings(), partitions, list(results))

    @task(multiple_outputs=False, outlets=[airflow_assets.MOOD_ALERT_BEGAN])
    def alerts(*, outlet_events=None) -> dict:
        """Mood alerts of the newest period: kept, notified once per episode; an asset event for each that began."""
        checked = check_mood(_settings())
        for extra in checked["events"]:
            outlet_events[airflow_assets.MOOD_ALERT_BEGAN].add(airflow_assets.MOOD_ALERT, extra=extra)
        return {key: value for key, value in checked.items() if key != "events"}

    @task(multiple_outputs=False)
    def mood(scored: dict) -> dict:
        """The mood series per day (per hour where enough tweets) and its stacked-area chart."""
        return scoring.update_mood(_settings(), scored)

    @task(multiple_outputs=False)
    def drift(scored: dict) -> dict:
        """Embedding drift (domain classifier AUC), class-mix JS distance and mean confidence vs the reference."""
        return scoring.check_drift(_settings(), scored, _options())

    @task(multiple_outputs=False)
    def rescore_labelling_queue() -> dict:
        """Pre-annotate the labelling queue's pending tweets with the champion now; labels in flight are kept."""
        return scoring.rescore_queue(_settings())

    @task(multiple_outputs=False)
    def archive(ledger: dict, scored: dict, alerted: dict, mooded: dict, drifted: dict, queue: dict) -> dict:
        """Move the claimed files to the scoring archive and write the run report."""
        parts = {"score": scored, "alerts": alerted, "mood": mooded, "drift": drifted, "labelling_queue": queue}
        return scoring.archive_unlabelled(_settings(), ledger, parts)

    ledger = claim_and_ingest()
    plan = plan_scoring()
    # a mapped task keeps no docstring of its own (Airflow 3.3): it is handed on as the task's doc
    parts = score_partition.override(doc_md=score_partition.function.__doc__).expand(partition=plan)
    scored = score(plan, parts)
    queue = rescore_labelling_queue()
    alerted = alerts()
    mooded = mood(scored)
    sense() >> ledger >> plan
    scored >> queue
    scored >> alerted >> mooded
    archive(ledger, scored, alerted, mooded, drift(scored), queue)


tweet_sentiment_score()
