#!/usr/bin/env bash
# The check to run first whenever a GPU machine is lent (README, "GPU"). Made to finish within
# its time budget (default 330 s, so a 15-minute lease can run it twice) and to report whatever
# happened even when cut off: every step runs under its own timeout, its log goes to a folder
# that is packed into $OUT/logs.tgz, and $OUT/summary.md is rewritten after every step.
#
#   scripts/device_check.sh [--rehearse] [--budget SECONDS] [--build-dir DIR]
#
# Carry the bundle made here by scripts/prepare_device_bundle.sh: device_deps/ (headers and
# libraries) and device_data/neuralink/ (real recordings). Steps, in order of value:
#   preflight   the machine: GPU, driver, nvcc, cmake, the carried libraries (ldd), the data;
#               stops at once, with one clear line, when something the check needs is missing
#   configure, build   only the CLI, the GPU tests and gpu_bench (nvcc warnings not fatal)
#   gpu_*       the GPU tests with SPIKEY_REQUIRE_GPU=1 (a skip or missing data is a failure)
#   cli_parity_*   CPU and GPU archives of real data cmp-identical, the GPU one verified
#   memcheck, racecheck   compute-sanitizer on the small parity and training tests
#   bench_*     gpu_bench: a fixed number of passes, end to end and per stage, with the DRAM and
#               PCIe ceilings beside them
#   training    the network trainers' times, CPU and GPU (from the gpu_training step)
#   bench_fast_thread   lpc1 again with its adapting variant a stream per thread
#               (SPIKEY_GPU_ADAPT=thread) instead of a warp per stream, to choose the form
#   wide_cli_default_long   the CLI parity of level default at 12 times the wide length (60 s)
#   wide_*      at scale: 1024 channels built from the real WAVs (scripts/make_wide_recording.py,
#               about 5 s, 200 MB): the CLI with --backend cuda against --backend cpu on every
#               core (same bytes, phase times), gpu_bench per stage, and each kernel's time
#               under ncu (one pass; ncu serialises the launches); wide_bench_*_half: the same
#               with the adapting variants on half a warp per stream (SPIKEY_GPU_ADAPT=half_warp);
#               wide_bench_fast_heap: lpc1 with its batches in the heap, not the encoder's
#               page-locked pool (what the pool saves)
# The CPU suite is not run here: CI runs it.
#
# --only STEP,STEP... runs the preflight, the build and the named steps alone (a rerun within a
# lease, e.g. --only gpu_batch,wide_bench_fast); --wide-channels N sets the wide steps' width.
#
# --rehearse runs every step that needs no GPU, here or in CI (tests/device_check_rehearsal.sh):
# the preflight with the GPU checks reported absent, the real restricted build, the GPU tests'
# gate (with SPIKEY_REQUIRE_GPU=1 every device test must fail, without it skip), the CLI's
# refusal of --backend cuda, gpu_bench on the CPU executor, the step timeouts and the summary.
#
# Exit status: 0 when every step passed (in a rehearsal: every rehearsed step).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

rehearse=0
only=""
wide_channels=1024
budget=${SPIKEY_CHECK_BUDGET:-330}
build=$root/build-device
while [ $# -gt 0 ]; do
  case $1 in
    --rehearse) rehearse=1 ;;
    --budget) budget=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --only) only=",$2,"; shift ;;
    --wide-channels) wide_channels=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

started=$(date +%s)
deadline=$((started + budget))
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT" "$build"
logs=$build/check-logs
rm -rf "$logs" && mkdir -p "$logs"
work=$build/check-work
rm -rf "$work" && mkdir -p "$work"
deps=${SPIKEY_DEVICE_DEPS:-$root/device_deps}
data=${SPIKEY_DEVICE_DATA:-$root/device_data/neuralink}
cinpla=$root/samples/cinpla32/cinpla32_30kHz_first6000.dat
if [ $rehearse = 1 ]; then
  [ -d "$deps" ] || deps=""                        # the system's libraries
  [ -d "$data" ] || data=$root/samples/neuralink   # the bundled real sample
fi
[ -n "$deps" ] && export LD_LIBRARY_PATH=$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$PATH:/usr/local/cuda/bin
export root build logs work deps data cinpla rehearse
rows=$logs/steps.tsv
: >"$rows"
failed=0

# ---- reporting: the summary and the packed logs, rewritten after every step ----------------

