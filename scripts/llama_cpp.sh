#!/usr/bin/env bash
# llama.cpp, the engine loom is compared with, built from source by PyPI's llama-cpp-python
# into .cache/venv-llama (several minutes on 2 cores; once). Prints the venv's python.
# Used by scripts/compare_llama_cpp.py (perplexity and speed side by side); never by make test.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv-llama
version=0.3.36
if ! "$venv/bin/python" -c "import llama_cpp; assert llama_cpp.__version__ == '$version'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # Release build for this CPU's features, as a llama.cpp user would build it.
  CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release" \
    "$venv/bin/pip" install -q "llama-cpp-python==$version" numpy >&2
fi
echo "$PWD/$venv/bin/python"
