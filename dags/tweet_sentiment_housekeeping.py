"""Housekeeping of the stores that grow with history: compaction, old version expiry and vacuum.

Daily (``TWEET_SENTIMENT_HOUSEKEEPING_CRON``) and triggerable by hand; never a step of the retrain cycle. One task
per registered maintenance (``tweet_sentiment.pipeline.housekeeping.MAINTENANCE``), each calling
``run_maintenance``, which is tested without Airflow; one store's failure does not stop the others'.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.housekeeping import MAINTENANCE, run_maintenance

SETTINGS = Settings.from_env()  # the schedule is fixed when the file is parsed


@dag(
    dag_id="tweet_sentiment_housekeeping",
    description="Compact the history's tables, expire old versions, vacuum.",
    schedule=SETTINGS.housekeeping_cron,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ml", "sentiment", "maintenance"],
    doc_md=__doc__,
)
def tweet_sentiment_housekeeping() -> None:
    for maintenance in MAINTENANCE:

        @task(task_id=maintenance.name, multiple_outputs=False)
        def maintain(name: str = maintenance.name) -> dict:
            """Run one store's maintenance (see pipeline/housekeeping.py); what it did."""
            return run_maintenance(Settings.from_env(), name)

        maintain()


tweet_sentiment_housekeeping()
