"""Spikey archives from Python: NumPy windows without decoding whole files, and compression.

    import spikey_archive as spikey        # pip install spikey-archive
    r = spikey.open("session.spikey")
    r.shape, r.sample_rate, r.channel_names
    window = r[30000:60000, [0, 7, 12]]      # int16 [samples, channels]; reads only those chunks
    spikey.compress(array, 30000, "rec.spikey", level="max")

Reading is the CPU reference decoder (the same code as `spikey extract`); the GIL is released
while it decodes, so threads can read windows in parallel.
"""
from __future__ import annotations

import operator
import os

import numpy as np

from . import _spikey
from ._spikey import ArchiveError, InputError, __version__, _Reader, compress_array

__all__ = ["open", "compress", "train", "info", "verify", "decompress", "extract", "Reader", "ArchiveError", "InputError", "__version__"]


class Reader:
    """A Spikey archive as a read-only [samples, channels] int16 array (like mtscomp's Reader)."""

    @property
    def dtype(self) -> np.dtype:
        """int16, or uint16 when every channel came from unsigned 16-bit samples."""
        unsigned = self._reader.channels > 0 and len(self._unsigned) == self._reader.channels
        return np.dtype(np.uint16 if unsigned else np.int16)

    def _read(self, start, end, channels, threads):
        # Channels stored from uint16 samples (value - 32768) come back as uint16 when a read
        # holds only such channels; a read that mixes them with signed ones gives the stored int16.
        data = self._reader.read(start, end, channels, threads)
        if channels and all(c in self._unsigned for c in channels):
            return (data ^ np.int16(-32768)).view(np.uint16)
        return data

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        self._reader = _Reader(os.fspath(path))
        self._unsigned = set(self._reader.unsigned_channels)
        self.path = os.fspath(path)
        self.threads = threads

    @property
    def shape(self) -> tuple[int, int]:
        return (self._reader.samples, self._reader.channels)

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self._reader.samples

    @property
    def sample_rate(self) -> float:
        """The archive's rate (its fastest stream's); see `channel_rates` for streams at others."""
        return self._reader.sample_rate

    @property
    def channel_names(self) -> list[str]:
        return self._reader.channel_names

    @property
    def channel_lengths(self) -> list[int]:
        """Samples of each channel (channels may differ in length; shape[0] is the longest)."""
        return self._reader.channel_lengths

    @property
    def bit_volts(self) -> list[float | None]:
        """Physical size of one int16 step per channel, in `units` (Open Ephys bit_volts, SpikeGLX
        gain); None where the recording did not say (WAV and raw inputs)."""
        return self._reader.bit_volts

    @property
    def units(self) -> list[str]:
        """Units of `bit_volts` per channel (e.g. "uV"); empty where unknown."""
        return self._reader.units

    @property
    def channel_rates(self) -> list[float]:
        """Samples per second of each channel: `sample_rate`, except for streams recorded at
        another rate (a SpikeGLX LF or Open Ephys LFP stream beside the AP one). Rows index
        samples, so one read takes channels of one rate (ValueError otherwise)."""
        return self._reader.channel_rates

    @property
    def sync_channels(self) -> list[int]:
        """Sync and digital-word channels (SpikeGLX SY/XD): bitfields, not signals."""
        return self._reader.sync_channels

    @property
    def snippet_channels(self) -> list[int]:
        """Channels of spike waveforms one after another (a Blackrock .nev's): their rows count
        waveform samples, not time, so a read takes them alone (ValueError otherwise)."""
        return self._reader.snippet_channels

    @property
    def duration_seconds(self) -> float:
        """The longest channel's duration at its own rate (snippet channels left out)."""
        return self._reader.duration_seconds

    @property
    def chunk_samples(self) -> int:
        return self._reader.chunk_samples

    @property
    def lost_chunks(self) -> list[int]:
        """Chunks a salvage could not recover (empty for a normal archive)."""
        return self._reader.lost_chunks

    @property
    def damage(self) -> list[str]:
        """Damage that opening worked around (format 10: a damaged file header or metadata section
        read from the metadata copy, or a damaged copy); empty for an intact archive."""
        return self._reader.damage

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, tuple) or isinstance(cols, tuple):
            raise IndexError("too many indices: a Spikey archive is 2-dimensional")
        channels, drop_channel_axis = self._channels(cols)
        # Like NumPy, slices clip to the data: here to the shortest requested channel.
        lengths = self._reader.channel_lengths
        limit = min((lengths[c] for c in channels), default=self.shape[0])
        if isinstance(rows, slice):
            start, stop, step = rows.indices(limit)
            if step > 0:
                data = self._read(start, max(start, stop), channels, self.threads)[::step]
            else:  # negative step: read the covered range forwards, then reverse
                lo, hi = stop + 1, start + 1
                data = self._read(lo, max(lo, hi), channels, self.threads)[::-1][:: -step]
            return data[:, 0] if drop_channel_axis else data
        try:
            t = operator.index(rows)
        except TypeError:
            rows = np.asarray(rows)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            rows = np.where(rows < 0, rows + self.shape[0], rows)
            if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
                raise IndexError("sample index out of range")
            lo, hi = (int(rows.min()), int(rows.max()) + 1) if rows.size else (0, 0)
            data = self._read(lo, hi, channels, self.threads)[rows - lo]
            return data[:, 0] if drop_channel_axis else data
        if t < 0:
            t += self.shape[0]
        if not 0 <= t < self.shape[0]:
            raise IndexError(f"sample {t} is out of range for {self.shape[0]} samples")
        data = self._read(t, t + 1, channels, self.threads)[0]
        return data[0] if drop_channel_axis else data

    def _channel_of_name(self, name):
        try:
            return self.channel_names.index(name)
        except ValueError:
            raise KeyError(f"no channel named {name!r} (names look like {self.channel_names[0]!r})") from None

    def _channels(self, cols):
        n = self.shape[1]
        if isinstance(cols, slice):
            return list(range(n))[cols], False
        # Channels by name too: r[:, "SY0"], r[:, ["AP0", "AP7"]] (SpikeGLX, Open Ephys names).
        if isinstance(cols, str):
            return [self._channel_of_name(cols)], True
        if isinstance(cols, (list, tuple)) and cols and all(isinstance(c, str) for c in cols):
            return [self._channel_of_name(c) for c in cols], False
        try:
            c = operator.index(cols)
        except TypeError:
            c = None
        if c is not None:
            if c < 0:
                c += n
            if not 0 <= c < n:
                raise IndexError(f"channel {c} is out of range for {n} channels")
            return [c], True
        cols = np.asarray(cols)
        if cols.dtype == bool:
            cols = np.flatnonzero(cols)
        chosen = [int(c) + n if int(c) < 0 else int(c) for c in cols.ravel()]
        for c in chosen:
            if not 0 <= c < n:
                raise IndexError(f"channel {c} is out of range for {n} channels")
        return chosen, False

    def __array__(self, dtype=None):
        data = self[:, :]
        return data if dtype is None else data.astype(dtype)

    def __repr__(self) -> str:
        return f"<spikey.Reader {self.path!r}: {self.shape[0]} samples x {self.shape[1]} channels at {self.sample_rate} Hz>"


