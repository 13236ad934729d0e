#!/usr/bin/env python3
"""Builds samples/intan_rhd/, an Intan RHX traditional .rhd file around real samples.

The header is the real RHX 3.3 header of ../shared/data/formats/intan_fpc (info.rhd: 30 kHz,
128 frames per data block) with port B's channels marked disabled, as RHX writes it when port B
is switched off; it then enables 32 amplifier channels (A-000..A-031), 3 auxiliary inputs (A
AUX1-3), 1 board ADC input and 1 digital input. The data blocks follow Intan's "RHD data file
formats" application note: per block, 128 int32 timestamps, the amplifier channels (uint16,
offset binary, each channel's 128 samples together), the auxiliary inputs at a quarter of the
rate (32 samples each), the ADC channel, the digital-input word.
Amplifier samples: channels 0-31 of the committed cinpla32 slice (an Intan RHD2000 headstage
recorded through Open Ephys, int16, 0.195 uV/step) plus 32768; auxiliary, ADC and digital
samples: the first frames of intan_fpc's aux-A-AUX1-3 (every fourth sample), board-ANALOG-IN-1
and board-DIGITAL-IN-01 files. 46 whole blocks (5888 frames) and the first 1000 bytes of a 47th
(a recording that stopped mid-block).
"""
import pathlib
import shutil
import struct
import sys

import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data") / "formats" / "intan_fpc"


def channel_enable_offsets(b):
    """(native name, signal type, byte offset of its enabled flag) of every channel in the header."""
    at = 0

    def get(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, b, at)
        at += struct.calcsize("<" + fmt)
        return v

    def qstring():
        nonlocal at
        (n,) = get("I")
        if n == 0xFFFFFFFF:
            return ""
        s = b[at : at + n].decode("utf-16le")
        at += n
        return s

    magic, major, minor = get("Ihh")
    assert magic == 0xC6912702 and major == 3
    get("f"), get("h"), get("6f"), get("h"), get("2f")
    for _ in range(3):
        qstring()
    get("h"), get("h"), qstring()  # temperature sensors, board mode, reference channel
    out = []
    (groups,) = get("h")
    for _ in range(groups):
        qstring(), qstring()
        enabled, channels, _ = get("hhh")
        if enabled and channels > 0:
            for _ in range(channels):
                name = qstring()
                qstring()
                _, _, kind = get("hhh")
                out.append((name, kind, at))
                get("h"), get("hh"), get("4h"), get("2f")
    return out, at


header = bytearray((shared / "info.rhd").read_bytes())
channels, header_size = channel_enable_offsets(header)
assert header_size == len(header)
for name, kind, at in channels:
    if name.startswith("B-"):
        struct.pack_into("<h", header, at, 0)

frames_per_block, blocks = 128, 46
frames = frames_per_block * blocks
amp = np.fromfile(root / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)
amp = (amp[: frames + frames_per_block].astype(np.int32) + 32768).astype("<u2")
aux = [np.fromfile(shared / f"aux-A-AUX{i}.dat", dtype="<u2")[::4] for i in (1, 2, 3)]
adc = np.fromfile(shared / "board-ANALOG-IN-1.dat", dtype="<u2")
din = np.fromfile(shared / "board-DIGITAL-IN-01.dat", dtype="<u2")

body = bytearray()
for k in range(blocks + 1):
    t = slice(k * frames_per_block, (k + 1) * frames_per_block)
    block = bytearray(np.arange(t.start, t.stop, dtype="<i4").tobytes())
    block += amp[t].T.copy().tobytes()
    for a in aux:
        block += a[k * 32 : (k + 1) * 32].tobytes()
    block += adc[t].tobytes() + din[t].tobytes()
    body += block if k < blocks else block[:1000]

out = root / "samples" / "intan_rhd"
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
(out / "intan_rhd_231117_052630.rhd").write_bytes(bytes(header) + bytes(body))
