#!/usr/bin/env python3
"""Builds the bundled acquisition-folder samples (samples/open_ephys, samples/spikeglx) from the
real Open Ephys recording in ../shared/data/cinpla_oebin32 and the committed cinpla32 slice.

open_ephys/: the recording's own structure.oebin and settings.xml, its continuous.dat and
  timestamps.npy cut to the first 6000 frames (the .npy header rewritten for the new shape), laid
  out as Open Ephys GUI 0.4.4.1 writes a recording folder.
spikeglx/: a SpikeGLX imec AP pair built from the same 32 channels' first 2000 frames plus a
  sync channel (SY0; bit 6 toggling every 500 samples: synthetic) and a .meta written in
  SpikeGLX's key=value form with the real fileSHA1 and fileSizeBytes.
"""
import hashlib
import pathlib
import shutil
import sys

import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent
shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data") / "cinpla_oebin32"
frames = 6000
data = np.fromfile(root / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)

oe = root / "samples" / "open_ephys" / "Record Node 101"
stream = oe / "experiment1" / "recording1" / "continuous" / "Rhythm_FPGA-100.0"
shutil.rmtree(oe.parent, ignore_errors=True)
stream.mkdir(parents=True)
shutil.copy(shared / "settings.xml", oe / "settings.xml")
shutil.copy(shared / "structure.oebin", oe / "experiment1" / "recording1" / "structure.oebin")
data[:frames].tofile(stream / "continuous.dat")
np.save(stream / "timestamps.npy", np.load(shared / "timestamps.npy")[:frames])

sg = root / "samples" / "spikeglx"
shutil.rmtree(sg, ignore_errors=True)
sg.mkdir(parents=True)
n = 2000
sync = ((np.arange(n) // 500) % 2 * 64).astype("<i2")
ap = np.hstack([data[:n], sync[:, None]]).astype("<i2")
binary = ap.tobytes()
(sg / "run_g0_t0.imec0.ap.bin").write_bytes(binary)
imro = "(0,32)" + "".join(f"({i} 0 0 500 250 1)" for i in range(32))
chan_map = "(32,0,1)" + "".join(f"(AP{i};{i}:{i})" for i in range(32)) + "(SY0;32:32)"
meta = [
    "acqApLfSy=384,384,1", "appVersion=20230425", "fileCreateTime=2021-02-15T10:00:00",
    "fileName=D:/run_g0/run_g0_imec0/run_g0_t0.imec0.ap.bin",
    f"fileSHA1={hashlib.sha1(binary).hexdigest().upper()}", f"fileSizeBytes={len(binary)}",
    f"fileTimeSecs={n / 30000:.6f}", "firstSample=0", "imAiRangeMax=0.6", "imAiRangeMin=-0.6", "imMaxInt=512",
    "imSampRate=30000", "nSavedChans=33", "snsApLfSy=32,0,1", "snsSaveChanSubset=0:31,768", "typeImEnabled=1",
    f"~imroTbl={imro}", f"~snsChanMap={chan_map}",
]
(sg / "run_g0_t0.imec0.ap.meta").write_bytes(("\r\n".join(meta) + "\r\n").encode())
