#!/usr/bin/env python3
"""Level max of two spikey builds on every real recording set, with what the newer archive spends
on the metadata copy (SPEC.md §3.7, format 10 on), so that a ratio change can be split into the
codec's part and the integrity data's part.

    python3 bench/max_against_release.py OLD_SPIKEY NEW_SPIKEY [--data ../shared/data] [--threads 2]

Each archive is verified by the compressor that wrote it (its default). The copy's size is read
from the newer archive itself: its trailer (the copy's size, checksum and magic) ends where the
index starts (the footer's first field). The stream checks (4 bytes per channel and chunk) are
not taken out: they are about 4 bytes per channel-second. Prints a Markdown table.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

SETS = [
    ("N1, 303 files in one archive", ["neuralink"], []),
    ("cinpla 32 ch", ["cinpla_oebin32/continuous.dat"], ["--raw-channels", "32", "--raw-rate", "30000"]),
    ("locust 4 ch, 2 trials", ["tdc_locust/locust_trial_01.raw", "tdc_locust/locust_trial_02.raw"], ["--raw-channels", "4", "--raw-rate", "15000"]),
    ("3Brain 36 ch", ["biocam_36ch/biocam_36ch_19754Hz_minus2048.i16"], ["--raw-channels", "36", "--raw-rate", "19753.774"]),
    ("Open Ephys 16 ch", ["oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16"], ["--raw-channels", "16", "--raw-rate", "40000"]),
]


def original_bytes(paths):
    total = 0
    for p in paths:
        if os.path.isdir(p):
            total += sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p) if f.endswith(".wav"))
        else:
            total += os.path.getsize(p)
    return total


def compress(binary, paths, extra, out, threads):
    subprocess.run([binary, "compress", *paths, *extra, "--level", "max", "--threads", str(threads), "-o", out, "-f", "-q"], check=True)
    return os.path.getsize(out)


def metadata_copy_bytes(path):
    """The copy and its 24-byte trailer, or 0 for an archive without a copy."""
    with open(path, "rb") as f:
        data = f.read()
    index_offset = struct.unpack_from("<Q", data, len(data) - 48)[0]
    if data[index_offset - 8:index_offset] != b"SPKMETA\x89":
        return 0
    return struct.unpack_from("<Q", data, index_offset - 24)[0] + 24


def main():
    p = argparse.ArgumentParser()
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    print("| set | old bytes | new bytes | old ratio | new ratio | change | new: metadata copy | new ratio without the copy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, inputs, extra in SETS:
            paths = [os.path.join(a.data, i) for i in inputs]
            if not all(os.path.exists(x) for x in paths):
                print(f"skipping {name}: not in {a.data}", file=sys.stderr)
                continue
            original = original_bytes(paths)
            old = compress(a.old, paths, extra, os.path.join(tmp, "old.spikey"), a.threads)
            new_path = os.path.join(tmp, "new.spikey")
            new = compress(a.new, paths, extra, new_path, a.threads)
            copy = metadata_copy_bytes(new_path)
            print(f"| {name} | {old} | {new} | {original / old:.4f} | {original / new:.4f} | {100 * (old / new - 1):+.2f}% | "
                  f"{copy} B ({100 * copy / new:.2f}%) | {original / (new - copy):.4f} |", flush=True)


if __name__ == "__main__":
    main()
