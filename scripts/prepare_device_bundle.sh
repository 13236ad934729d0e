#!/usr/bin/env bash
# Run HERE (the development machine) before a GPU check. GPU machines cannot install packages,
# so this gathers what the build needs there and the real data the check reads:
#   device_deps/  headers and libraries of the Debian packages (json, CLI11, xxHash, zstd,
#                 OpenSSL's libcrypto, GoogleTest, Google Benchmark), a few MB
#   device_data/neuralink/  the first 200 Neuralink WAVs of ../shared/data (about 40 MB)
# Both are git-ignored; pass them to the device tool as carry: ["device_deps", "device_data"].
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
lib=/usr/lib/$(gcc -print-multiarch)
rm -rf device_deps && mkdir -p device_deps/include device_deps/lib
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/gtest /usr/include/gmock /usr/include/benchmark device_deps/include/
cp /usr/include/xxhash.h /usr/include/zstd.h /usr/include/zstd_errors.h /usr/include/zdict.h device_deps/include/
cp -r /usr/include/openssl device_deps/include/ && cp "/usr/include/$(gcc -print-multiarch)"/openssl/*.h device_deps/include/openssl/
cp "$lib"/libxxhash.a "$lib"/libzstd.a "$lib"/libgtest.a "$lib"/libgtest_main.a "$lib"/libgmock.a "$lib"/libgmock_main.a device_deps/lib/
# Google Benchmark ships as a shared library only: keep its soname so the loader finds it.
soname=$(objdump -p "$lib/libbenchmark.so" | awk '/SONAME/ {print $2}')
cp -L "$lib/libbenchmark.so" "device_deps/lib/$soname"
ln -sf "$soname" device_deps/lib/libbenchmark.so
# libcrypto (SHA-1 of SpikeGLX files) likewise, as the shared library: half the static one's size.
cp -L "$lib/libcrypto.so" device_deps/lib/libcrypto.so.3
ln -sf libcrypto.so.3 device_deps/lib/libcrypto.so

data=${SPIKEY_SHARED_DATA:-../shared/data}/neuralink
[ -d "$data" ] || { echo "$data is absent: no real data to carry" >&2; exit 1; }
rm -rf device_data && mkdir -p device_data/neuralink
find "$data" -maxdepth 1 -name '*.wav' | sort | head -n 200 | xargs -I{} cp {} device_data/neuralink/
du -sh device_deps device_data
