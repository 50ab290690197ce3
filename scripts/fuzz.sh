#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR for SECONDS each, starting from the committed
# seed corpus. New inputs go to fuzz/out/<name>/ (not committed); crashes to fuzz/out/crashes/.
# A crash fails the script: minimize it, add it to fuzz/corpus/<name>/ and fix the bug.
#   scripts/fuzz.sh BUILD_DIR SECONDS [NAME...]
set -uo pipefail
cd "$(dirname "$0")/.."
build="$1"
seconds="$2"
shift 2
names=("$@")
if [ ${#names[@]} = 0 ]; then
  for f in fuzz/*_fuzz.cc; do n=$(basename "$f" _fuzz.cc); names+=("$n"); done
fi
mkdir -p fuzz/out/crashes
status=0
for n in "${names[@]}"; do
  mkdir -p "fuzz/out/$n"
  # Extra seeds (files that must stay outside the repo) join the working corpus; libFuzzer
  # takes only directories.
  if [ -f "fuzz/corpus/$n.extra" ]; then
    while read -r line; do
      [ -n "$line" ] && cp "$line" "fuzz/out/$n/extra-$(echo "$line" | tr '/.' '__')"
    done <"fuzz/corpus/$n.extra"
  fi
  echo "fuzz: $n for ${seconds}s" >&2
  # 512 MiB malloc cap: no parser may allocate more than its input can justify.
  "$build/fuzz/${n}_fuzz" "fuzz/out/$n" "fuzz/corpus/$n" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="fuzz/out/crashes/${n}-" 2>"fuzz/out/$n.log" || status=1
  grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY' "fuzz/out/$n.log" >&2
done
exit $status
