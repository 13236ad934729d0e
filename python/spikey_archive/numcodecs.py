"""A numcodecs codec, so that Zarr arrays (and SpikeInterface's Zarr recordings) can store int16
time x channel chunks as Spikey archives:

    import zarr, spikey_archive.numcodecs
    z = zarr.open_array(store, mode="w", shape=(n, 384), chunks=(30000, 384), dtype="i2",
                        compressor=spikey_archive.numcodecs.Spikey(sample_rate=30000))

Each Zarr chunk becomes one self-contained archive, encoded, verified and decoded in memory
(`decode` returns the exact samples; no file is written). Importing this module registers the codec id "spikey" with
numcodecs (so does installing the package: the `numcodecs.codecs` entry point).

Training a predictor per chunk costs time and, for short chunks, ratio: give `model` (a file
made by `spikey_archive.train` or `spikey train` on a representative stretch of the recording)
and every chunk encodes with it. Decoding never needs the model (each archive embeds its
predictors), so the array stays readable anywhere. `threads` encodes and decodes a chunk on
that many threads (default: all cores).
"""
from __future__ import annotations

import os

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray, ndarray_copy
from numcodecs.registry import register_codec

from . import _spikey


class Spikey(Codec):
    """Lossless Spikey coding of int16 chunks shaped [time, channels] (1-D chunks are one channel).

    `sample_rate` is stored in each archive (it does not change the bytes decoded); `level` is
    fast, default or max; `chunk_seconds` is the archive's own random-access granularity.
    """

    codec_id = "spikey"

    def __init__(self, sample_rate: float = 30000.0, level: str = "default", chunk_seconds: float = 1.0, channels: int | None = None,
                 model: str | None = None, threads: int | None = None):
        if level not in ("fast", "default", "max"):
            raise ValueError("level must be fast, default or max")
        self.sample_rate = float(sample_rate)
        self.level = level
        self.chunk_seconds = float(chunk_seconds)
        self.channels = channels  # for flat buffers: how many channels the samples interleave
        self.model = None if model is None else os.fspath(model)  # encoding only
        self.threads = threads

    def encode(self, buf):
        array = ensure_ndarray(buf)
        if array.dtype != np.int16:
            raise TypeError(f"spikey codes int16 samples, not {array.dtype}")
        if array.ndim == 1:
            array = array.reshape(-1, self.channels or 1)
        elif array.ndim > 2:
            array = array.reshape(array.shape[0], -1)
        # Encoded and verified in memory: no file is written.
        kwargs = {} if self.threads is None else {"threads": self.threads}
        return _spikey.compress_array_to_bytes(np.ascontiguousarray(array), self.sample_rate, self.level, self.chunk_seconds,
                                               model="" if self.model is None else self.model, **kwargs)

    def decode(self, buf, out=None):
        data = ensure_contiguous_ndarray(buf)
        kwargs = {} if self.threads is None else {"threads": self.threads}
        samples = _spikey.decode_archive_bytes(data.tobytes(), **kwargs)
        return ndarray_copy(samples, out) if out is not None else samples

    def get_config(self):
        return {"id": self.codec_id, "sample_rate": self.sample_rate, "level": self.level, "chunk_seconds": self.chunk_seconds,
                "channels": self.channels, "model": self.model, "threads": self.threads}

    def __repr__(self):
        return f"Spikey(sample_rate={self.sample_rate}, level={self.level!r}, chunk_seconds={self.chunk_seconds})"


register_codec(Spikey)
