# Environment of the embedded default (SQLite, LocalExecutor, a local infinity): sourced by the scripts and make.
# Every pipeline setting has a default in include/tweet_sentiment/config.py; export one here to change it.
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_ROOT
export PYTHON="${PYTHON:-python3.11}"
export VENV="$PROJECT_ROOT/.venv"
export INFINITY_VENV="$PROJECT_ROOT/.venv-infinity"

export TWEET_SENTIMENT_DATA_ROOT="${TWEET_SENTIMENT_DATA_ROOT:-$PROJECT_ROOT/var}"
export TWEET_SENTIMENT_DATASET_DIR="${TWEET_SENTIMENT_DATASET_DIR:-$PROJECT_ROOT/../shared/data}"
export INFINITY_PORT="${INFINITY_PORT:-7997}"
export INFINITY_URL="${INFINITY_URL:-http://127.0.0.1:$INFINITY_PORT}"
export INFINITY_MODEL="${INFINITY_MODEL:-all-MiniLM-L6-v2}"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$PROJECT_ROOT/.airflow}"
export AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"
# Where the API server listens: loopback only unless set (e.g. 0.0.0.0, and then behind a TLS proxy: it speaks
# plain HTTP; see docs/production.md).
export AIRFLOW_HOST="${AIRFLOW_HOST:-127.0.0.1}"
export AIRFLOW__API__HOST="$AIRFLOW_HOST"
export AIRFLOW__CORE__DAGS_FOLDER="$PROJECT_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$PROJECT_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
# Sized for 2 cores: Airflow's defaults (parallelism 32, several API workers) held 5.4 GB RSS here.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-2}"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__API__BASE_URL="http://localhost:$AIRFLOW_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$AIRFLOW_PORT/execution/"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__LAZY_LOAD_PLUGINS=False
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
# tweet-sentiment-bot (role user, the least that may edit DAG runs) writes a skipped run's note, unpauses the
# DAGs at make run, and records make feed's asset events (through the UI plugin); see run.sh
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW_ADMIN_USER:-admin}:admin,tweet-sentiment-bot:user"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"

# The service login as the Airflow connection tweet_sentiment_api, once run.sh has generated its password into
# $AIRFLOW_HOME/secrets.env (read in a subshell: the admin's password stays out of this environment).
api_connection() {
  local password
  password="$( (source "$AIRFLOW_HOME/secrets.env" && echo "${TWEET_SENTIMENT_BOT_PASSWORD:-}") 2>/dev/null)" || true
  [ -n "$password" ] || return 0
  export AIRFLOW_CONN_TWEET_SENTIMENT_API="{\"conn_type\": \"http\", \"host\": \"http://localhost:$AIRFLOW_PORT\", \"login\": \"tweet-sentiment-bot\", \"password\": \"$password\"}"
}
