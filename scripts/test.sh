#!/usr/bin/env bash
# `make test`: lint, then the whole suite (unit, DAG, end-to-end with real infinity/Airflow, browser).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
bash scripts/test_deps.sh
"$VENV/bin/ruff" check dags include plugins tests benchmarks lab
mkdir -p test-output
exec "$VENV/bin/pytest" -p no:cacheprovider -rfE --durations=15 tests "$@"