publish() {
  {
    echo "# Device check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    [ $rehearse = 1 ] && echo "Rehearsal without a GPU: GPU steps check their gate and plumbing only." && echo
    [ -s "$logs/machine.txt" ] && sed 's/^/    /' "$logs/machine.txt" && echo
    echo "| step | result | seconds | limit |"
    echo "| --- | --- | ---: | ---: |"
    while IFS=$'\t' read -r name result seconds limit; do echo "| $name | $result | $seconds | $limit |"; done <"$rows"
    echo
    echo "Elapsed $(( $(date +%s) - started )) s of a $budget s budget."
    command -v python3 >/dev/null && python3 "$root/scripts/device_summary.py" "$logs" 2>>"$logs/summary_errors.log"
  } >"$OUT/summary.md.tmp" 2>>"$logs/summary_errors.log"
  mv -f "$OUT/summary.md.tmp" "$OUT/summary.md"
  tar czf "$OUT/logs.tgz.tmp" -C "$logs" . 2>/dev/null && mv -f "$OUT/logs.tgz.tmp" "$OUT/logs.tgz"
}

# step NAME LIMIT COMMAND...: runs COMMAND (a program or an exported function) under
# min(LIMIT, time left), its output in $logs/NAME.log; records and publishes the outcome.
step() {
  local name=$1 limit=$2 left start rc result
  shift 2
  case $name in preflight|configure|build) ;; *) [ -z "$only" ] || [[ $only == *",$name,"* ]] || return 0 ;; esac
  left=$((deadline - $(date +%s)))
  if [ "$left" -lt 10 ]; then
    printf '%s\tnot run: time budget spent\t0\t%s\n' "$name" "$limit" >>"$rows"
    echo "[not run] $name (time budget spent)" >&2
    failed=1
    publish
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  start=$(date +%s)
  timeout -k 10 "$limit" bash -c '"$@"' step "$@" >"$logs/$name.log" 2>&1
  rc=$?
  case $rc in
    0) result=ok ;;
    124|137) result="TIMED OUT"; failed=1 ;;
    *) result="FAILED (exit $rc): $(grep -v '^\s*$' "$logs/$name.log" | tail -n 1 | cut -c1-160 | tr '\t|' '  ')"; failed=1 ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$result" "$(($(date +%s) - start))" "$limit" >>"$rows"
  echo "[$result] $name ($(($(date +%s) - start)) s)" >&2
  publish
  return $rc
}

# ---- the steps ------------------------------------------------------------------------------

say() { echo "$*" | tee -a "$logs/machine.txt"; }
missing() { echo "MISSING: $*"; exit 1; }

