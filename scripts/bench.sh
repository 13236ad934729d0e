#!/usr/bin/env bash
# Benchmarks: Google Benchmark micro-benchmarks of the codec stages, then the corpus benchmark
# (spikey next to flac, wavpack, zstd, xz, bzip2) on the Neuralink set in ../shared/data, or on
# the bundled sample when that is absent. Tables go to stdout; paste them into bench/RESULTS.md
# with the date and machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SPIKEY_BUILD_TARGETS="spikey micro_bench" bash scripts/build.sh
./build/bench/micro_bench --benchmark_min_time=0.2
data=${SPIKEY_SHARED_DATA:-../shared/data}/neuralink
[ -d "$data" ] || { echo "($data absent: using the bundled sample)" >&2; data=samples/neuralink; }
python3 bench/corpus_bench.py "$data"
