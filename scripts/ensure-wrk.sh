#!/usr/bin/env bash
# Make sure `wrk` is available (bench/gateway.py's C load generator; tests/gateway/test_bench_wrk.py
# drives it against a loopback server). Idempotent: does nothing when it is already on PATH; otherwise
# installs Debian's wrk package with apt-get.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null 2>&1
