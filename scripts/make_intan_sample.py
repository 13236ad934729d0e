#!/usr/bin/env python3
"""Builds samples/intan/, an Intan RHX "one file per channel" folder around real samples:
info.rhd is the real RHX 3.3 header of ../shared/data/formats/intan_fpc (30 kHz, ports A and B);
amp-A-000.dat .. amp-A-003.dat are channels 0-3 of the committed cinpla32 slice (an Intan
RHD2000 headstage recorded through Open Ephys: real int16 amplifier samples, 0.195 uV/step);
time.dat is int32 sample numbers 0..5999, as RHX writes them.
"""
import pathlib
import shutil
import sys

import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data") / "formats" / "intan_fpc"
data = np.fromfile(root / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)
out = root / "samples" / "intan"
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
shutil.copy(shared / "info.rhd", out / "info.rhd")
for c in range(4):
    data[:, c].astype("<i2").tofile(out / f"amp-A-{c:03d}.dat")
np.arange(len(data), dtype="<i4").tofile(out / "time.dat")
