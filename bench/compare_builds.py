#!/usr/bin/env python3
"""Two spikey builds side by side on every real recording set: the archives each writes at every
level must be byte-identical (cmp), and their encode and decode speeds are measured in the same
run, alternating A and B, so that a refactoring can show it changed neither bytes nor speed.

  bench/compare_builds.py BIN_A BIN_B [--data ../shared/data] [--levels fast,default,max]
                          [--threads 2] [--repeats 1]

Prints a Markdown table; exits 1 when any pair of archives differs or any run fails."""
import argparse
import filecmp
import json
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]

# (name, inputs relative to the data folder, extra compress options)
SETS = [
    ("neuralink (303 WAVs)", ["neuralink"], []),
    ("cinpla 32 ch", ["cinpla_oebin32/continuous.dat"], ["--raw-channels", "32", "--raw-rate", "30000"]),
    ("biocam 36 ch", ["biocam_36ch/biocam_36ch_19754Hz_minus2048.i16"], ["--raw-channels", "36", "--raw-rate", "19753.774"]),
    ("oe_demo 16 ch", ["oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16"], ["--raw-channels", "16", "--raw-rate", "40000"]),
    ("locust tetrode, 2 trials", ["tdc_locust/locust_trial_01.raw", "tdc_locust/locust_trial_02.raw"],
     ["--raw-channels", "4", "--raw-rate", "15000"]),
    ("SpikeGLX sample (sync channel; samples/)", [str(REPO / "samples/spikeglx/run_g0_t0.imec0.ap.bin")], []),
]


def run_json(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--levels", default="fast,default,max")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    data = pathlib.Path(args.data)
    failures = 0
    print("| set | level | codec | bytes | identical | encode s A | encode s B | decode MB/s A | decode MB/s B |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name, inputs, extra in SETS:
            paths = [str(data / i) for i in inputs]
            if not all(pathlib.Path(p).exists() for p in paths):
                print(f"| {name} | – | – | – | absent | | | | |")
                continue
            for level in args.levels.split(","):
                best = {"a": [float("inf"), 0.0], "b": [float("inf"), 0.0]}
                codec = size = "?"
                try:
                    for _ in range(args.repeats):
                        for side, binary in (("a", args.a), ("b", args.b)):
                            out = tmp / f"{side}.spikey"
                            r = run_json([binary, "compress", *paths, *extra, "--level", level, "--threads", str(args.threads),
                                          "-o", str(out), "-f", "--no-verify", "--json"])
                            v = run_json([binary, "verify", str(out), "--threads", str(args.threads), "--json"])
                            best[side][0] = min(best[side][0], r["encode_seconds"])
                            best[side][1] = max(best[side][1], v["decode_mb_per_s"])
                            codec, size = r["codec"], r["archive_bytes"]
                        same = filecmp.cmp(tmp / "a.spikey", tmp / "b.spikey", shallow=False)
                        failures += not same
                except (RuntimeError, ValueError) as e:
                    print(f"| {name} | {level} | – | – | FAILED: {e} | | | | |")
                    failures += 1
                    continue
                print(f"| {name} | {level} | {codec} | {size} | {'yes' if same else '**NO**'} | {best['a'][0]:.2f} | {best['b'][0]:.2f}"
                      f" | {best['a'][1]:.1f} | {best['b'][1]:.1f} |", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
