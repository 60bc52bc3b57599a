#!/usr/bin/env bash
# Debian packages the tests drive for real (headless Chromium, a PostgreSQL server, the Celery broker Redis);
# installed once.
set -euo pipefail
PACKAGES=(chromium chromium-driver postgresql redis-server)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
