#!/usr/bin/env python3
"""Acquisition formats (issue 23): each folder of ../shared/data/formats that Spikey reads in
its own format (Neuralynx .ncs, Open Ephys legacy .continuous, Blackrock .nsX, Intan RHD, NWB), and
the bundled Intan .rhd, float NWB and paused Blackrock samples,
archived whole at every level and restored byte for byte, against zstd -19 and xz -9 on the
whole files; and the samples alone (as 16-bit WAVs) in Spikey, FLAC -8 and WavPack -hh.

Ratio = original bytes / compressed bytes, every output decoded and compared before it counts.

  python3 bench/format_bench.py --data ../shared/data [--spikey build/host/spikey]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FOLDERS = {  # folder: (extension, header bytes, record prefix bytes, frames per record, record suffix bytes, big-endian)
    "neuralynx_v641_truncated": (".ncs", 16384, 20, 512, 0, False),
    "neuralynx_v551_tetrode": (".ncs", 16384, 20, 512, 0, False),
    "openephys_legacy_1": (".continuous", 1024, 12, 1024, 10, True),
    "blackrock_2_1": (".ns2", 56, 0, None, 0, False),   # one block of 6-channel frames
    "intan_fpc": ("amp-", 0, 0, None, 0, False),         # one int16 channel per amp-*.dat
    "spikeglx_noise4sam": ("extract", 0, 0, None, 0, False),  # the samples via spikey extract, each stream's channels in WAVs of 8
    "spikeglx_np2": ("extract", 0, 0, None, 0, False),
    "openephys_binary_mixed": ("extract", 0, 0, None, 0, False),
    "nwb_tutorial": (None,) * 6,                          # float64 noise: kept whole
    "samples/intan_rhd": (".rhd", 8082, 512, 128, 9408 - 512 - 32 * 256, False),  # the bundled Intan .rhd: 32 planar amplifier channels per block
    "samples/nwb_float": ("extract", 0, 0, None, 0, False),  # the bundled NWB of float32 on a grid (format 12): its int16 codes via spikey extract
    "samples/blackrock_paused": ("extract", 0, 0, None, 0, False),  # the bundled paused NSx 2.3 (format 13): its three packets' samples via spikey extract
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def files_of(folder):
    """Every data file under `folder` by relative path (SOURCE.md left out)."""
    out = []
    for dirpath, _, names in os.walk(folder):
        for n in names:
            rel = os.path.relpath(os.path.join(dirpath, n), folder)
            if rel != "SOURCE.md":
                out.append(rel)
    return sorted(out)


def same_tree(a, b, names):
    return all(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read() for n in names)


def samples_of(path, layout):
    _, header, before, frames, after, big = layout
    data = open(path, "rb").read()
    if layout[0] == ".rhd":  # planar uint16 amplifier channels: interleaved int16 frames of 32 channels
        record = before + 64 * frames + after
        out = bytearray()
        for at in range(header, len(data) - record + 1, record):
            block = [struct.unpack_from(f"<{frames}H", data, at + before + 2 * frames * c) for c in range(32)]
            out += struct.pack(f"<{32 * frames}h", *[block[c][t] - 32768 for t in range(frames) for c in range(32)])
        return bytes(out)
    if frames is None:  # one block after the header
        return data[header:]
    record = before + 2 * frames + after
    out = bytearray()
    for at in range(header, len(data) - record + 1, record):
        block = data[at + before: at + before + 2 * frames]
        if big:
            block = b"".join(block[i + 1: i + 2] + block[i: i + 1] for i in range(0, len(block), 2))
        out += block
    return bytes(out)


def wav(samples, rate, channels=1):
    rate = int(round(rate))
    samples = samples[: len(samples) // (2 * channels) * 2 * channels]
    return (b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16) +
            b"data" + struct.pack("<I", len(samples)) + samples)


def tool_size(encode, decode, src, tmp):
    """Compressed size of src with encode(src, out); decode(out, back) must give src back."""
    out, back = os.path.join(tmp, "t.out"), os.path.join(tmp, "t.back")
    for p in (out, back):
        if os.path.exists(p):
            os.remove(p)
    run(encode(src, out))
    run(decode(out, back))
    if open(back, "rb").read() != open(src, "rb").read():
        raise SystemExit(f"{src}: round trip through {encode(src, out)[0]} differs")
    return os.path.getsize(out)


def samples_wav_bytes(src, back):
    """FLAC/WavPack may rewrite a WAV header; compare the sample bytes."""
    a, b = open(src, "rb").read(), open(back, "rb").read()
    return a[44:] == b[-(len(a) - 44):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--spikey", default="build/host/spikey")
    ap.add_argument("--only", nargs="*", help="these sets alone (names as in FOLDERS)")
    args = ap.parse_args()
    spikey = os.path.abspath(args.spikey)
    rows, sample_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, layout in FOLDERS.items():
            if args.only and name not in args.only:
                continue
            src = os.path.join(ROOT, name) if name.startswith("samples/") else os.path.join(args.data, "formats", name)
            if not os.path.isdir(src):
                print(f"skipping {name}: {src} is absent", file=sys.stderr)
                continue
            name = name.replace("/", "_")
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            names = files_of(src)
            for n in names:
                os.makedirs(os.path.dirname(os.path.join(folder, n)), exist_ok=True)
                shutil.copyfile(os.path.join(src, n), os.path.join(folder, n))
            original = sum(os.path.getsize(os.path.join(folder, n)) for n in names)
            row = {"set": name, "files": len(names), "bytes": original}
            for level in ("fast", "default", "max"):
                archive = os.path.join(tmp, f"{name}_{level}.spikey")
                run([spikey, "compress", folder, "--level", level, "-o", archive, "-f", "-q", "--threads", "2"])
                out = os.path.join(tmp, f"{name}_{level}_out")
                run([spikey, "decompress", archive, "-o", out, "-q"])
                if not same_tree(folder, out, names):
                    raise SystemExit(f"{name} at level {level}: a restored file differs")
                row[level] = original / os.path.getsize(archive)
            z = sum(tool_size(lambda s, o: ["zstd", "-19", "-q", "-f", s, "-o", o], lambda o, b: ["zstd", "-d", "-q", "-f", o, "-o", b],
                              os.path.join(folder, n), tmp) for n in names)
            x = sum(tool_size(lambda s, o: ["sh", "-c", f"xz -9 -c '{s}' > '{o}'"], lambda o, b: ["sh", "-c", f"xz -d -c '{o}' > '{b}'"],
                              os.path.join(folder, n), tmp) for n in names)
            row["zstd"], row["xz"] = original / z, original / x
            rows.append(row)
            if layout[0] is None:
                continue
            # The samples alone: each record file's channel as a mono WAV.
            wav_dir = os.path.join(tmp, name + "_wav")
            os.makedirs(wav_dir)
            sample_bytes = 0
            if layout[0] == "extract":  # the archive's int16 samples, each source's channels as WAVs of 8 (FLAC's limit)
                archive = os.path.join(tmp, f"{name}_default.spikey")
                info = json.loads(run([spikey, "info", "--json", archive]).stdout)
                first = 0
                for k, source in enumerate(info["sources"]):
                    for c in range(first, first + source["channels"], 8):
                        extracted = os.path.join(wav_dir, f"source{k:03d}_{c:05d}.wav")
                        run([spikey, "extract", archive, "-o", extracted, "-q", "--channels", f"{c}-{min(c + 8, first + source['channels']) - 1}"])
                        head = open(extracted, "rb").read(4096)
                        sample_bytes += struct.unpack_from("<I", head, head.index(b"data") + 4)[0]
                    first += source["channels"]
                names = []
                if sample_bytes == 0:  # no channels (a file kept whole)
                    continue
            for n in names:
                if not (n.endswith(layout[0]) or (layout[0] == "amp-" and n.startswith("amp-"))):
                    continue
                rate = {".ncs": 32000, ".continuous": 40000, ".ns2": 1000, "amp-": 30000, ".rhd": 30000}[layout[0]]
                header = open(os.path.join(folder, n), "rb").read(layout[1]).decode("latin-1")
                for line in header.replace(";", "\n").splitlines():
                    if "SamplingFrequency" in line or "sampleRate" in line:
                        rate = float(line.split()[-1].strip("'"))
                s = samples_of(os.path.join(folder, n), layout)
                sample_bytes += len(s)
                if layout[0] == ".rhd":  # FLAC takes at most 8 channels: four WAVs of 8
                    for g in range(4):
                        part = b"".join(s[64 * t + 16 * g: 64 * t + 16 * g + 16] for t in range(len(s) // 64))
                        with open(os.path.join(wav_dir, f"{n}.{g}.wav"), "wb") as f:
                            f.write(wav(part, rate, 8))
                    continue
                with open(os.path.join(wav_dir, n + ".wav"), "wb") as f:
                    f.write(wav(s, rate, 6 if layout[0] == ".ns2" else 1))
            wavs = sorted(os.listdir(wav_dir))
            srow = {"set": name, "bytes": sample_bytes}
            archive = os.path.join(tmp, f"{name}_wavs.spikey")
            run([spikey, "compress", wav_dir, "-o", archive, "-f", "-q", "--threads", "2"])
            srow["spikey default"] = sum(os.path.getsize(os.path.join(wav_dir, w)) for w in wavs) / os.path.getsize(archive)
            for tool, enc, dec in (("flac -8", lambda s, o: ["flac", "-8", "-s", "-f", "--channel-map=none", s, "-o", o], lambda o, b: ["flac", "-d", "-s", "-f", o, "-o", b]),
                                   ("wavpack -hh", lambda s, o: ["wavpack", "-hh", "-q", "-y", s, "-o", o], lambda o, b: ["wvunpack", "-q", "-y", o, "-o", b])):
                total = 0
                for w in wavs:
                    path = os.path.join(wav_dir, w)
                    out, back = os.path.join(tmp, "s.out"), os.path.join(tmp, "s.back.wav")
                    run(enc(path, out))
                    run(dec(out, back))
                    if not samples_wav_bytes(path, back):
                        raise SystemExit(f"{w}: {tool} round trip differs")
                    total += os.path.getsize(out)
                srow[tool] = sum(os.path.getsize(os.path.join(wav_dir, w)) for w in wavs) / total
            sample_rows.append(srow)
    print("Whole folders (every data file; SOURCE.md left out), restored byte for byte:\n")
    print("| set | files | bytes | spikey fast | spikey default | spikey max | zstd -19 | xz -9 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['set']} | {r['files']} | {r['bytes']} | {r['fast']:.4f} | **{r['default']:.4f}** | {r['max']:.4f} | {r['zstd']:.4f} | {r['xz']:.4f} |")
    print("\nThe samples alone (each file's channels as a 16-bit WAV, ratio over the WAV bytes):\n")
    print("| set | sample bytes | spikey default | flac -8 | wavpack -hh |")
    print("|---|---:|---:|---:|---:|")
    for r in sample_rows:
        print(f"| {r['set']} | {r['bytes']} | **{r['spikey default']:.4f}** | {r['flac -8']:.4f} | {r['wavpack -hh']:.4f} |")


if __name__ == "__main__":
    main()