def open(path: str | os.PathLike, threads: int = 1) -> Reader:  # noqa: A001 (mirrors mtscomp/np.load style)
    """Opens an archive for random-access reads. Raises ArchiveError for a damaged archive."""
    return Reader(path, threads)


def _channel_labels(channels: int, channel_names, bit_volts) -> tuple[list[str], list[float]]:
    """Channel names and gains for the metadata, checked against the channel count (empty lists:
    not given)."""
    names = [] if channel_names is None else [str(n) for n in channel_names]
    if names and len(names) != channels:
        raise ValueError(f"{len(names)} channel names for {channels} channels")
    if bit_volts is None:
        gains = []
    elif np.ndim(bit_volts) == 0:
        gains = [float(bit_volts)] * channels
    else:
        gains = [float(g) for g in bit_volts]
        if len(gains) != channels:
            raise ValueError(f"{len(gains)} gains for {channels} channels")
    return names, gains


def compress(array, sample_rate: float, path: str | os.PathLike, level: str = "default", chunk_seconds: float | None = None,
             threads: int | None = None, overwrite: bool = False, channel_names=None, bit_volts=None, units: str = "",
             model: str | os.PathLike | None = None) -> dict:
    """Compresses a [samples, channels] array of 16-bit values into an archive at `path`.

    int16 arrays are taken as they are, and uint16 arrays (offset binary, as Intan's auxiliary
    and ADC channels) as unsigned samples: stored as value - 32768, read back as uint16, and
    restored byte for byte. Other integer arrays (int32, int64, ...) only when every value fits
    int16, and are stored as int16 (a ValueError names the first value that does not: lossless
    means exactly these values). `channel_names`, `bit_volts` (the physical
    size of one step, per channel or one for all) and `units` (of bit_volts, e.g. "uV") go into
    the archive's metadata, as `spikey info` and `Reader.channel_names/bit_volts/units` show them.
    `chunk_seconds` is the archive's random-access granularity (default, as `spikey compress`: one
    second, and at least 4096 samples where a second holds fewer).
    `model` (a file from `train` or `spikey train`) encodes with its predictors instead of training
    on this array (`spikey compress --model`): faster, and better for short arrays of an implant
    whose model was trained on more data. The archive still decodes alone.

    The archive holds one headerless source file, `<path stem>.bin` (interleaved int16), so
    `spikey decompress` gives the int16 bytes back; the archive is verified by a full decode
    before it takes its name. Returns the compress report (ratio, sizes, codec).
    """
    array = np.asarray(array)
    unsigned = array.dtype == np.uint16
    if unsigned:
        # Kept as the uint16 bytes they are, marked unsigned: stored as value - 32768, restored
        # and read back as uint16 (SPEC §4.2).
        array = array.view(np.int16)
    elif array.dtype != np.int16:
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"expected integer samples, got {array.dtype} (convert explicitly: lossless means exactly these values)")
        outside = np.flatnonzero((array < -32768) | (array > 32767)) if array.size else np.array([], dtype=np.int64)
        if outside.size:
            where = np.unravel_index(outside[0], array.shape)
            raise ValueError(f"value {array.flat[outside[0]]} at {tuple(int(i) for i in where)} does not fit int16; "
                             f"spikey stores 16-bit samples")
        array = array.astype(np.int16)
    if array.ndim == 1:
        array = array[:, None]
    channels = array.shape[1] if array.ndim == 2 else 0
    names, gains = _channel_labels(channels, channel_names, bit_volts)
    path = os.fspath(path)
    stem = os.path.basename(path)
    stem = stem[: -len(".spikey")] if stem.endswith(".spikey") else stem
    kwargs = {} if threads is None else {"threads": threads}
    return compress_array(np.ascontiguousarray(array), float(sample_rate), path, level, None if chunk_seconds is None else float(chunk_seconds),
                          source_name=(stem or "array") + ".bin", overwrite=overwrite, channel_names=names, bit_volts=gains,
                          units=str(units), model="" if model is None else os.fspath(model), unsigned_samples=unsigned, **kwargs)


