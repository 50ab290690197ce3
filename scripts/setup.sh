#!/usr/bin/env bash
# Installs what loom needs to build and test: Debian packages (apt) for the C++ side, a
# project-local virtualenv (.venv) with the Python test tools. Idempotent, and silent when
# nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  g++ cmake ninja-build ccache make git
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev nlohmann-json3-dev libcpp-httplib-dev libsimdjson-dev
  clang clang-format libclang-rt-14-dev
  pkg-config libpng-dev libjpeg62-turbo-dev libwebp-dev libgif-dev libexif-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  python3-venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Python tools for tests (pytest, the gguf package for cross-checks). The stamp holds the hash
# of the requirements so an unchanged file costs one sha256sum.
REQ=scripts/requirements-test.txt
STAMP=.venv/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with $REQ" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" >"$STAMP"
fi
