#!/usr/bin/env bash
# Installs the Debian packages spikey needs to build, test and benchmark (only the missing ones).
set -euo pipefail

packages=(
  cmake g++ make ninja-build pkg-config
  nlohmann-json3-dev libcli11-dev libxxhash-dev libzstd-dev   # metadata, CLI, checksums, metadata compression
  libssl-dev                                                  # SHA-1 of SpikeGLX recordings (fileSHA1)
  libhdf5-dev                                                 # NWB (HDF5) inputs
  libgtest-dev libgmock-dev libbenchmark-dev                  # tests and micro-benchmarks
  flac wavpack zstd xz-utils bzip2 python3                    # corpus benchmark comparisons
  slurm-wlm munge                                             # the batch job-array test (a local Slurm cluster)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
