#!/usr/bin/env bash
# CI: the GPU machine's check rehearsed without a GPU, so that neither it nor the bundle it needs
# can rot: a dependency bundle made by scripts/prepare_device_bundle.sh, then
# scripts/device_check.sh --rehearse against it (the restricted build included), then the
# summary it leaves must list every step as passed.
#   device_check_rehearsal.sh SOURCE_DIR WORK_DIR
set -euo pipefail
source_dir=$1
work=$2
mkdir -p "$work"
SPIKEY_BUNDLE_DIR=$work bash "$source_dir/scripts/prepare_device_bundle.sh" --no-data
rm -rf "$work/out"
# A unity build at -O1 here, for CI's two cores: what the rehearsal checks (the bundle's headers
# and libraries, the configure, every step's plumbing) does not depend on optimisation, and it
# builds in about 70% of the CPU time (the device builds source by source at -O3, as the main
# tree here does; the CUDA sources are never batched).
rehearsal_cmake_args="-DCMAKE_UNITY_BUILD=ON -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DCMAKE_CUDA_FLAGS_RELEASE=-O1"
OUT=$work/out SPIKEY_DEVICE_DEPS=$work/device_deps SPIKEY_CMAKE_ARGS=$rehearsal_cmake_args bash "$source_dir/scripts/device_check.sh" --rehearse --build-dir "$work/build" --budget 1500
summary=$work/out/summary.md
[ -s "$work/out/logs.tgz" ] || { echo "no logs.tgz"; exit 1; }
for s in preflight configure build gpu_shared_math gpu_batch gpu_training cli_parity_fast cli_parity_default cli_parity_cinpla \
         memcheck racecheck bench_fast bench_default training bench_fast_thread wide_input wide_cli_fast wide_cli_default \
         wide_cli_default_long wide_bench_fast wide_bench_default wide_bench_fast_heap wide_bench_fast_half wide_bench_default_half \
         wide_profile_fast wide_profile_default; do
  grep -q "^| $s | ok |" "$summary" || { echo "step $s did not pass in the rehearsal"; exit 1; }
done
grep -q "libraries: $work/device_deps" "$summary" || { echo "the rehearsal did not check the bundle"; exit 1; }
echo "rehearsal passed; build step: $(grep '^| build |' "$summary")"
