#!/usr/bin/env bash
# The whole test suite: set-up, lint, format check, type check, tests. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure-redis.sh   # the shared-state tests start real redis-server processes
VENV=${SEMDNS_VENV:-.venv}
export HF_HUB_OFFLINE=1
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
"$VENV/bin/mypy"
"$VENV/bin/pytest" "$@"
