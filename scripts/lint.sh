#!/usr/bin/env bash
# Lint gates run by `make test`: clang-format (Google style, column 100) on every C++ file,
# and no source file over 1,500 lines.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
mapfile -t files < <(git ls-files --cached --others --exclude-standard \
  '*.cc' '*.h' '*.cu' '*.cuh' | while read -r f; do [ -f "$f" ] && echo "$f"; done)

if [ "${1:-all}" = all ] || [ "$1" = format ]; then
  bad=()
  for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror --style=file "$f" >/dev/null 2>&1; then bad+=("$f"); fi
  done
  if ((${#bad[@]})); then
    echo "lint: not clang-formatted (run clang-format -i):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    status=1
  fi
fi

if [ "${1:-all}" = all ] || [ "$1" = size ]; then
  mapfile -t srcs < <(git ls-files --cached --others --exclude-standard \
    '*.cc' '*.h' '*.cu' '*.cuh' '*.py' '*.c' '*.cpp' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
  for f in "${srcs[@]}"; do
    n=$(wc -l <"$f")
    if [ "$n" -gt 1500 ]; then
      echo "lint: $f has $n lines, more than the limit of 1500; split it by responsibility" >&2
      status=1
    fi
  done
fi
[ $status = 0 ] && echo "lint: ok (${#files[@]} C++ files)"
exit $status
