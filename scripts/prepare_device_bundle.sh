#!/usr/bin/env bash
# Run HERE (the development machine) before a GPU check. GPU machines cannot install packages,
# so this gathers what the build needs there and the real data the check reads:
#   device_deps/  headers and libraries of the Debian packages (json, CLI11, xxHash, zstd,
#                 OpenSSL's libcrypto, GoogleTest, Google Benchmark), a few MB
#   device_data/neuralink/  the first 200 Neuralink WAVs of ../shared/data (about 40 MB)
# Both are git-ignored; pass them to the device tool as carry: ["device_deps", "device_data"].
#
#   scripts/prepare_device_bundle.sh [--no-data]
# The bundle goes into the checkout, or into $SPIKEY_BUNDLE_DIR (the CI rehearsal's build folder).
set -euo pipefail
cd "$(dirname "$0")/.."
with_data=1
[ "${1:-}" = "--no-data" ] && with_data=0
into=${SPIKEY_BUNDLE_DIR:-$PWD}
mkdir -p "$into"
bash scripts/install_deps.sh
lib=/usr/lib/$(gcc -print-multiarch)
deps=$into/device_deps
rm -rf "$deps" && mkdir -p "$deps/include" "$deps/lib"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/gtest /usr/include/gmock /usr/include/benchmark "$deps/include/"
cp /usr/include/xxhash.h /usr/include/zstd.h /usr/include/zstd_errors.h /usr/include/zdict.h "$deps/include/"
cp -r /usr/include/openssl "$deps/include/" && cp "/usr/include/$(gcc -print-multiarch)"/openssl/*.h "$deps/include/openssl/"
cp "$lib"/libxxhash.a "$lib"/libzstd.a "$lib"/libgtest.a "$lib"/libgtest_main.a "$lib"/libgmock.a "$lib"/libgmock_main.a "$deps/lib/"
# Google Benchmark (micro_bench, configured but not built there) ships as a shared library only:
# keep its soname so the loader finds it.
soname=$(objdump -p "$lib/libbenchmark.so" | awk '/SONAME/ {print $2}')
cp -L "$lib/libbenchmark.so" "$deps/lib/$soname"
ln -sf "$soname" "$deps/lib/libbenchmark.so"
# libcrypto (SHA-1 of SpikeGLX files) likewise, as the shared library: half the static one's size.
cp -L "$lib/libcrypto.so" "$deps/lib/libcrypto.so.3"
ln -sf libcrypto.so.3 "$deps/lib/libcrypto.so"

if [ $with_data = 1 ]; then
  data=${SPIKEY_SHARED_DATA:-../shared/data}/neuralink
  [ -d "$data" ] || { echo "$data is absent: no real data to carry" >&2; exit 1; }
  rm -rf "$into/device_data" && mkdir -p "$into/device_data/neuralink"
  find "$data" -maxdepth 1 -name '*.wav' | sort | head -n 200 | xargs -I{} cp {} "$into/device_data/neuralink/"
  du -sh "$into/device_data"
fi
du -sh "$deps"
