#!/usr/bin/env python3
"""What format version 10's integrity costs in archive size: the stream checks (4 bytes per
channel and chunk, SPEC.md §6.3) and the metadata copy before the index (§3.7).

    python3 bench/integrity_cost.py OLD_SPIKEY NEW_SPIKEY --data ../shared/data [--levels default,max] [--per-file N]

OLD_SPIKEY writes format 9, NEW_SPIKEY format 10; the codecs are the same, so the archives differ
only by what version 10 adds. Every archive is verified by the compressor that wrote it (its
default). For each multi-channel set and the 303 Neuralink files in one archive, at each level:
both sizes, the ratio (original bytes / archive bytes) and the cost in percent; then each
Neuralink file compressed alone at level default (the first N files, all by default), with the
distribution of the per-file cost and every file's figures in --csv.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile


def sets(data):
    d = data
    return [
        ("neuralink (303 files, one archive)", [os.path.join(d, "neuralink")]),
        ("cinpla_oebin32", [os.path.join(d, "cinpla_oebin32/continuous.dat"), "--raw-channels", "32", "--raw-rate", "30000"]),
        ("tdc_locust", [os.path.join(d, "tdc_locust/locust_trial_01.raw"), os.path.join(d, "tdc_locust/locust_trial_02.raw"),
                        "--raw-channels", "4", "--raw-rate", "15000"]),
        ("biocam_36ch", [os.path.join(d, "biocam_36ch/biocam_36ch_19754Hz_minus2048.i16"), "--raw-channels", "36",
                         "--raw-rate", "19753.774"]),
        ("oe_demo_cortex16", [os.path.join(d, "oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16"), "--raw-channels", "16",
                              "--raw-rate", "40000"]),
    ]


def compress(binary, args, level, out):
    r = subprocess.run([binary, "compress", *args, "-o", out, "-f", "--level", level, "--json", "-q"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{binary} failed on {args}: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    if not j.get("verified"):
        sys.exit(f"{binary}: archive of {args} not verified")
    return j["original_bytes"], j["archive_bytes"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--levels", default="fast,default,max")
    p.add_argument("--per-file", type=int, default=0, help="Neuralink files compressed alone (0: all)")
    p.add_argument("--csv", help="per-file figures")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_out, new_out = os.path.join(tmp, "old.spikey"), os.path.join(tmp, "new.spikey")
        print(f"{'set':36} {'level':8} {'v9 bytes':>10} {'v10 bytes':>10} {'v9 ratio':>9} {'v10 ratio':>9} {'cost':>7}")
        for name, args in sets(a.data):
            for level in a.levels.split(","):
                original, old = compress(a.old, args, level, old_out)
                _, new = compress(a.new, args, level, new_out)
                print(f"{name:36} {level:8} {old:10d} {new:10d} {original / old:9.5f} {original / new:9.5f} {100 * (new - old) / old:6.3f}%",
                      flush=True)
        folder = os.path.join(a.data, "neuralink")
        files = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))
        if a.per_file:
            files = files[: a.per_file]
        rows = []
        for f in files:
            original, old = compress(a.old, [os.path.join(folder, f)], "default", old_out)
            _, new = compress(a.new, [os.path.join(folder, f)], "default", new_out)
            rows.append((f, original, old, new, 100 * (new - old) / old))
        costs = [r[4] for r in rows]
        total_old, total_new = sum(r[2] for r in rows), sum(r[3] for r in rows)
        print(f"\nneuralink, each of {len(rows)} files alone at level default: cost per file median {statistics.median(costs):.3f}%, "
              f"min {min(costs):.3f}%, max {max(costs):.3f}%; all files together {100 * (total_new - total_old) / total_old:.3f}% "
              f"(ratio {sum(r[1] for r in rows) / total_old:.5f} -> {sum(r[1] for r in rows) / total_new:.5f})")
        worst = max(rows, key=lambda r: r[4])
        print(f"largest per-file cost: {worst[0]} ({worst[2]} -> {worst[3]} bytes, {worst[4]:.3f}%)")
        if a.csv:
            with open(a.csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["file", "original_bytes", "v9_archive_bytes", "v10_archive_bytes", "cost_percent"])
                w.writerows(rows)


if __name__ == "__main__":
    main()