def train(array, sample_rate: float, path: str | os.PathLike, level: str = "default", threads: int | None = None,
          overwrite: bool = False) -> str:
    """Trains a model on an int16 [samples, channels] array and saves it at `path` (what
    `spikey train` does for a file): `compress(..., model=path)` and the Zarr codec's `model`
    then encode other arrays of the same implant with it instead of training each time. Returns
    the model's codec."""
    array = np.asarray(array)
    if array.dtype != np.int16:
        raise TypeError(f"expected int16 samples, got {array.dtype}")
    if array.ndim == 1:
        array = array[:, None]
    kwargs = {} if threads is None else {"threads": threads}
    return _spikey.train_array(np.ascontiguousarray(array), float(sample_rate), os.fspath(path), level, overwrite=overwrite, **kwargs)


def _threads(threads):
    return {} if threads is None else {"threads": int(threads)}


def info(path: str | os.PathLike) -> dict:
    """What `spikey info` shows, from header, metadata and index only (nothing is decoded)."""
    r = _Reader(os.fspath(path))
    return {
        "archive": os.fspath(path), "format_version": r.format_version, "codec": r.codec, "sample_rate": r.sample_rate,
        "total_samples": r.samples, "duration_seconds": r.duration_seconds,
        "chunk_samples": r.chunk_samples, "chunks": r.chunks, "lost_chunks": r.lost_chunks, "damage": r.damage,
        "original_bytes": r.original_bytes, "archive_bytes": r.archive_bytes,
        "ratio": r.original_bytes / r.archive_bytes if r.archive_bytes else 0.0,
        "channels": [{"name": n, "length": n_samples, "sample_rate": rate, "bit_volts": g, "units": u, "sync": c in r.sync_channels,
                      "snippets": c in r.snippet_channels}
                     for c, (n, n_samples, rate, g, u) in enumerate(zip(r.channel_names, r.channel_lengths, r.channel_rates,
                                                                          r.bit_volts, r.units))],
        "sources": r.sources,
    }


def verify(path: str | os.PathLike, threads: int | None = None) -> dict:
    """Decodes everything and checks every checksum, as `spikey verify --json` does: the report,
    with `ok` False and an `error` for an archive that is damaged or does not decode, and
    `complete` False (ratio None) for a salvaged archive that lost data."""
    return _spikey.verify(os.fspath(path), **_threads(threads))


def decompress(path: str | os.PathLike, directory: str | os.PathLike, overwrite: bool = False, fill_lost: bool = False,
               threads: int | None = None) -> dict:
    """Restores every original file into `directory`, byte for byte, as `spikey decompress` does
    (each file checked against its original's checksum before it takes its name; existing files
    are refused unless `overwrite`; a salvaged archive needs `fill_lost`)."""
    return _spikey.decompress(os.fspath(path), os.fspath(directory), overwrite, fill_lost, **_threads(threads))


def extract(path: str | os.PathLike, output: str | os.PathLike, start: int = 0, end: int | None = None, channels=None,
            file_format: str = "", overwrite: bool = False, threads: int | None = None) -> dict:
    """Writes samples [start, end) of `channels` (numbers or names; by default all but spike
    waveforms, `Reader.snippet_channels`) to `output` as .bin, .wav or .npy (from its extension,
    or `file_format`), as `spikey extract` does; `end` defaults to the longest channel's end."""
    r = Reader(path)
    numbers = [] if channels is None else r._channels(list(channels))[0]
    snippets = set(r.snippet_channels)
    read = numbers or [c for c in range(r.shape[1]) if c not in snippets]
    stop = max((r.channel_lengths[c] for c in read), default=0) if end is None else int(end)
    return _spikey.extract(os.fspath(path), os.fspath(output), int(start), stop, numbers, file_format, overwrite, **_threads(threads))
