#!/usr/bin/env bash
# Make sure COMMAND is available, installing Debian's PACKAGE with apt-get when it is not:
#   bash scripts/ensure-apt-command.sh COMMAND PACKAGE
# Idempotent: does nothing when COMMAND is on PATH or in /usr/bin (a PATH without /usr/sbin or
# /usr/bin still finds the packaged binary). Used for redis-server (the shared-state tests), chromium
# (the console tests, through ensure-chromium.sh) and wrk (bench/gateway.py's load generator, driven
# by tests/gateway/test_bench_wrk.py).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 COMMAND PACKAGE" >&2
  exit 2
fi
command="$1"
package="$2"
present() { command -v "$command" >/dev/null 2>&1 || [ -x "/usr/bin/$command" ]; }
if present; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
present
