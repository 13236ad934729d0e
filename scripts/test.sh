#!/usr/bin/env bash
# README command 2 (and CI): install dependencies, build everything, run every test; then the
# same suite again under AddressSanitizer + UndefinedBehaviorSanitizer with bounded fuzzing
# (scripts/test_sanitized.sh).
# Tests on real data read ../shared/data next to the checkout (or $SPIKEY_SHARED_DATA) and
# skip with a message when it is absent; GPU tests skip without a device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh "$@"
(cd build && ctest --output-on-failure --no-tests=error -j"$(nproc)" --timeout 600)
bash scripts/test_sanitized.sh
