#!/usr/bin/env bash
# README command 1: install, build, then run spikey on the bundled real sample
# (samples/neuralink: three N1 implant recordings; then an Open Ephys folder and a SpikeGLX
# pair from samples/) and show what it did.
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

# An Open Ephys recording folder and a SpikeGLX .bin/.meta pair, archived and restored whole.
run compress "samples/open_ephys/Record Node 101" -o "$work/open_ephys.spikey"
run decompress "$work/open_ephys.spikey" -o "$work/open_ephys"
diff -r "samples/open_ephys/Record Node 101" "$work/open_ephys" && echo "identical: every file of the Open Ephys folder"
run compress samples/spikeglx/run_g0_t0.imec0.ap.bin -o "$work/spikeglx.spikey"
run info "$work/spikeglx.spikey"
run decompress "$work/spikeglx.spikey" -o "$work/spikeglx"
diff -r samples/spikeglx "$work/spikeglx" && echo "identical: the SpikeGLX .bin and .meta"
