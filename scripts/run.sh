#!/usr/bin/env bash
# Set up everything (first run: a few minutes, see README) and serve the OpenAI-compatible gateway on
# the embedded default namespace at http://127.0.0.1:8080 (extra arguments go to `semdns serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
exec "${SEMDNS_VENV:-.venv}/bin/semdns" serve "$@"
