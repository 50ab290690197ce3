#!/usr/bin/env bash
# The fixture manifest: SHA-256 of every file under tests/fixtures (except the manifest).
#   manifest.sh write   regenerate tests/fixtures/MANIFEST.sha256 (make fixtures does this)
#   manifest.sh check   fail if any file changed, is missing, or is not in the manifest
# CI never regenerates fixtures (torch is too slow and too big for it); it checks this file.
set -euo pipefail
cd "$(dirname "$0")/../../tests/fixtures"
list() { find . -type f ! -name MANIFEST.sha256 ! -path '*/__pycache__/*' | LC_ALL=C sort; }
case "${1:-check}" in
  write)
    list | xargs -d '\n' sha256sum >MANIFEST.sha256
    echo "manifest: $(wc -l <MANIFEST.sha256) files" >&2
    ;;
  check)
    [ -f MANIFEST.sha256 ] || { echo "manifest: tests/fixtures/MANIFEST.sha256 is missing" >&2; exit 1; }
    sha256sum --check --quiet --strict MANIFEST.sha256
    extra=$(comm -23 <(list | sed 's|^\./||') <(awk '{print $2}' MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort))
    if [ -n "$extra" ]; then
      echo "manifest: files not in MANIFEST.sha256 (run make fixtures, or scripts/reference/manifest.sh write):" >&2
      echo "$extra" >&2
      exit 1
    fi
    echo "manifest: $(wc -l <MANIFEST.sha256) fixture files match"
    ;;
  *) echo "usage: manifest.sh write|check" >&2; exit 2 ;;
esac
