#!/usr/bin/env bash
# README command 1: install, build, then run spikey on the bundled real sample
# (samples/neuralink: three N1 implant recordings) and show what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
SPIKEY_BUILD_TARGETS=spikey bash scripts/build.sh
spikey=build/host/spikey
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { echo; echo "\$ spikey ${*//$work/\$WORK}"; "$spikey" "$@"; }

run compress samples/neuralink -o "$work/sample.spikey"
run info "$work/sample.spikey"
run extract "$work/sample.spikey" --start 1.25 --end 1.5 --channels 0,2 -o "$work/window.npy"
run verify "$work/sample.spikey"
run decompress "$work/sample.spikey" -o "$work/restored"
echo
echo "\$ cmp restored files with the originals"
for f in samples/neuralink/*.wav; do
  cmp "$f" "$work/restored/$(basename "$f")" && echo "identical: $(basename "$f")"
done
