#!/usr/bin/env bash
# A bounded libFuzzer run of one target: TARGET CORPUS REGRESSIONS SECONDS.
# Mutations start from the committed corpus; what the run finds stays in a scratch directory.
# A crash leaves its input in the scratch directory, named in the output.
set -euo pipefail
target=$1 corpus=$2 regressions=$3 seconds=$4
scratch=$(mktemp -d "${TMPDIR:-/tmp}/spikey-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch/corpus"' EXIT
mkdir -p "$scratch/corpus"
inputs=("$corpus")
[ -d "$regressions" ] && inputs+=("$regressions")
"$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1 \
  -artifact_prefix="$scratch/" "$scratch/corpus" "${inputs[@]}"
