"""A numcodecs codec, so that Zarr arrays (and SpikeInterface's Zarr recordings) can store int16
time x channel chunks as Spikey archives:

    import zarr, spikey_archive.numcodecs
    z = zarr.open_array(store, mode="w", shape=(n, 384), chunks=(30000, 384), dtype="i2",
                        compressor=spikey_archive.numcodecs.Spikey(sample_rate=30000))

Each Zarr chunk becomes one self-contained, verified archive (`decode` returns the exact
samples). Importing this module registers the codec id "spikey" with numcodecs.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray, ndarray_copy
from numcodecs.registry import register_codec

from . import compress, open as open_archive


class Spikey(Codec):
    """Lossless Spikey coding of int16 chunks shaped [time, channels] (1-D chunks are one channel).

    `sample_rate` is stored in each archive (it does not change the bytes decoded); `level` is
    fast, default or max; `chunk_seconds` is the archive's own random-access granularity.
    """

    codec_id = "spikey"

    def __init__(self, sample_rate: float = 30000.0, level: str = "default", chunk_seconds: float = 1.0, channels: int | None = None):
        if level not in ("fast", "default", "max"):
            raise ValueError("level must be fast, default or max")
        self.sample_rate = float(sample_rate)
        self.level = level
        self.chunk_seconds = float(chunk_seconds)
        self.channels = channels  # for flat buffers: how many channels the samples interleave

    def encode(self, buf):
        array = ensure_ndarray(buf)
        if array.dtype != np.int16:
            raise TypeError(f"spikey codes int16 samples, not {array.dtype}")
        if array.ndim == 1:
            array = array.reshape(-1, self.channels or 1)
        elif array.ndim > 2:
            array = array.reshape(array.shape[0], -1)
        with tempfile.TemporaryDirectory(prefix="spikey-codec-") as tmp:
            path = os.path.join(tmp, "chunk.spikey")
            compress(array, self.sample_rate, path, level=self.level, chunk_seconds=self.chunk_seconds, threads=1)
            with open(path, "rb") as f:
                return f.read()

    def decode(self, buf, out=None):
        data = ensure_contiguous_ndarray(buf)
        with tempfile.TemporaryDirectory(prefix="spikey-codec-") as tmp:
            path = os.path.join(tmp, "chunk.spikey")
            with open(path, "wb") as f:
                f.write(data.tobytes())
            samples = np.asarray(open_archive(path))
        return ndarray_copy(samples, out) if out is not None else samples

    def get_config(self):
        return {"id": self.codec_id, "sample_rate": self.sample_rate, "level": self.level, "chunk_seconds": self.chunk_seconds,
                "channels": self.channels}

    def __repr__(self):
        return f"Spikey(sample_rate={self.sample_rate}, level={self.level!r}, chunk_seconds={self.chunk_seconds})"


register_codec(Spikey)
