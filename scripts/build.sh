#!/usr/bin/env bash
# Configures and builds into build/ (Release): everything, or the targets named in
# $SPIKEY_BUILD_TARGETS. Extra arguments go to cmake's configure step (e.g. -DSPIKEY_CUDA=OFF).
# CUDA parts build whenever nvcc exists; no GPU is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
source scripts/generator.sh
cmake -S . -B build $(cmake_generator build) -DCMAKE_BUILD_TYPE=Release -DSPIKEY_BUILD_TESTS=ON -DSPIKEY_BUILD_BENCH=ON "$@" >/dev/null
targets=()
for t in ${SPIKEY_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
