#!/usr/bin/env python3
"""A wide raw recording for the device check's throughput steps, built from real mono WAVs.

    make_wide_recording.py WAV_DIR OUTPUT.dat --channels N [--seconds S]

Channel c is file (c mod F) of the folder's F WAVs (sorted by name), started (c div F) * 7919
samples later and read circularly, so no two channels are the same series; every channel is cut
to the shortest file (or S seconds). The output is interleaved little-endian int16 with no
header: compress it with --raw-channels N --raw-rate RATE (RATE is printed, with the duration).
Only the standard library, so it runs on the GPU machine and in CI alike."""
import argparse
import array
import pathlib
import struct
import sys

SHIFT = 7919  # a prime, so that shifted copies of one file do not line up with one another


def read_wav(path):
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a RIFF/WAVE file")
    at, rate, samples = 12, None, None
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = data[at + 8:at + 8 + size]
        if tag == b"fmt ":
            fmt, channels, rate = struct.unpack_from("<HHI", body)
            bits = struct.unpack_from("<H", body, 14)[0]
            if fmt != 1 or channels != 1 or bits != 16:
                sys.exit(f"{path}: expected mono 16-bit PCM")
        elif tag == b"data":
            samples = array.array("h")
            samples.frombytes(body[: len(body) // 2 * 2])
        at += 8 + size + (size & 1)
    if rate is None or samples is None:
        sys.exit(f"{path}: no fmt or data chunk")
    if sys.byteorder != "little":
        samples.byteswap()
    return rate, samples


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wav_dir", type=pathlib.Path)
    p.add_argument("output", type=pathlib.Path)
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--seconds", type=float)
    a = p.parse_args()
    files = sorted(a.wav_dir.glob("*.wav"))
    if not files:
        sys.exit(f"{a.wav_dir}: no WAV files")
    files = files[: a.channels]
    series = [read_wav(f) for f in files]
    rates = {rate for rate, _ in series}
    if len(rates) != 1:
        sys.exit(f"{a.wav_dir}: the files have different sample rates {sorted(rates)}")
    rate = rates.pop()
    length = min(len(s) for _, s in series)
    if a.seconds:
        length = min(length, int(a.seconds * rate))
    out = array.array("h", bytes(2 * length * a.channels))
    for c in range(a.channels):
        source = series[c % len(series)][1]
        shift = (c // len(series)) * SHIFT % length
        shifted = source[shift:length] + source[:shift]
        out[c::a.channels] = shifted
    if sys.byteorder != "little":
        out.byteswap()
    a.output.write_bytes(out.tobytes())
    print(f"{a.output}: {a.channels} channels x {length} samples at {rate} Hz ({length / rate:.2f} s, "
          f"{len(out) * 2 / 1e6:.1f} MB) from {len(files)} files")
    print(f"rate {rate}")


if __name__ == "__main__":
    main()
