#!/usr/bin/env python3
"""The levels against each other and against two published Neuralink-challenge codecs, side by
side in one run, one thread (the targets of bench/RESULTS.md's level table).

Every archive counted is decoded and compared byte for byte with its inputs (spikey
decompress + cmp; the anchors' decoders + cmp). Ratio is sum of original file bytes / sum of
compressed bytes. Speeds are MB/s of original bytes (1 MB = 1e6 B). The anchors run one process
per file, so the time of `/bin/true` run the same way over the same files is subtracted from
theirs; spikey runs one process per set, timed whole (start-up, reading, training, writing).

Usage:
  bench/level_bench.py --data ../shared/data --anchors DIR [--spikey build/host/spikey]
                       [--baseline OLD_SPIKEY] [--skip-wide] [--skip-per-file] [--markdown FILE]
DIR holds the anchors built by bench/build_anchors.sh (hxrd_encode, hxrd_decode, brainwire).
--baseline: an older spikey binary measured on the N1 set beside the current one.
Only the Python standard library is used.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1e6


def peak_rss_mib(cmd):
    """Runs cmd as a fresh child and returns (wall seconds, its peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def same_bytes(a, b):
    return Path(a).read_bytes() == Path(b).read_bytes()


def per_file_loop(files, make_cmd):
    start = time.perf_counter()
    for f in files:
        subprocess.run(make_cmd(f), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


class Bench:
    def __init__(self, args):
        self.args = args
        self.spikey = str(Path(args.spikey).resolve())
        self.tmp = Path(tempfile.mkdtemp(prefix="level_bench_"))
        self.rows = []  # markdown lines

    def out(self, line=""):
        print(line, flush=True)
        self.rows.append(line)

    # ---- spikey on one set ----
    def spikey_set(self, binary, name, inputs, level, threads, extra=(), decode=True, originals=None):
        """Compresses inputs into one archive; returns a dict of sizes and times. Decodes with
        decompress and compares every restored file with its original."""
        archive = self.tmp / f"{name}_{level}_{Path(binary).parent.name}.spikey"
        cmd = [binary, "compress", *map(str, inputs), *extra, "--level", level, "--threads", str(threads), "--no-verify", "-f", "-q",
               "--json", "-o", str(archive)]
        encode_s, rss, out = peak_rss_mib(cmd)
        report = json.loads(out)
        result = {"ratio": report["original_bytes"] / report["archive_bytes"], "original": report["original_bytes"],
                  "archive": report["archive_bytes"], "codec": report["codec"], "encode_s": encode_s, "encode_rss": rss,
                  "estimate": report.get("estimated_stream_bytes", 0), "duration": report["duration_seconds"]}
        if decode:  # the median of 5 runs: a short set's decode is tens of milliseconds, and one run moves by 20%
            runs = [peak_rss_mib([binary, "verify", str(archive), "--threads", str(threads), "-q"]) for _ in range(5)]
            result["decode_s"] = statistics.median(r[0] for r in runs)
            result["decode_rss"] = max(r[1] for r in runs)
        restored = self.tmp / f"restored_{name}_{level}"
        shutil.rmtree(restored, ignore_errors=True)
        subprocess.run([binary, "decompress", str(archive), "-o", str(restored), "-q"], check=True)
        for original in originals or inputs:
            original = Path(original)
            files = sorted(original.rglob("*")) if original.is_dir() else [original]
            for f in files:
                if f.is_file() and f.suffix.lower() in (".wav", ".dat", ".raw", ".i16", ".bin"):
                    rel = f.relative_to(original) if original.is_dir() else f.name
                    if not same_bytes(f, restored / rel):
                        raise SystemExit(f"{name} {level}: {rel} is not restored byte for byte")
        shutil.rmtree(restored)
        archive.unlink()
        return result

    # ---- anchors on the N1 files ----
    def anchors(self, files, total_bytes):
        a = Path(self.args.anchors)
        work = self.tmp / "anchors"
        work.mkdir()
        startup = per_file_loop(files, lambda f: ["/bin/true", str(f), str(work / "x")])
        results = {"startup_s": startup}
        for name, encode, decode in (("hxrd", [a / "hxrd_encode"], [a / "hxrd_decode"]), ("brainwire", [a / "brainwire"], [a / "brainwire"])):
            enc_s = per_file_loop(files, lambda f: [*map(str, encode), str(f), str(work / (f.name + ".bw"))])
            dec_s = per_file_loop(files, lambda f: [*map(str, decode), str(work / (f.name + ".bw")), str(work / (f.name + ".dec.wav"))])
            size = 0
            for f in files:
                size += (work / (f.name + ".bw")).stat().st_size
                if not same_bytes(f, work / (f.name + ".dec.wav")):
                    raise SystemExit(f"{name}: {f.name} is not restored byte for byte")
            results[name] = {"ratio": total_bytes / size, "encode_s": enc_s - startup, "decode_s": dec_s - startup}
            for f in work.iterdir():
                f.unlink()
        return results

    def run(self):
        data = Path(self.args.data)
        n1_dir = data / "neuralink"
        n1_files = sorted(n1_dir.glob("*.wav"))
        n1_bytes = sum(f.stat().st_size for f in n1_files)
        self.out(f"Inputs: {len(n1_files)} N1 WAVs ({n1_bytes:,} bytes); spikey {self.spikey}; one thread unless noted; "
                 f"{time.strftime('%Y-%m-%d')}")
        self.out()

        anchors = self.anchors(n1_files, n1_bytes)
        hx = anchors["hxrd"]
        levels = {}
        for level in ("fast", "default", "max"):
            levels[level] = self.spikey_set(self.spikey, "n1", [n1_dir], level, 1)
        baseline = {}
        if self.args.baseline:
            for level in ("fast", "default", "max"):
                baseline[level] = self.spikey_set(str(Path(self.args.baseline).resolve()), "n1_base", [n1_dir], level, 1)

        self.out(f"N1, 303 files, one archive (anchors: one process per file, /bin/true start-up {anchors['startup_s']:.2f} s subtracted)")
        self.out()
        self.out("| codec | ratio | encode MB/s | decode MB/s | encode × hxrd | decode × hxrd | decode × fast |")
        self.out("|---|---:|---:|---:|---:|---:|---:|")
        fast_decode = n1_bytes / levels["fast"]["decode_s"]
        hx_enc, hx_dec = n1_bytes / hx["encode_s"], n1_bytes / hx["decode_s"]

        def row(label, ratio, enc_s, dec_s):
            enc, dec = n1_bytes / enc_s / MB, n1_bytes / dec_s / MB
            self.out(f"| {label} | {ratio:.4f} | {enc:.1f} | {dec:.1f} | {enc * MB / hx_enc:.2f} | {dec * MB / hx_dec:.2f} | {dec * MB / fast_decode:.2f} |")

        for name in ("hxrd", "brainwire"):
            row(name, anchors[name]["ratio"], anchors[name]["encode_s"], anchors[name]["decode_s"])
        for level, r in levels.items():
            row(f"spikey {level} ({r['codec']})", r["ratio"], r["encode_s"], r["decode_s"])
        for level, r in baseline.items():
            row(f"baseline {level} ({r['codec']})", r["ratio"], r["encode_s"], r["decode_s"])
        if baseline:
            self.out()
            self.out(f"Level max against the baseline: encode {baseline['max']['encode_s'] / levels['max']['encode_s']:.2f}x faster, "
                     f"decode {baseline['max']['decode_s'] / levels['max']['decode_s']:.2f}x")
        self.out()

        if not self.args.skip_per_file:
            compressed = 0
            start = time.perf_counter()
            for f in n1_files:
                archive = self.tmp / (f.stem + ".spikey")
                # compress verifies by default: every sample decoded and compared, the file rebuilt
                # and checked against the original's checksum.
                subprocess.run([self.spikey, "compress", str(f), "-o", str(archive), "--threads", "2", "-q", "-f"], check=True)
                compressed += archive.stat().st_size
                archive.unlink()
            self.out(f"N1, one archive per 5 s file, default: ratio {n1_bytes / compressed:.4f} "
                     f"({len(n1_files)} archives, each verified; {time.perf_counter() - start:.0f} s on 2 threads)")
            self.out()

        sets = [
            ("cinpla 32 ch", "cinpla", [data / "cinpla_oebin32/continuous.dat"], ["--raw-channels", "32", "--raw-rate", "30000"]),
            ("locust 4 ch", "locust", [data / "tdc_locust/locust_trial_01.raw", data / "tdc_locust/locust_trial_02.raw"],
             ["--raw-channels", "4", "--raw-rate", "15000"]),
            ("3Brain 36 ch", "biocam", [data / "biocam_36ch/biocam_36ch_19754Hz_minus2048.i16"], ["--raw-channels", "36", "--raw-rate", "19753.774"]),
            ("Open Ephys 16 ch", "oe16", [data / "oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16"],
             ["--raw-channels", "16", "--raw-rate", "40000"]),
        ]
        self.out("Other sets (one archive each; decode one thread, the median of 5 verify runs; estimate = compress --json estimated_stream_bytes / archive bytes - 1)")
        self.out()
        self.out("| set | fast | default | max | default − max | default decode × fast | estimate error default | estimate error max |")
        self.out("|---|---:|---:|---:|---:|---:|---:|---:|")
        n1_row = levels
        self.out(f"| N1 303 files | {n1_row['fast']['ratio']:.4f} | {n1_row['default']['ratio']:.4f} | {n1_row['max']['ratio']:.4f} | "
                 f"{(n1_row['default']['ratio'] / n1_row['max']['ratio'] - 1) * 100:+.2f}% | {n1_row['fast']['decode_s'] / n1_row['default']['decode_s']:.2f} | "
                 f"{(n1_row['default']['estimate'] / n1_row['default']['archive'] - 1) * 100:+.2f}% | "
                 f"{(n1_row['max']['estimate'] / n1_row['max']['archive'] - 1) * 100:+.2f}% |")
        for label, name, inputs, extra in sets:
            r = {level: self.spikey_set(self.spikey, name, inputs, level, 1, extra) for level in ("fast", "default", "max")}
            self.out(f"| {label} | {r['fast']['ratio']:.4f} | {r['default']['ratio']:.4f} ({r['default']['codec']}) | {r['max']['ratio']:.4f} | "
                     f"{(r['default']['ratio'] / r['max']['ratio'] - 1) * 100:+.2f}% | {r['fast']['decode_s'] / r['default']['decode_s']:.2f} | "
                     f"{(r['default']['estimate'] / r['default']['archive'] - 1) * 100:+.2f}% | {(r['max']['estimate'] / r['max']['archive'] - 1) * 100:+.2f}% |")
        self.out()

        if not self.args.skip_wide:
            source = (data / "cinpla_oebin32/continuous.dat").read_bytes()
            wide = self.tmp / "wide.dat"
            with open(wide, "wb") as f:
                for _ in range(40):
                    f.write(source)
            r = self.spikey_set(self.spikey, "wide", [wide], "default", 2, ["--raw-channels", "1024", "--raw-rate", "19531"])
            self.out(f"1024 channels × 19531 Hz (cinpla's file 40 times, read as 1024 channels, {r['duration']:.2f} s), default, 2 threads: "
                     f"ratio {r['ratio']:.4f} ({r['codec']}); encode {r['encode_s']:.1f} s = {r['duration'] / r['encode_s']:.2f}x real time "
                     f"(peak RSS {r['encode_rss']:.0f} MiB); decode (verify) {r['decode_s']:.2f} s = {r['duration'] / r['decode_s']:.2f}x real time "
                     f"(peak RSS {r['decode_rss']:.0f} MiB)")
            wide.unlink()
            self.out()

        if self.args.markdown:
            with open(self.args.markdown, "a") as f:
                f.write("\n".join(self.rows) + "\n")
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--anchors", required=True)
    p.add_argument("--spikey", default="build/host/spikey")
    p.add_argument("--baseline")
    p.add_argument("--skip-wide", action="store_true")
    p.add_argument("--skip-per-file", action="store_true")
    p.add_argument("--markdown")
    Bench(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
