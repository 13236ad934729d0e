#!/usr/bin/env python3
"""The figures of a device check (scripts/device_check.sh) as Markdown, from what its steps left
in the log folder: CLI parity reports, gpu_bench JSON, the GPU trainers' recorded times. Prints
only what is there, so a run cut off early still gives the figures of its finished steps."""
import csv
import json
import pathlib
import re
import sys


def print_table(title, header, rule, rows):
    """A Markdown table under a title line, when it has rows."""
    if rows:
        print(title)
        print(header)
        print(rule)
        print("\n".join(rows))


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cli_parity(logs):
    lines = []
    for cpu_path in sorted(logs.glob("*.cpu.json")):
        name = cpu_path.name[: -len(".cpu.json")]
        cpu, gpu = load(cpu_path), load(logs / f"{name}.gpu.json")
        if not cpu:
            continue
        row = f"| {name} | {cpu['codec']} | {cpu['ratio']:.4f} | {cpu['encode_mb_per_s']:.1f}"
        row += f" | {gpu['encode_mb_per_s']:.1f} | {gpu['backend']} |" if gpu else " | – | – |"
        lines.append(row)
    print_table("\n## CLI parity (whole compress, training included; MB/s of original bytes)\n",
                "| run | codec | ratio | CPU MB/s | GPU MB/s | GPU backend |", "| --- | --- | ---: | ---: | ---: | --- |", lines)
    phases = []
    for cpu_path in sorted(logs.glob("*.cpu.json")):
        name = cpu_path.name[: -len(".cpu.json")]
        cpu, gpu = load(cpu_path), load(logs / f"{name}.gpu.json")
        if not cpu or not gpu or not cpu.get("phase_seconds"):
            continue
        gpu_phases = {p["phase"]: p["seconds"] for p in gpu.get("phase_seconds", [])}
        cells = [f"{p['phase']} {p['seconds']:.3f} / {gpu_phases.get(p['phase'], 0):.3f}" for p in cpu["phase_seconds"]]
        phases.append(f"| {name} | {cpu['encode_seconds']:.3f} / {gpu['encode_seconds']:.3f} | {'; '.join(cells)} |")
    print_table("\nPhases, seconds on the CPU backend / the CUDA backend:\n", "| run | whole compress | phases |", "| --- | --- | --- |", phases)


def bench(logs):
    for path in sorted(logs.glob("bench_*.json"), key=lambda p: (p.name != "bench_fast.json", p.name)):
        b = load(path)
        if not b:
            continue
        gb = b["sample_bytes"] / 1e9
        print(f"\n## gpu_bench ({path.stem[len('bench_'):]}): {b['codec']}, {b['device']}, adapting form {b.get('adapting_form', 'warp')}\n")
        print(f"{b['sample_bytes'] / 1e6:.1f} MB of samples, {b['duration_seconds']:.1f} s of recording, {b['chunks']} chunks in "
              f"{b['batches']} batches; median of {b['iterations']} passes after a parity pass. Reference CPU compress "
              f"(training + encode, all threads): {b['cpu_compress_seconds_all_threads']:.2f} s.\n")
        print("| what | ms | GB/s | x real time |")
        print("| --- | ---: | ---: | ---: |")
        for what, seconds in b["seconds"].items():
            rate = gb / seconds if seconds > 0 else 0
            real = b["duration_seconds"] / seconds if seconds > 0 else 0
            print(f"| {what} | {seconds * 1e3:.2f} | {rate:.3f} | {real:.0f} |")
        if "ceilings_gb_per_s" in b:
            c = b["ceilings_gb_per_s"]
            print(f"\nCeilings, GB/s: DRAM {c['dram_theoretical']:.0f} theoretical, device-to-device copy "
                  f"{c['device_to_device_copy']:.0f} (read + write), pinned host-to-device {c['host_to_device_pinned']:.1f}, "
                  f"device-to-host {c['device_to_host_pinned']:.1f}.")


def training(logs):
    record = load(logs / "test_gpu_training.json")
    if not record:
        return
    rows = []
    for suite in record.get("testsuites", []):
        for test in suite.get("testsuite", []):
            for key, value in test.items():
                m = re.fullmatch(r"(gru_)?seconds_cpu_gpu_(\d+)([fq])", key)
                if m:
                    cpu, gpu = (float(v) for v in str(value).split())
                    kind = "GRU" if m.group(1) else "ReLU"
                    rows.append(f"| {kind} | {m.group(2)} | {'quantized' if m.group(3) == 'q' else 'float'} | {cpu:.3f} | {gpu:.3f} |")
    print_table("\n## Network training: seconds on one CPU thread and in the GPU kernel\n", "| projector | hidden | epochs | CPU s | GPU s |",
                "| --- | ---: | --- | ---: | ---: |", rows)


SECONDS_PER_UNIT = {"nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3, "ms": 1e-3, "second": 1.0, "s": 1.0}


def kernels(logs):
    """ncu's gpu__time_duration per launch (CSV), summed per kernel."""
    for path in sorted(logs.glob("ncu_*.csv")):
        lines = path.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
        if start is None:
            continue
        totals = {}
        for row in csv.DictReader(lines[start:]):
            if row.get("Metric Name") != "gpu__time_duration.sum":
                continue
            name = row["Kernel Name"].split("(")[0].replace("void ", "").strip()
            seconds = float(row["Metric Value"].replace(",", "")) * SECONDS_PER_UNIT.get(row.get("Metric Unit", "nsecond"), 1e-9)
            count, total = totals.get(name, (0, 0.0))
            totals[name] = (count + 1, total + seconds)
        if not totals:
            continue
        everything = sum(t for _, t in totals.values())
        print(f"\n## Kernels under ncu ({path.stem[len('ncu_'):]}): one parity pass and one timed pass of gpu_bench\n")
        print("| kernel | launches | ms | share |")
        print("| --- | ---: | ---: | ---: |")
        for name, (count, total) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
            if total / everything >= 0.002:
                print(f"| {name[:80]} | {count} | {total * 1e3:.2f} | {100 * total / everything:.1f}% |")
        print(f"| all kernels | {sum(c for c, _ in totals.values())} | {everything * 1e3:.2f} | |")


def main():
    logs = pathlib.Path(sys.argv[1])
    cli_parity(logs)
    bench(logs)
    training(logs)
    kernels(logs)


if __name__ == "__main__":
    main()
