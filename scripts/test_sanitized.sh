#!/usr/bin/env bash
# The sanitizer job (part of scripts/test.sh, so CI runs it): the whole test suite built with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer (any report fails its test; the suite
# replays every committed fuzz corpus and regression input), then the libFuzzer targets: a
# bounded run of each from the committed corpus (SPIKEY_FUZZ_SECONDS, default 30). CUDA is off
# here: the sanitizers cover host code. Two trees: build-sanitize/ for the suite, build-fuzz/ for
# the fuzz targets alone, whose coverage feedback instruments every branch and comparison of the
# code they link (the suite ran about 3x slower when it was built that way too). Both trees are
# unity builds: sanitizer instrumentation makes every inline function a translation unit uses
# costly to compile, and batching the sources compiles each about once (the format library: 88 s
# of CPU without, 42 s with). Debug information is line tables only: reports still name every
# frame's function, file and line, and the trees build in about 10% less time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
if ! command -v clang++-14 >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed"; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "installing: clang-14 libclang-rt-14-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null; }
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
source scripts/generator.sh
# What both trees share: clang, optimised with line tables, sanitized, no CUDA, in batches.
instrumented=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" -DSPIKEY_SANITIZE=ON
              -DSPIKEY_CUDA=OFF -DSPIKEY_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON)
CC=clang-14 CXX=clang++-14 cmake -S . -B build-sanitize $(cmake_generator build-sanitize) "${instrumented[@]}" -DSPIKEY_FUZZ=OFF >/dev/null
cmake --build build-sanitize -j"$(nproc)"
(cd build-sanitize && ctest --output-on-failure --no-tests=error -j"$(nproc)" --timeout 1500)
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz $(cmake_generator build-fuzz) "${instrumented[@]}" -DSPIKEY_FUZZ=ON \
  -DSPIKEY_FUZZ_SECONDS="${SPIKEY_FUZZ_SECONDS:-30}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_archive fuzz_inputs
(cd build-fuzz && ctest --output-on-failure --no-tests=error -j"$(nproc)" --timeout 1500 -L '^fuzz$')
