"""The production topology's Airflow settings, in one place: docker-compose.yml sets them for its containers,
the native topology test (benchmarks/celery_stack.py) for its processes, and tests/unit/test_deploy_files.py
checks that the two agree.

Why the two timeouts are short (docs/production.md): a Celery worker that dies takes its task's heartbeat with it,
and Airflow fails the task (so it is retried on another worker) only ``task_instance_heartbeat_timeout`` after the
last heartbeat; a task message lost by the broker (Redis restarted without persistence) leaves the task queued
until ``task_queued_timeout``. Airflow's defaults (300 s, 600 s) would hold a 20-minute loop for a quarter of it.
"""

from __future__ import annotations

# Equal in the compose file and the native test.
SHARED = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__PARALLELISM": "16",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "false",
}
# The same kind of server at another address: the URLs start alike.
URL_KINDS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow",
    "TWEET_SENTIMENT_STATE_DB_URL": "postgresql+psycopg2://airflow",
    "AIRFLOW__CELERY__RESULT_BACKEND": "db+postgresql+psycopg2://airflow",
    "AIRFLOW__CELERY__BROKER_URL": "redis://",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://",
}
# Set in both (the values are the deployment's own): the pipeline's variables, the secret every component shares.
NAMES = ("TWEET_SENTIMENT_DATA_ROOT", "TWEET_SENTIMENT_CACHE_ROOT", "TWEET_SENTIMENT_DATASET_DIR", "INFINITY_URL",
         "INFINITY_MODEL", "AIRFLOW_CONN_TWEET_SENTIMENT_API", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
         "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AIRFLOW__API_AUTH__JWT_SECRET")
# Different by design, with the reason.
BY_DESIGN = {
    "TWEET_SENTIMENT_DATA_ROOT": "the test's S3 bucket (s3://…); compose: a shared volume unless set to s3://",
    "INFINITY_MODEL": "the test serves the packaged all-MiniLM-L6-v2 offline; compose: jina-embeddings-v3 by default",
    "AIRFLOW__CORE__AUTH_MANAGER": "compose: FAB (users in the DB); the test: the simple auth manager (no FAB here)",
    "AIRFLOW__CORE__FERNET_KEY": "compose: required; the test stores no connection passwords in the DB",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "compose's container health check; the test polls the API instead",
    "INFINITY_API_KEY": "compose: optional bearer key; the test's infinity has none",
    **dict.fromkeys(("AIRFLOW_CONN_SMTP_DEFAULT", "TWEET_SENTIMENT_ALERT_EMAIL_TO", "TWEET_SENTIMENT_ALERT_EMAIL_FROM",
                     "TWEET_SENTIMENT_ALERT_NOTIFIER", "TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS"),
                    "compose passes the alerts' mail server and notifier through when set; the topology test mails "
                    "no alert (tests/unit/test_alert_delivery.py and tests/dag/test_watch_dag.py do, to a real SMTP "
                    "server)"),
}
