#!/usr/bin/env bash
# Make sure `redis-server` is available (the tests start real Redis servers). Idempotent: does nothing
# when it is already on PATH; otherwise installs Debian's redis-server package with apt-get.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]
