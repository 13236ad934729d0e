#!/usr/bin/env bash
# A bounded libFuzzer run of one target: TARGET CORPUS REGRESSIONS SECONDS.
# Mutations start from the committed corpus; what the run finds goes to a scratch directory,
# removed when the run passes. On success only the final statistics are printed; on a failure the crash report (the log without its coverage lines) and the
# crashing input, base64-encoded when it is small, so a CI log alone is enough to reproduce it.
set -uo pipefail
target=$1 corpus=$2 regressions=$3 seconds=$4
scratch=$(mktemp -d "${TMPDIR:-/tmp}/spikey-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch/corpus"' EXIT  # a failed run keeps its log and artifacts
mkdir -p "$scratch/corpus"
inputs=("$corpus")
[ -d "$regressions" ] && inputs+=("$regressions")
"$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1 \
  -artifact_prefix="$scratch/" "$scratch/corpus" "${inputs[@]}" >"$scratch/log" 2>&1
status=$?
if [ "$status" -eq 0 ]; then
  grep -E '^(INFO: +[0-9]+ files found|#[0-9]+ +(INITED|DONE)|Done |stat::)' "$scratch/log"
  rm -rf "$scratch"
  exit 0
fi
echo "fuzz run of $(basename "$target") failed (exit $status); full log: $scratch/log"
grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|RELOAD)|^[[:space:]]+NEW_FUNC' "$scratch/log" | tail -n 120
for artifact in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-* "$scratch"/slow-unit-*; do
  [ -f "$artifact" ] || continue
  echo "input $(basename "$artifact"): $(stat -c %s "$artifact") bytes"
  if [ "$(stat -c %s "$artifact")" -le 65536 ]; then
    echo "base64 of the input (decode with base64 -d):"
    base64 -w 120 "$artifact"
  fi
done
exit "$status"
