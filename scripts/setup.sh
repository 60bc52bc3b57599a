#!/usr/bin/env bash
# Create the two virtual environments (idempotent: re-run only when a requirements file changed).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
command -v "$PYTHON" >/dev/null || PYTHON=python3

make_venv() {  # make_venv DIR REQUIREMENTS [EXTRA PIP ARGS]
  local dir=$1 req=$2; shift 2
  local stamp="$dir/.installed-$(sha256sum "$req" pyproject.toml | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "== creating $dir from $req"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  # (pip warns once per package about an absent local mirror folder of this machine: noise, filtered out)
  "$dir/bin/pip" install -q --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
  "$dir/bin/pip" install -q -r "$req" "$@" 2> >(grep -v "is ignored: it is neither" >&2)
  rm -f "$dir"/.installed-*; touch "$stamp"
}
make_venv "$VENV" requirements.txt -e .
make_venv "$INFINITY_VENV" requirements-infinity.txt
