#!/usr/bin/env python3
"""Builds a non-stationary multichannel recording from real mono N1 WAVs, for measuring how
the codec adapts: channel c is files 10c .. 10c+9 (sorted by name) spliced one after another,
the first 98,000 samples of each, written as interleaved int16 (30 channels, 19531 Hz).

Usage: bench/make_spliced.py NEURALINK_DIR OUTPUT.raw
"""
import array
import sys
from pathlib import Path

CHANNELS, FILES_PER_CHANNEL, SAMPLES_PER_FILE = 30, 10, 98000


def main():
    files = sorted(Path(sys.argv[1]).glob("*.wav"))
    if len(files) < CHANNELS * FILES_PER_CHANNEL:
        raise SystemExit(f"need {CHANNELS * FILES_PER_CHANNEL} WAV files")
    channels = []
    for c in range(CHANNELS):
        samples = array.array("h")
        for f in files[c * FILES_PER_CHANNEL:(c + 1) * FILES_PER_CHANNEL]:
            part = array.array("h")
            part.frombytes(f.read_bytes()[44:])  # canonical 44-byte headers (see the data's README)
            samples.extend(part[:SAMPLES_PER_FILE])
        channels.append(samples)
    n = len(channels[0])
    out = array.array("h", [0]) * (n * CHANNELS)
    for c, samples in enumerate(channels):
        out[c::CHANNELS] = samples
    Path(sys.argv[2]).write_bytes(out.tobytes())
    print(f"{CHANNELS} channels x {n} samples ({n / 19531:.1f} s) -> {sys.argv[2]}")


if __name__ == "__main__":
    main()
