#!/usr/bin/env bash
# Run a command with an infinity server at $INFINITY_URL: the one already answering, or one started here (and
# stopped when the command ends). Usage: scripts/with_infinity.sh COMMAND [ARGS...]
set -euo pipefail
source "$(dirname "$0")/env.sh"
if curl -fsS -m 3 "$INFINITY_URL/health" >/dev/null 2>&1; then
  exec "$@"
fi
LOG="${TMPDIR:-/tmp}/infinity-$$.log"
echo "== no infinity at $INFINITY_URL: starting one (log $LOG)" >&2
setsid bash "$PROJECT_ROOT/scripts/start_infinity.sh" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for i in $(seq 1 600); do
  curl -fsS -m 3 "$INFINITY_URL/health" >/dev/null 2>&1 && break
  if ! kill -0 "$SERVER" 2>/dev/null; then echo "error: infinity did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; fi
  [ $((i % 15)) -eq 0 ] && echo "== waiting for infinity ($i s; the first start exports the model to ONNX)" >&2
  sleep 1
done
curl -fsS -m 3 "$INFINITY_URL/health" >/dev/null || { echo "error: infinity did not answer in 600 s; see $LOG" >&2; exit 1; }
echo "== infinity is up at $INFINITY_URL" >&2
"$@"
