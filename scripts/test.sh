#!/usr/bin/env bash
# README command 2 (and CI): install dependencies, build everything, run every test and the
# Python package's tests (pip install . into build/pyenv); then the C++ suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer with bounded fuzzing (scripts/test_sanitized.sh).
# Tests on real data read ../shared/data next to the checkout (or $SPIKEY_SHARED_DATA) and
# skip with a message when it is absent; GPU tests skip without a device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh "$@"
(cd build && ctest --output-on-failure --no-tests=error -j"$(nproc)" --timeout 600)
# The Python package, as a user installs it (pip install . drives the same CMake), and its tests.
python3 -m venv build/pyenv
build/pyenv/bin/pip install -q --upgrade pip >/dev/null
build/pyenv/bin/pip install -q ".[test]"
SPIKEY_CLI="$PWD/build/host/spikey" build/pyenv/bin/python -m pytest -q python/tests
bash scripts/test_sanitized.sh
