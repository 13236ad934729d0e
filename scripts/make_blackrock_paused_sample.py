#!/usr/bin/env python3
"""Builds samples/blackrock_paused/paused-001.ns5: a Blackrock NSx 2.3 file of a paused recording,
laid out as the "NEV and NSx File Specification" (file spec 2.3) says, around real samples.

The samples are channels 0-7, frames 0-5999 of the committed cinpla32 slice (real Intan RHD2000
samples at 30 kHz), cut into three data packets as Central writes a recording that was started,
synchronised and paused: a 1-frame packet (the clock reset at the start), 3999 frames, then, after
a pause of 1.5 s in the timestamps, the last 2000 frames. Header: 30 kS/s (period 1, timestamp
resolution 30000), channels "elec1".."elec8", +-32764 digital to +-8191 uV analog (0.25 uV per
step, Blackrock's front-end value), a 250 Hz high-pass and a 7500 Hz low-pass recorded as filters.
"""
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parent.parent
slice_bytes = (root / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat").read_bytes()
channels = 8
frames = [slice_bytes[64 * t:64 * t + 2 * channels] for t in range(len(slice_bytes) // 64)]  # 32 int16 a frame; the first 8


def text(s: str, size: int) -> bytes:
    return s.encode("ascii").ljust(size, b"\0")


out = bytearray()
out += b"NEURALCD" + bytes([2, 3]) + struct.pack("<I", 314 + 66 * channels)
out += text("30 kS/s", 16) + text("paused recording, real samples (cinpla32)", 256)
out += struct.pack("<II", 1, 30000) + struct.pack("<8H", 2010, 12, 5, 10, 14, 3, 27, 0) + struct.pack("<I", channels)
for c in range(channels):
    out += b"CC" + struct.pack("<H", c + 1) + text(f"elec{c + 1}", 16) + bytes([1, c + 1])
    out += struct.pack("<hhhh", -32764, 32764, -8191, 8191) + text("uV", 16)
    out += struct.pack("<IIHIIH", 250000, 4, 1, 7500000, 3, 1)  # corners in mHz, order, Butterworth
assert len(out) == 314 + 66 * channels

timestamp = 0
start = 0
for length, pause in ((1, 0), (3999, 0), (2000, 45000)):
    timestamp += pause
    out += bytes([1]) + struct.pack("<II", timestamp, length)
    out += b"".join(frames[start:start + length])
    start += length
    timestamp += length
assert start == len(frames)

dest = root / "samples" / "blackrock_paused"
dest.mkdir(parents=True, exist_ok=True)
(dest / "paused-001.ns5").write_bytes(bytes(out))
print(dest / "paused-001.ns5", len(out), "bytes")
