#!/usr/bin/env bash
# The check to run on a GPU machine (issue 4), in about 8 minutes, with the bundle made by
# scripts/prepare_device_bundle.sh carried along (device_deps/, device_data/):
#   1. build with CUDA for sm_90 (H100/H200) plus PTX, against the carried libraries
#   2. GPU tests with SPIKEY_REQUIRE_GPU=1 (a skip is a failure), then the CPU tests
#   3. CPU/GPU byte parity through the CLI on the carried Neuralink files (level fast and
#      default) and on the bundled 32-channel sample (level default: mo2, MiddleOut sources)
#   4. the throughput benchmark (bench/gpu_bench) at level fast and level default, and the
#      network stage's training time on the CPU and on the GPU (test_gpu_training's records)
# Full logs go under $OUT when set (else a temporary folder); a short table is printed last.
# Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
deps=$PWD/device_deps
data=${SPIKEY_DEVICE_DATA:-$PWD/device_data/neuralink}
export LD_LIBRARY_PATH=$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
build=build-device
rows=()
failed=0

step() {  # step NAME COMMAND...: runs it with its log in $OUT/NAME.log, records the outcome
  local name=$1 start status
  shift
  start=$(date +%s)
  if "$@" >"$OUT/$name.log" 2>&1; then status=ok; else status=FAILED; failed=1; fi
  rows+=("$name|$status|$(( $(date +%s) - start )) s")
  echo "[$status] $name" >&2
}

{ nvidia-smi; nvcc --version; cmake --version; } >"$OUT/machine.log" 2>&1
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
step configure cmake -S . -B $build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSPIKEY_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_PREFIX_PATH="$deps" -DOPENSSL_ROOT_DIR="$deps" ${SPIKEY_CMAKE_ARGS:-}
step build cmake --build $build -j "$(nproc)"
step gpu_tests env SPIKEY_REQUIRE_GPU=1 SPIKEY_DEVICE_DATA="$data" ctest --test-dir $build -L gpu --output-on-failure --timeout 300
step cpu_tests env SPIKEY_REQUIRE_GPU=1 ctest --test-dir $build -L cpu -j "$(nproc)" --output-on-failure --timeout 300

parity() {  # parity NAME LEVEL INPUT [OPTIONS...]
  local spikey=$build/host/spikey name=$1 level=$2 input=$3
  shift 3
  "$spikey" compress "$input" "$@" -o "$OUT/cpu.spikey" --level "$level" --backend cpu -f --json >"$OUT/$name.cpu.json" &&
    "$spikey" compress "$input" "$@" -o "$OUT/gpu.spikey" --level "$level" --backend cuda -f --json >"$OUT/$name.gpu.json" &&
    cmp "$OUT/cpu.spikey" "$OUT/gpu.spikey" && "$spikey" verify "$OUT/gpu.spikey" && rm -f "$OUT/cpu.spikey" "$OUT/gpu.spikey"
}
step cli_parity_fast parity fast fast "$data"
step cli_parity_default parity default default "$data"
step cli_parity_cinpla parity cinpla default samples/cinpla32/cinpla32_30kHz_first6000.dat --raw-channels 32 --raw-rate 30000 --chunk-seconds 0.05
step gpu_training_times env SPIKEY_REQUIRE_GPU=1 $build/tests/test_gpu_training --gtest_filter='*SameWeights*' \
  --gtest_output=json:"$OUT/gpu_training.json"
for level in fast default; do
  step gpu_bench_$level $build/bench/gpu_bench "$data" --level $level --benchmark_repetitions=3 \
    --benchmark_out="$OUT/gpu_bench_$level.json" --benchmark_out_format=json
done

echo
echo "| step | result | time |"
echo "| --- | --- | --- |"
for row in "${rows[@]}"; do IFS='|' read -r a b c <<<"$row"; echo "| $a | $b | $c |"; done
grep -H -E '"(codec|ratio|encode_mb_per_s|backend)"' "$OUT"/*.json 2>/dev/null | grep -v gpu_bench | tr -s ' '
for level in fast default; do
  echo "gpu_bench --level $level:"
  grep -E '^(gpu_encode|cpu_encode)[^ ]*_(mean|median) ' "$OUT/gpu_bench_$level.log" 2>/dev/null || grep -E '^(gpu_encode|cpu_encode)' "$OUT/gpu_bench_$level.log"
  grep -h -E 'device:|parity:|codec' "$OUT/gpu_bench_$level.log" 2>/dev/null
done
echo "Network training, seconds on one CPU thread and in the GPU kernel (hidden units, f: float, q: quantized):"
grep -h -o '"[a-z_]*seconds_cpu_gpu_[^,]*' "$OUT/gpu_training.json" 2>/dev/null
echo "logs: $OUT"
exit $failed