preflight() {
  : >"$logs/machine.txt"
  say "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(df -h "$build" | awk 'NR==2 {print $4}') free"
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi
    local driver
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
    say "gpu: $(nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv,noheader | head -n 1); driver $driver"
    [ "${driver%%.*}" -ge 580 ] || missing "driver $driver is older than R580, which CUDA 13 needs"
  elif [ $rehearse = 1 ]; then
    say "gpu: absent (rehearsal)"
  else
    missing "no GPU: nvidia-smi is absent or lists no device"
  fi
  command -v nvcc >/dev/null || missing "nvcc (not on PATH, nor in /usr/local/cuda/bin)"
  say "nvcc: $(nvcc --version | grep -o 'release [0-9.]*, V[0-9.]*')"
  command -v cmake >/dev/null || missing "cmake"
  local cmake_version
  cmake_version=$(cmake --version | head -n 1 | grep -o '[0-9][0-9.]*')
  printf '3.24\n%s\n' "$cmake_version" | sort -V -C || missing "cmake $cmake_version (3.24 or later is needed)"
  say "cmake: $cmake_version; generator: $(command -v ninja >/dev/null && echo ninja || echo make); $(g++ --version | head -n 1)"
  if command -v compute-sanitizer >/dev/null; then say "compute-sanitizer: $(command -v compute-sanitizer)"; else say "compute-sanitizer: absent (the sanitizer steps will fail)"; fi
  if [ -z "$deps" ]; then
    say "libraries: the system's (rehearsal without device_deps)"
  else
    [ -d "$deps" ] || missing "$deps (make it with scripts/prepare_device_bundle.sh and carry device_deps)"
    local f
    for f in include/nlohmann/json.hpp include/CLI/CLI.hpp include/xxhash.h include/zstd.h include/gtest/gtest.h include/openssl/sha.h \
             lib/libxxhash.a lib/libzstd.a lib/libgtest.a lib/libgtest_main.a lib/libcrypto.so.3; do
      [ -e "$deps/$f" ] || missing "$deps/$f"
    done
    local so bad
    for so in "$deps"/lib/*.so.*; do
      echo "ldd $so:" && ldd "$so" 2>&1
      bad=$(ldd "$so" 2>&1 | grep -E 'not found|version .* not found')
      [ -z "$bad" ] || missing "$so does not load here: $bad"
    done
    say "libraries: $deps ($(du -sh "$deps" | cut -f1)); every carried shared library loads"
  fi
  local wavs
  wavs=$(find "$data" -maxdepth 1 -name '*.wav' 2>/dev/null | wc -l)
  [ "$wavs" -gt 0 ] || missing "real data: no WAV files in $data (carry device_data)"
  say "data: $data ($wavs WAV files, $(du -sh "$data" | cut -f1))"
}

configure() {
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSPIKEY_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DSPIKEY_CUDA_WERROR=OFF -DSPIKEY_BUILD_TESTS=ON -DSPIKEY_BUILD_BENCH=ON ${deps:+-DCMAKE_PREFIX_PATH="$deps" -DOPENSSL_ROOT_DIR="$deps"} \
    ${SPIKEY_CMAKE_ARGS:-}
}

build_targets() {
  cmake --build "$build" -j "$(nproc)" --target spikey test_gpu_shared_math test_gpu_batch test_gpu_training gpu_bench
}

# gpu_test BINARY: the GPU tests with the gate closed (a skip is a failure). In a rehearsal the
# gate itself is checked: every device test fails under SPIKEY_REQUIRE_GPU=1 and skips without.
gpu_test() {
  local binary=$build/tests/$1
  if [ $rehearse = 1 ]; then
    if SPIKEY_REQUIRE_GPU=1 SPIKEY_DEVICE_DATA="$data" "$binary"; then echo "the gate let a test pass without a device"; exit 1; fi
    "$binary" --gtest_brief=1 || exit 1
    echo "rehearsal: without a device every GPU test fails under SPIKEY_REQUIRE_GPU=1 and skips without it"
    return 0
  fi
  SPIKEY_REQUIRE_GPU=1 SPIKEY_DEVICE_DATA="$data" "$binary" --gtest_output=json:"$logs/$1.json"
}

# A compress --json report's times: encoding (training included), verification after it, and
# the batch pipeline's wait for the verification that runs inside it.
compress_times() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
parts = dict((p["phase"], p["seconds"]) for p in r.get("phase_seconds", []))
wait = parts.get("chunks: waiting for verification")
print("encode %.3f s, verify after it %.3f s%s, %.1f MB/s with verification" % (r["encode_seconds"], r["verify_seconds"],
      "" if wait is None else ", waiting for verification in the pipeline %.3f s" % wait,
      r["original_bytes"] / 1e6 / (r["encode_seconds"] + r["verify_seconds"])))' "$1"
}

# cli_parity NAME LEVEL INPUT [OPTIONS...]: the same archive from the CPU and from the GPU.
cli_parity() {
  local spikey=$build/host/spikey name=$1 level=$2 input=$3
  shift 3
  "$spikey" compress "$input" "$@" -o "$work/$name.cpu.spikey" --level "$level" --backend cpu -f --json >"$logs/$name.cpu.json" || exit 1
  echo "cpu: $(compress_times "$logs/$name.cpu.json")"
  if [ $rehearse = 1 ]; then
    if "$spikey" compress "$input" "$@" -o "$work/$name.gpu.spikey" --level "$level" --backend cuda -f --json 2>"$work/refusal.txt"; then
      echo "--backend cuda compressed without a device"; exit 1
    fi
    grep -q "no CUDA device" "$work/refusal.txt" || { cat "$work/refusal.txt"; exit 1; }
    [ ! -e "$work/$name.gpu.spikey" ] || { echo "a refused compress left an archive"; exit 1; }
    "$spikey" verify "$work/$name.cpu.spikey" || exit 1
    echo "rehearsal: --backend cuda refused with '$(cat "$work/refusal.txt")'; the CPU archive verifies"
    return 0
  fi
  "$spikey" compress "$input" "$@" -o "$work/$name.gpu.spikey" --level "$level" --backend cuda -f --json >"$logs/$name.gpu.json" || exit 1
  # Both levels' chunks are encoded on the GPU (lpc1; mt with its network trained on the GPU).
  local expected='"backend": "cuda'
  grep -q "$expected" "$logs/$name.gpu.json" || { echo "expected $expected:"; cat "$logs/$name.gpu.json"; exit 1; }
  echo "cuda: $(compress_times "$logs/$name.gpu.json")"
  cmp "$work/$name.cpu.spikey" "$work/$name.gpu.spikey" || exit 1
  "$spikey" verify "$work/$name.gpu.spikey" || exit 1
  echo "parity: $(stat -c %s "$work/$name.gpu.spikey") bytes identical, verified"
  rm -f "$work/$name.cpu.spikey" "$work/$name.gpu.spikey"
}

# sanitize TOOL: compute-sanitizer on the small parity and training tests and the shared math.
sanitize() {
  local tool=$1
  if [ $rehearse = 1 ]; then
    echo "rehearsal: compute-sanitizer --tool $tool needs a GPU; $(command -v compute-sanitizer || echo 'compute-sanitizer is not installed here')"
    return 0
  fi
  local run=(compute-sanitizer --tool "$tool" --error-exitcode 1 --print-limit 20)
  SPIKEY_REQUIRE_GPU=1 "${run[@]}" "$build/tests/test_gpu_batch" --gtest_filter=GpuEncoder.SmallParityForEveryCodec &&
    SPIKEY_REQUIRE_GPU=1 "${run[@]}" "$build/tests/test_gpu_training" --gtest_filter=GpuTrainers.SmallRunsGiveTheCpuWeights:GpuTrainingPasses.SmallRunGivesTheCpuResults &&
    SPIKEY_REQUIRE_GPU=1 "${run[@]}" "$build/tests/test_gpu_shared_math"
}

# gpu_bench on a codec with a batch encoder.
bench() {
  local codec=$1 name=$2
  if [ $rehearse = 1 ]; then
    "$build/bench/gpu_bench" "$data" --codec "$codec" --executor cpu --iterations 1 --json "$logs/bench_$name.json"
  else
    "$build/bench/gpu_bench" "$data" --codec "$codec" --iterations 3 --json "$logs/bench_$name.json"
  fi
}

# A codec again with its adapting variant in another form (SPIKEY_GPU_ADAPT: thread, half_warp),
# against the default warp per stream: FORM CODEC NAME.
bench_form() { SPIKEY_GPU_ADAPT=$1 bench "$2" "$3"; }

training_times() {
  [ $rehearse = 1 ] && { echo "rehearsal: the trainers' times come from the gpu_training step on a GPU"; return 0; }
  [ -s "$logs/test_gpu_training.json" ] || { echo "no record from the gpu_training step"; exit 1; }
  grep -o '"[a-z_]*seconds_cpu_gpu_[^,}]*' "$logs/test_gpu_training.json"
}

# The wide recording: the first 1024 WAVs' channels (or --wide-channels), shifted copies when the
# folder holds fewer. A rehearsal keeps it small (64 channels, 1 s), since the CPU executor runs it.
wide_input() {
  local extra=()
  [ $rehearse = 1 ] && { wide_channels=64; extra=(--seconds 1); }
  python3 "$root/scripts/make_wide_recording.py" "$data" "$work/wide.dat" --channels "$wide_channels" "${extra[@]}" | tee "$work/wide.txt"
  echo "--raw-channels $wide_channels --raw-rate $(awk '/^rate / {print $2}' "$work/wide.txt")" >"$work/wide.args"
}

wide_ready() { [ -s "$work/wide.dat" ] || { echo "no wide recording (the wide_input step did not run)"; exit 1; }; }

# cli_parity on the wide recording (the CPU side on every core, the CLI's default).
wide_cli() { wide_ready; cli_parity "wide_$1" "$1" "$work/wide.dat" $(cat "$work/wide.args"); }

# The same at twelve times the length (the wide recording over and over: about 60 s, 2.4 GB):
# the CLI's steady state, where training (on a fixed budget) is a small share and the chunks'
# pipeline (gather, upload, kernels, assembly, writing) sets the speed.
wide_cli_long() {
  wide_ready
  local i
  for i in $(seq 12); do cat "$work/wide.dat"; done >"$work/wide_long.dat"
  cli_parity "wide_long_$1" "$1" "$work/wide_long.dat" $(cat "$work/wide.args")
  rm -f "$work/wide_long.dat"
}

wide_bench() {
  wide_ready
  if [ $rehearse = 1 ]; then
    "$build/bench/gpu_bench" "$work/wide.dat" $(cat "$work/wide.args") --codec "$1" --executor cpu --iterations 1 --json "$logs/bench_wide_$2.json"
  else
    "$build/bench/gpu_bench" "$work/wide.dat" $(cat "$work/wide.args") --codec "$1" --iterations 3 --json "$logs/bench_wide_$2.json"
  fi
}

wide_bench_form() { SPIKEY_GPU_ADAPT=$1 wide_bench "$2" "$3"; }

# lpc1 again with the batches gathered into the heap (staged by the executor before their
# upload) instead of its page-locked pool: beside wide_bench_fast, what the pool saves.
wide_bench_heap() {
  wide_ready
  if [ $rehearse = 1 ]; then
    "$build/bench/gpu_bench" "$work/wide.dat" $(cat "$work/wide.args") --codec lpc1 --executor cpu --heap-samples --iterations 1 --json "$logs/bench_wide_fast_heap.json"
  else
    "$build/bench/gpu_bench" "$work/wide.dat" $(cat "$work/wide.args") --codec lpc1 --heap-samples --iterations 3 --json "$logs/bench_wide_fast_heap.json"
  fi
}

# Each kernel's time (gpu__time_duration, summed over its launches) in one gpu_bench pass, as CSV
# for device_summary.py. ncu runs every launch alone, so the sum is the kernels' own time.
wide_profile() {
  wide_ready
  if [ $rehearse = 1 ]; then
    echo "rehearsal: ncu needs a GPU; $(command -v ncu || echo 'ncu is not installed here')"
    return 0
  fi
  command -v ncu >/dev/null || { echo "ncu is not on the PATH"; exit 1; }
  ncu --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$logs/ncu_$2.csv" \
    "$build/bench/gpu_bench" "$work/wide.dat" $(cat "$work/wide.args") --codec "$1" --iterations 1
}

export wide_channels
export -f say missing preflight configure build_targets gpu_test compress_times cli_parity sanitize bench bench_form training_times \
  wide_input wide_ready wide_cli wide_cli_long wide_bench wide_bench_form wide_bench_heap wide_profile

# ---- the run --------------------------------------------------------------------------------

if ! step preflight 60 preflight; then
  echo "device_check: preflight failed: $(grep -E '^MISSING' "$logs/preflight.log" | head -n 1)" >&2
  cat "$OUT/summary.md"
  exit 1
fi
# The GPU machine builds in well under a minute on 16 cores; a rehearsal builds on CI's two
# cores beside the rest of the test suite, which alone takes over 3 minutes.
build_limit=300
[ $rehearse = 1 ] && build_limit=900
if ! step configure 120 configure || ! step build $build_limit build_targets; then
  echo "device_check: the build failed; nothing else can run (logs: $OUT/logs.tgz)" >&2
  cat "$OUT/summary.md"
  exit 1
fi
step gpu_shared_math 60 gpu_test test_gpu_shared_math
step gpu_batch 180 gpu_test test_gpu_batch
step gpu_training 120 gpu_test test_gpu_training
step cli_parity_fast 60 cli_parity fast fast "$data"
step cli_parity_default 90 cli_parity default default "$data"
step cli_parity_cinpla 60 cli_parity cinpla default "$cinpla" --raw-channels 32 --raw-rate 30000 --chunk-seconds 0.05
step memcheck 120 sanitize memcheck
step racecheck 120 sanitize racecheck
step bench_fast 90 bench lpc1 fast
step bench_default 120 bench mt2 default
step training 15 training_times
step bench_fast_thread 60 bench_form thread lpc1 fast_thread
step wide_input 60 wide_input
step wide_cli_fast 60 wide_cli fast
step wide_cli_default 120 wide_cli default
step wide_cli_default_long 150 wide_cli_long default
step wide_bench_fast 90 wide_bench lpc1 fast
step wide_bench_default 120 wide_bench mt2 default
step wide_bench_fast_heap 90 wide_bench_heap
step wide_bench_fast_half 90 wide_bench_form half_warp lpc1 fast_half
step wide_bench_default_half 120 wide_bench_form half_warp mt2 default_half
step wide_profile_fast 90 wide_profile lpc1 fast
step wide_profile_default 120 wide_profile mt2 default

echo
cat "$OUT/summary.md"
echo "logs: $OUT/logs.tgz"
exit $failed
