"""The loop watching itself: every ``TWEET_SENTIMENT_WATCH_EVERY_MIN`` minutes (5 by default), four checks whose
limits are settings: labelled files waiting with no retrain, the oldest unscored tweet, rows quarantined in the
last hour, an approval waiting. Each raises a loop-health alert, kept and notified (once per episode, a notice at
its end) like the mood alerts. The task calls ``tweet_sentiment.pipeline.alerts.watch_loop``, tested without
Airflow.

A small DAG rather than Airflow's deadline alerts: a deadline is missed by a DAG run that has not finished in time,
while these conditions are about the loop's state, often when no run exists at all (a retrain that never starts,
files nobody claims); and the checks' episodes share the mood alerts' store, mutes and notifier.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DeltaTriggerTimetable, dag, task

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.alerts import watch_loop
from tweet_sentiment.pipeline.assets import WATCH_DAG_ID

SETTINGS = Settings.from_env()  # the schedule is fixed when the file is parsed


@dag(
    dag_id=WATCH_DAG_ID,
    description="Loop-health checks: retrain stalled, scoring behind, quarantine growing, approval waiting.",
    schedule=DeltaTriggerTimetable(timedelta(minutes=SETTINGS.watch_every_min)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ml", "sentiment", "alerts"],
    doc_md=__doc__,
)
def tweet_sentiment_watch() -> None:
    @task(multiple_outputs=False)
    def watch() -> dict:
        """Run the loop-health checks; keep and notify what they raise (began, ongoing, ended, notified)."""
        return watch_loop(Settings.from_env())

    watch()


tweet_sentiment_watch()
