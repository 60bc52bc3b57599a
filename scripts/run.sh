#!/usr/bin/env bash
# `make run`: infinity + the bootstrap champion + Airflow (api-server, scheduler, dag-processor, triggerer).
# Each service runs in its own process group; Ctrl-C (or any exit) stops every group this script started.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
LOGS="$TWEET_SENTIMENT_DATA_ROOT/logs"
mkdir -p "$LOGS" "$AIRFLOW_HOME"

if [ ! -f "$TWEET_SENTIMENT_DATASET_DIR/Corona_NLP_train.csv" ]; then
  echo "error: the dataset is not in $TWEET_SENTIMENT_DATASET_DIR." >&2
  echo "Download Kaggle 'datatattle/covid-19-nlp-text-classification', unzip it there (or set" >&2
  echo "TWEET_SENTIMENT_DATASET_DIR to its folder) and run make run again." >&2
  exit 2
fi

source "$PROJECT_ROOT/scripts/secrets.sh"  # secrets.env and the passwords file, both 0600
# The tasks' login to the REST API (a run's note): the service user of role "user", never the admin.
api_connection

# Every process started from here carries this token in its environment, including task processes that
# Airflow's supervisor puts in sessions of their own, so that stopping can find them all. Processes that set
# their title (setproctitle: Airflow's API workers, executor workers and their task children) overwrite the
# environment /proc shows, so stopping also walks the tree of processes below this script.
export TWEET_SENTIMENT_RUN_TOKEN="run-$$-$RANDOM$RANDOM"
GROUPS_STARTED=()
tokened_pids() {  # the grep itself runs without the token, so it does not find itself
  local f
  for f in $(env -u TWEET_SENTIMENT_RUN_TOKEN grep -lsz "^TWEET_SENTIMENT_RUN_TOKEN=$TWEET_SENTIMENT_RUN_TOKEN\$" \
             /proc/[0-9]*/environ); do
    f=${f#/proc/}; echo "${f%/environ}"
  done
}
descendant_pids() {  # every process below this script, by parent pid (Airflow rewrites its titles and environments)
  ps -e -o pid=,ppid= | awk -v root=$$ '{ parent[$1] = $2 }
    END { for (p in parent) { q = p; while ((q in parent) && q != root && q > 1) q = parent[q]; if (q == root && p != root) print p } }'
}
alive() {  # the given pids that still run (a zombie has ended; only its parent's wait is missing)
  local pid state
  for pid in "$@"; do
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || continue
    [ -n "$state" ] && [ "$state" != Z ] && echo "$pid"
  done
  return 0
}
stop_all() {
  trap - INT TERM EXIT
  local started
  started="$(descendant_pids) $(tokened_pids)"
  echo; echo "stopping ${#GROUPS_STARTED[@]} services..."
  for pg in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for pid in $started; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    [ -z "$(alive $started $(tokened_pids))" ] && break; sleep 0.5
  done
  for pid in $(alive $started $(tokened_pids)); do kill -KILL "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    [ -z "$(alive $started)" ] && break; sleep 0.25
  done
  echo "stopped."
}
trap stop_all INT TERM EXIT

start() {  # start NAME COMMAND...: in its own session (process group), output to $LOGS/NAME.log
  local name=$1; shift
  setsid "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  GROUPS_STARTED+=("$!")
  echo "started $name (pid $!, log $LOGS/$name.log)"
}

wait_http() {  # wait_http URL SECONDS
  for _ in $(seq 1 "$2"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 1; done
  echo "error: $1 did not answer within $2 s" >&2; return 1
}

# A local mail sink for the alerts' notifications (SmtpNotifier through the connection smtp_default): every mail
# lands as a file in a Maildir under the data root. Set AIRFLOW_CONN_SMTP_DEFAULT to send to a real server instead.
MAIL_DIR="$TWEET_SENTIMENT_DATA_ROOT/mail"
MAIL_SINK_PORT="${TWEET_SENTIMENT_MAIL_SINK_PORT:-8025}"
if [ -z "${AIRFLOW_CONN_SMTP_DEFAULT:-}" ]; then
  mkdir -p "$MAIL_DIR"
  start mail-sink "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$MAIL_SINK_PORT" -c aiosmtpd.handlers.Mailbox "$MAIL_DIR"
  export AIRFLOW_CONN_SMTP_DEFAULT="{\"conn_type\": \"smtp\", \"host\": \"127.0.0.1\", \"port\": $MAIL_SINK_PORT, \"extra\": {\"disable_tls\": true, \"disable_ssl\": true}}"
  mail_where="the local mail sink (127.0.0.1:$MAIL_SINK_PORT) keeps each mail as a file in $MAIL_DIR/new"
else
  mail_where="sent through AIRFLOW_CONN_SMTP_DEFAULT"
fi
alert_to="$("$VENV/bin/python" -c 'from tweet_sentiment.config import Settings
print(Settings.from_env().alert_email_to)')"

start infinity "$PROJECT_ROOT/scripts/start_infinity.sh"
wait_http "$INFINITY_URL/health" 180

"$VENV/bin/airflow" db migrate > "$LOGS/db-migrate.log" 2>&1
"$VENV/bin/python" -m tweet_sentiment bootstrap

start api-server "$PROJECT_ROOT/scripts/api_server.sh"  # on $AIRFLOW_HOST: 127.0.0.1 unless set otherwise
start scheduler "$VENV/bin/airflow" scheduler
start dag-processor "$VENV/bin/airflow" dag-processor
start triggerer "$VENV/bin/airflow" triggerer
wait_http "http://localhost:$AIRFLOW_PORT/api/v2/version" 180

# Every loop on: each DAG under dags/ (file name = DAG id) unpaused through the REST API as the service login.
# The API answers 404 until the dag-processor has parsed the file.
token="$(curl -fsS -X POST "http://localhost:$AIRFLOW_PORT/auth/token" -H 'Content-Type: application/json' \
  -d "{\"username\": \"tweet-sentiment-bot\", \"password\": \"$TWEET_SENTIMENT_BOT_PASSWORD\"}" \
  | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
unpause() {  # unpause DAG_ID: within 180 s, or a warning
  for _ in $(seq 1 90); do
    curl -fs -o /dev/null -X PATCH "http://localhost:$AIRFLOW_PORT/api/v2/dags/$1" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"is_paused": false}' && return 0
    sleep 2
  done
  echo "warning: $1 is not unpaused (not parsed within 180 s? see $LOGS/dag-processor.log)" >&2; return 1
}
dags_state="each unpaused"
for dag_file in dags/*.py; do unpause "$(basename "$dag_file" .py)" || dags_state="NOT all unpaused, see above"; done
score_every_min="$("$VENV/bin/python" -c 'from tweet_sentiment.config import Settings
print(f"{Settings.from_env().score_every_min:g}")')"

cat <<MSG

  Airflow UI:   http://localhost:$AIRFLOW_PORT   (listening on $AIRFLOW_HOST; user: ${AIRFLOW_ADMIN_USER:-admin},
                password: AIRFLOW_ADMIN_PASSWORD in $SECRETS)
  DAGs, $dags_state:
    tweet_sentiment_retrain  learns on each "Send batch" and make feed (inbox event), and every 20 min
    tweet_sentiment_score    scores on each make feed-unlabelled, each new champion, and every $score_every_min min
    tweet_sentiment_approve  asks a person when the gate calls a challenger ambiguous (candidate event)
    tweet_sentiment_refit    refits off the cycle's path when the champion's trees pass their bound (checked hourly)
    tweet_sentiment_housekeeping  compacts and vacuums the stores, drops rejected models' files: runs on a daily cron (03:30)
    tweet_sentiment_watch    checks the loop's health every few minutes; raises an alert when a check passes its limit
  Try:          make feed              (the next 2,000 labelled tweets: a retrain run starts at once)
                make feed-unlabelled   (the next 2,000 unlabelled tweets: a scoring run, the Mood page)
  Alerts:       mood alerts (scoring runs) and loop-health alerts (watch) mailed to $alert_to:
                $mail_where
  Data:         $TWEET_SENTIMENT_DATA_ROOT      Logs: $LOGS
  Stop:         Ctrl-C

MSG
wait -n || true
