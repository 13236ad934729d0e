#!/usr/bin/env python3
"""The numcodecs/Zarr codec against the CLI on real recordings: ratio and encode/decode time.

    build/pyenv/bin/python bench/zarr_codec_bench.py --data ../shared/data [--spikey build/host/spikey] [--level default]

For each recording: `spikey compress` of the whole file (the reference), then a Zarr array with
chunks of `--zarr-seconds` of every channel written through the codec (a) training per chunk,
(b) with a model trained once on the first `--train-seconds` (spikey_archive.train; its time is
shown apart), and each array read back whole and compared with the original samples. Ratio =
original bytes / (sum of stored chunk bytes), as for the CLI. One thread each unless --threads.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import zarr

import spikey_archive as spikey
import spikey_archive.numcodecs  # noqa: F401


def sets(data):
    return [("cinpla_oebin32", os.path.join(data, "cinpla_oebin32/continuous.dat"), 32, 30000),
            ("oe_demo_cortex16", os.path.join(data, "oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16"), 16, 40000)]


def stored_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if not f.startswith("."))


def through_zarr(samples, rate, seconds, codec, folder):
    t0 = time.perf_counter()
    z = zarr.open_array(folder, mode="w", shape=samples.shape, chunks=(int(seconds * rate), samples.shape[1]), dtype="i2",
                        compressor=codec)
    z[:] = samples
    encode = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = zarr.open_array(folder, mode="r")[:]
    decode = time.perf_counter() - t0
    if not np.array_equal(back, samples):
        raise SystemExit(f"{folder}: the Zarr round trip differs")
    return samples.nbytes / stored_bytes(folder), encode, decode


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--spikey", default="build/host/spikey")
    p.add_argument("--level", default="default")
    p.add_argument("--zarr-seconds", type=float, default=1.0)
    p.add_argument("--train-seconds", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    print(f"{'set':18} {'how':28} {'ratio':>8} {'encode s':>9} {'decode s':>9}")
    for name, path, channels, rate in sets(a.data):
        samples = np.fromfile(path, dtype="<i2")
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "cli.spikey")
            t0 = time.perf_counter()
            r = subprocess.run([a.spikey, "compress", path, "--raw-channels", str(channels), "--raw-rate", str(rate), "--level", a.level,
                                "--threads", str(a.threads), "-o", out, "--json", "-q"], capture_output=True, text=True, check=True)
            cli_seconds = time.perf_counter() - t0
            cli = json.loads(r.stdout)
            print(f"{name:18} {'CLI, whole file':28} {cli['ratio']:8.4f} {cli_seconds:9.2f} {'':>9}", flush=True)
            codec = spikey.numcodecs.Spikey(sample_rate=rate, level=a.level, threads=a.threads)
            ratio, enc, dec = through_zarr(samples, rate, a.zarr_seconds, codec, os.path.join(tmp, "a.zarr"))
            print(f"{name:18} {f'zarr {a.zarr_seconds:g} s chunks, training':28} {ratio:8.4f} {enc:9.2f} {dec:9.2f}", flush=True)
            model = os.path.join(tmp, "m.spkm")
            t0 = time.perf_counter()
            spikey.train(samples[: int(a.train_seconds * rate)], rate, model, level=a.level, threads=a.threads)
            train = time.perf_counter() - t0
            codec = spikey.numcodecs.Spikey(sample_rate=rate, level=a.level, threads=a.threads, model=model)
            ratio, enc, dec = through_zarr(samples, rate, a.zarr_seconds, codec, os.path.join(tmp, "b.zarr"))
            how = f"zarr, model of first {a.train_seconds:g} s"
            print(f"{name:18} {how:28} {ratio:8.4f} {enc:9.2f} {dec:9.2f}   (training {train:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
