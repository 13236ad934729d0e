#!/usr/bin/env python3
"""Corpus benchmark: spikey and the usual lossless tools on the same files, in the same run.

Every codec's output is decoded and compared byte for byte with its input before its numbers
count. Ratio is sum of original file bytes / sum of compressed bytes. MB/s counts original bytes
(1 MB = 1e6 B). "x real time" is the recording's duration (longest channel / sample rate)
divided by the wall time: how many times faster than the recording was made.

Usage:
  bench/corpus_bench.py ../shared/data/neuralink                      # a directory of WAVs
  bench/corpus_bench.py rec.dat --raw-channels 32 --raw-rate 30000     # headerless int16
Options: --spikey PATH (default build/host/spikey), --threads N (extra spikey row),
         --chunk-seconds S, --skip TOOL,... , --markdown FILE (append the table).
Only the Python standard library is used.
"""

import argparse
import array
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wav_layout(path):
    """(channels, rate, data offset, frames) of a 16-bit PCM WAV, or None."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, channels, rate, bits = 12, None, None, None
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
        elif tag == b"data":
            if bits != 16:
                return None
            size = min(size, len(data) - pos - 8)
            return channels, rate, pos + 8, size // (2 * channels)
        pos += 8 + size + (size & 1)
    return None


def n1_codes_wav(src, dst):
    """Writes the N1 10-bit codes (value >> 6, i.e. u - 512) of a mono WAV as a 16-bit WAV.
    Returns False when a value is off the N1 grid (then the codes would not be lossless)."""
    channels, rate, offset, frames = wav_layout(src)
    raw = Path(src).read_bytes()
    values = array.array("h")
    values.frombytes(raw[offset:offset + frames * channels * 2])
    codes = array.array("h", (v >> 6 for v in values))
    for v, c in zip(values, codes):
        u = c + 512
        if int((u * 65535 - 32768 * 1023) / 1023) != v:
            return False
    header = raw[:offset]
    Path(dst).write_bytes(header + codes.tobytes())
    return True


def run(command, **kwargs):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def same_files(a_dir, b_dir, names):
    for name in names:
        if Path(a_dir, name).read_bytes() != Path(b_dir, name).read_bytes():
            raise SystemExit(f"round trip mismatch: {name}")


def tree_size(directory, suffix):
    return sum(p.stat().st_size for p in Path(directory).iterdir() if p.name.endswith(suffix))


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="spikey-bench-"))
        self.inputs = self.collect_inputs()
        self.original_bytes = sum(p.stat().st_size for p in self.inputs)
        self.duration = self.recording_duration()
        self.rows = []
        # Flat copies: some tools write next to their inputs.
        self.flat = self.work / "in"
        self.flat.mkdir()
        self.names = []
        for i, p in enumerate(self.inputs):
            name = f"{i:05d}_{p.name}"
            shutil.copyfile(p, self.flat / name)
            self.names.append(name)

    def collect_inputs(self):
        paths = []
        for a in self.args.inputs:
            p = Path(a)
            if p.is_dir():
                paths += sorted((q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == ".wav"),
                                key=lambda q: q.relative_to(p).as_posix())
            else:
                paths.append(p)
        if not paths:
            raise SystemExit("no inputs")
        return paths

    def recording_duration(self):
        if self.args.raw_channels:
            return max(p.stat().st_size // (2 * self.args.raw_channels) for p in self.inputs) / self.args.raw_rate
        layouts = [wav_layout(p) for p in self.inputs]
        if any(l is None for l in layouts):
            raise SystemExit("inputs must be 16-bit PCM WAVs (or use --raw-channels/--raw-rate)")
        return max(frames / rate for _, rate, _, frames in layouts)

    def add(self, codec, compressed_bytes, encode_s, decode_s, note=""):
        self.rows.append((codec, compressed_bytes, encode_s, decode_s, note))
        print(f"  {codec}: ratio {self.original_bytes / compressed_bytes:.4f}", file=sys.stderr)

    def skip(self, tool):
        return tool in self.args.skip or shutil.which(tool) is None and tool != "spikey"

    # ---- codecs ------------------------------------------------------------------------

    def spikey(self, threads):
        out = self.work / f"spikey{threads}"
        out.mkdir()
        archive = out / "a.spikey"
        raw = ["--raw-channels", str(self.args.raw_channels), "--raw-rate", str(self.args.raw_rate)] if self.args.raw_channels else []
        enc = timed(lambda: run([self.args.spikey, "compress", *[str(self.flat / n) for n in self.names], "-o", str(archive),
                                 "--threads", str(threads), "--chunk-seconds", str(self.args.chunk_seconds),
                                 "--level", self.args.level, "--no-verify", "-q", *raw]))
        dec = timed(lambda: run([self.args.spikey, "decompress", str(archive), "-o", str(out / "d"), "--threads", str(threads), "-q"]))
        same_files(self.flat, out / "d", self.names)
        self.add(f"spikey --level {self.args.level}, {threads} thread{'s' if threads > 1 else ''}", archive.stat().st_size, enc, dec)

    def per_file_tool(self, codec, encode, decode, ext, names=None, source=None, note=""):
        """encode(list of input paths, out dir) and decode(list of compressed paths, out dir)."""
        names = names or self.names
        source = source or self.flat
        out = self.work / codec.replace(" ", "_").replace("/", "_")
        (out / "c").mkdir(parents=True)
        (out / "d").mkdir()
        enc = timed(lambda: encode([source / n for n in names], out / "c"))
        compressed = sorted((out / "c").iterdir())
        dec = timed(lambda: decode(compressed, out / "d"))
        same_files(source, out / "d", names)
        self.add(codec, tree_size(out / "c", ext), enc, dec, note)

    def general_purpose(self, tool, level, ext, extra=()):
        def encode(paths, out):
            for p in paths:
                with open(out / (p.name + ext), "wb") as f:
                    subprocess.run([tool, f"-{level}", *extra, "-c", str(p)], check=True, stdout=f)

        def decode(paths, out):
            for p in paths:
                with open(out / p.name[: -len(ext)], "wb") as f:
                    subprocess.run([tool, "-d", *extra, "-c", str(p)], check=True, stdout=f)

        self.per_file_tool(f"{tool} -{level}", encode, decode, ext)

    def split_channels(self):
        """Raw inputs as one mono raw file per channel (how FLAC must take more than 8 channels)."""
        out = self.work / "split"
        out.mkdir()
        names, total = [], 0
        channels = self.args.raw_channels
        for n in self.names:
            data = array.array("h")
            raw = (self.flat / n).read_bytes()
            whole = len(raw) // (2 * channels) * 2 * channels
            data.frombytes(raw[:whole])
            for c in range(channels):
                name = f"{n}.ch{c:04d}.raw"
                (out / name).write_bytes(data[c::channels].tobytes())
                names.append(name)
            total += len(raw) - whole
        if total:
            print("  flac per channel: inputs have partial frames; skipped", file=sys.stderr)
            return None, None
        return out, names

    def flac(self, names, source, label, note=""):
        raw = []
        if self.args.raw_channels:
            channels = self.args.raw_channels
            if channels > 8:
                source, names = self.split_channels()
                if source is None:
                    return
                channels, label = 1, f"{label}, one file per channel"
                note = note or "FLAC holds at most 8 channels: each channel coded as its own mono file"
            raw = ["--force-raw-format", "--endian=little", "--sign=signed", f"--channels={channels}",
                   "--bps=16", f"--sample-rate={int(round(self.args.raw_rate))}"]

        def encode(paths, out):
            run(["flac", "-8", "-s", "-f", *raw, f"--output-prefix={out}/", *[str(p) for p in paths]])

        def decode(paths, out):
            for p in paths:
                target = out / p.name[: -len(".flac")]
                run(["flac", "-d", "-s", "-f", *(["--force-raw-format", "--endian=little", "--sign=signed"] if raw else []),
                     "-o", str(target), str(p)])

        # flac names its output by replacing the input's extension with .flac
        def encode_named(paths, out):
            encode(paths, out)
            for p in paths:
                produced = out / (p.stem + ".flac")
                produced.rename(out / (p.name + ".flac"))

        self.per_file_tool(label, encode_named, decode, ".flac", names, source, note)

    def wavpack(self, names, source, label, note=""):
        raw = [f"--raw-pcm={int(round(self.args.raw_rate))},16s,{self.args.raw_channels},le"] if self.args.raw_channels else []

        def encode(paths, out):
            for p in paths:
                run(["wavpack", "-q", "-y", "-hhx6", *raw, str(p), "-o", str(out / (p.name + ".wv"))])

        def decode(paths, out):
            for p in paths:
                run(["wvunpack", "-q", "-y", *(["--raw"] if raw else []), str(p), "-o", str(out / p.name[: -len(".wv")])])

        self.per_file_tool(label, encode, decode, ".wv", names, source, note)

    def codes_variants(self):
        """FLAC and WavPack on the N1 10-bit codes, where every file is an N1 WAV."""
        if self.args.raw_channels:
            return
        codes_dir = self.work / "codes"
        codes_dir.mkdir()
        for n in self.names:
            layout = wav_layout(self.flat / n)
            if layout[0] != 1 or not n1_codes_wav(self.flat / n, codes_dir / n):
                print("  10-bit code variants: skipped (not all inputs are N1 WAVs)", file=sys.stderr)
                return
        note = "10-bit codes rows: input converted to the N1 codes first; ratio against the original WAV bytes"
        if not self.skip("flac"):
            self.flac(self.names, codes_dir, "flac -8, 10-bit codes", note)
        if not self.skip("wavpack"):
            self.wavpack(self.names, codes_dir, "wavpack -hhx6, 10-bit codes", note)

    def run_all(self):
        print(f"{len(self.inputs)} file(s), {self.original_bytes} bytes, {self.duration:.3f} s", file=sys.stderr)
        self.spikey(1)
        if self.args.threads > 1:
            self.spikey(self.args.threads)
        if not self.skip("flac"):
            self.flac(self.names, self.flat, "flac -8")
        if not self.skip("wavpack"):
            self.wavpack(self.names, self.flat, "wavpack -hhx6")
        self.codes_variants()
        for tool, level, ext, extra in (("zstd", 19, ".zst", ("-q", "--single-thread")), ("xz", 9, ".xz", ("-T1",)),
                                        ("bzip2", 9, ".bz2", ())):
            if not self.skip(tool):
                self.general_purpose(tool, level, ext, extra)

    def table(self):
        mb = self.original_bytes / 1e6
        lines = [f"Input: {', '.join(self.args.inputs)} ({len(self.inputs)} files, {self.original_bytes:,} bytes, "
                 f"{self.duration:.3f} s)", "",
                 "| codec | ratio | encode MB/s | decode MB/s | encode x real time | decode x real time |",
                 "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for codec, size, enc, dec, note in self.rows:
            lines.append(f"| {codec} | {self.original_bytes / size:.4f} | {mb / enc:.1f} | {mb / dec:.1f} | "
                         f"{self.duration / enc:.1f} | {self.duration / dec:.1f} |")
        notes = sorted({note for *_, note in self.rows if note})
        if notes:
            lines += [""] + [f"- {n}" for n in notes]
        return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--spikey", default=str(Path(__file__).resolve().parent.parent / "build" / "host" / "spikey"))
    parser.add_argument("--raw-channels", type=int)
    parser.add_argument("--raw-rate", type=float)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-seconds", type=float, default=1.0)
    parser.add_argument("--level", default="default")
    parser.add_argument("--skip", default="", help="comma-separated tools to leave out")
    parser.add_argument("--markdown", help="append the table to this file")
    args = parser.parse_args()
    args.skip = set(filter(None, args.skip.split(",")))
    if bool(args.raw_channels) != bool(args.raw_rate):
        parser.error("--raw-channels and --raw-rate go together")
    bench = Bench(args)
    try:
        bench.run_all()
        table = bench.table()
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n\n")


if __name__ == "__main__":
    main()
