#!/usr/bin/env bash
# The Airflow API server of `make run` (after scripts/env.sh): on AIRFLOW_HOST, loopback (127.0.0.1) unless set
# otherwise, and AIRFLOW_PORT. Plain HTTP: serve it beyond this machine only behind a TLS proxy
# (docs/production.md).
set -euo pipefail
exec "$VENV/bin/airflow" api-server --host "$AIRFLOW_HOST" --port "$AIRFLOW_PORT"
