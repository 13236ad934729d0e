#!/usr/bin/env python3
"""Builds samples/nwb_float/session.nwb: an NWB-shaped HDF5 file whose ElectricalSeries holds
float32 microvolts that are int16 codes times 0.195 (computed in float32, as a converter from an
Intan recording writes them).

The codes are channels 0-7, frames 0-2999 of the committed cinpla32 slice (real Intan RHD2000
samples, 0.195 uV/step). Layout as the NWB 2.x schema names it: /acquisition/ElectricalSeries
(neurodata_type ElectricalSeries) with `data` (time, channels; contiguous float32, `conversion`
1e-6: volts per unit) and `starting_time` (0.0, `rate` 30000). Needs h5py.
"""
import pathlib

import h5py
import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent
codes = np.fromfile(root / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)[:3000, :8]
out = root / "samples" / "nwb_float"
out.mkdir(parents=True, exist_ok=True)
with h5py.File(out / "session.nwb", "w", libver="earliest") as f:
    f.attrs["nwb_version"] = "2.5.0"
    series = f.create_group("acquisition/ElectricalSeries")
    series.attrs["neurodata_type"] = "ElectricalSeries"
    data = series.create_dataset("data", data=codes.astype(np.float32) * np.float32(0.195))
    data.attrs["conversion"] = np.float32(1e-6)
    data.attrs["unit"] = "volts"
    start = series.create_dataset("starting_time", data=0.0)
    start.attrs["rate"] = 30000.0
