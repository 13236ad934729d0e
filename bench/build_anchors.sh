#!/bin/bash
# Builds the two published Neuralink-challenge codecs that bench/level_bench.py measures as
# anchors, from their public sources checked out OUTSIDE this repository (never commit them):
#   github.com/hxrdxkxvxd/neuralink-codec   (8-tap sign-sign LMS, 4-context range coder)
#   github.com/phoboslab/neuralink_brainwire (adaptive Rice; one binary encodes and decodes)
# Usage: bench/build_anchors.sh HXRD_SOURCE_DIR BRAINWIRE_SOURCE_DIR OUT_DIR
# Each is compiled as its own build script or README does it (gcc -O3). brainwire tells encode
# from decode by the file names: compressed files end in .bw, decoded ones in .wav.
set -euo pipefail
if [ $# -ne 3 ]; then echo "usage: $0 HXRD_SOURCE_DIR BRAINWIRE_SOURCE_DIR OUT_DIR" >&2; exit 2; fi
mkdir -p "$3"
gcc -O3 -std=c99 -o "$3/hxrd_encode" "$1/encode.c" -lm
gcc -O3 -std=c99 -o "$3/hxrd_decode" "$1/decode.c" -lm
gcc -O3 -o "$3/brainwire" "$2/bwenc.c" -lm
echo "anchors in $3: hxrd_encode hxrd_decode brainwire"
