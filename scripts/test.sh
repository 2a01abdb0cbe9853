#!/usr/bin/env bash
# The whole test suite: set-up, lint, format check, type check, tests. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure-redis.sh   # the shared-state tests start real redis-server processes
bash scripts/ensure-chromium.sh   # the console tests (tests/ui) drive Debian's Chromium with Playwright
bash scripts/ensure-apt-command.sh wrk wrk   # bench/gateway.py's C load generator, exercised by tests/gateway/test_bench_wrk.py
VENV=${SEMDNS_VENV:-.venv}
export HF_HUB_OFFLINE=1
# One line saying whether the installed packages are the locked ones, before anything else can fail.
"$VENV/bin/python" scripts/check_lock.py
"$VENV/bin/ruff" check src tests bench scripts
"$VENV/bin/ruff" format --check src tests bench scripts
"$VENV/bin/mypy"
"$VENV/bin/pytest" "$@"
