"""Spikey archives as SpikeInterface recordings, and archives written from them.

    from spikey_archive.spikeinterface import read_spikey, write_spikey
    recording = read_spikey("session.spikey")            # lazy: get_traces decodes only what it asks for
    recording.get_traces(start_frame=0, end_frame=30000, channel_ids=["CH1", "CH7"], return_in_uV=True)
    write_spikey(recording, "copy.spikey", level="max")   # streams any recording block by block

A recording is one stream of the archive: the channels sampled at one rate (SpikeGLX AP and LF
are two), sync, digital-word and sample-number channels left out unless asked for. Channel ids are the
archive's channel names; gains to µV come from the archive's `bit_volts` and `units` where the
source recorded them (SpikeGLX, Open Ephys, or what `write_spikey`/`spikey.compress` stored), and
a SpikeGLX stream gets its probe geometry from the `.meta` kept in the archive.
Channels of one stream may differ in length (separate WAV files): the recording ends with the
shortest. The recording survives `to_dict()`/`load()` and pickling by its file path.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment

from . import Reader, _channel_labels, _spikey

__all__ = ["SpikeyRecordingExtractor", "read_spikey", "write_spikey"]

# What one `units` step of bit_volts is in µV, for SpikeInterface's gain_to_uV.
_MICROVOLTS_PER_UNIT = {"uV": 1.0, "µV": 1.0, "μV": 1.0, "mV": 1e3, "V": 1e6}


def _stream_id(rate: float) -> str:
    return f"{rate:g}"


class SpikeyRecordingExtractor(BaseRecording):
    """One stream of a Spikey archive as a SpikeInterface recording (read lazily).

    Parameters
    ----------
    file_path : path of the archive
    stream_id : the stream's sample rate as text ("30000"); needed only when the archive holds
        streams at more than one rate (`stream_ids` lists them)
    include_sync : keep sync and digital-word channels (SpikeGLX SY/XD), which are bitfields, and
        sample-number channels (units "samples": an Intan time.dat's two halves)
    threads : decoder threads per read
    """

    extractor_name = "Spikey"
    mode = "file"
    name = "spikey"

    def __init__(self, file_path, stream_id: str | None = None, include_sync: bool = False, threads: int = 1):
        file_path = os.path.abspath(os.fspath(file_path))
        reader = Reader(file_path, threads)
        rates = reader.channel_rates
        if not rates:
            raise ValueError(f"{file_path} holds no channels, only files kept whole (e.g. an NWB file whose floats are off any grid)")
        snippets = set(reader.snippet_channels)  # spike waveforms one after another: never a recording's channels
        if len(snippets) == len(rates):
            raise ValueError(f"{file_path} holds spike waveforms (a Blackrock .nev) only, no recording: read them with spikey_archive.open")
        streams = sorted({_stream_id(r) for c, r in enumerate(rates) if c not in snippets}, key=float, reverse=True)
        if stream_id is None:
            if len(streams) > 1:
                raise ValueError(f"{file_path} holds streams at {', '.join(streams)} Hz: choose one with stream_id")
            stream_id = streams[0]
        if stream_id not in streams:
            raise ValueError(f"{file_path} has no stream {stream_id!r} (streams: {', '.join(streams)})")
        not_signals = set(reader.sync_channels) | {c for c, u in enumerate(reader.units) if u == "samples"}
        channels = [c for c, r in enumerate(rates) if _stream_id(r) == stream_id and c not in snippets and (include_sync or c not in not_signals)]
        if not channels:
            raise ValueError(f"stream {stream_id} of {file_path} holds only sync channels (include_sync=True keeps them)")
        names = [reader.channel_names[c] for c in channels]
        channel_ids = names if len(set(names)) == len(names) else [str(c) for c in channels]
        rate = rates[channels[0]]
        BaseRecording.__init__(self, sampling_frequency=rate, channel_ids=channel_ids, dtype=np.int16)
        self.stream_ids = streams
        bit_volts = [reader.bit_volts[c] for c in channels]
        units = [reader.units[c] for c in channels]
        if all(g is not None for g in bit_volts) and all(u in _MICROVOLTS_PER_UNIT for u in units):
            self.set_channel_gains([g * _MICROVOLTS_PER_UNIT[u] for g, u in zip(bit_volts, units)])
            self.set_channel_offsets(0.0)
        self.set_property("archive_channel", np.asarray(channels))
        self.set_property("channel_name", np.asarray(names))
        probe = _spikeglx_probe(reader, channels)
        if probe is not None:
            self.set_probe(probe)  # in place (SpikeInterface >= 0.105)
        num_samples = min(reader.channel_lengths[c] for c in channels)
        self.add_recording_segment(SpikeyRecordingSegment(reader, channels, num_samples, rate))
        self._kwargs = {"file_path": file_path, "stream_id": stream_id, "include_sync": include_sync, "threads": threads}


def _spikeglx_probe(reader: Reader, channels: list[int]):
    """The probe geometry of a SpikeGLX stream, read by probeinterface from the `.meta` kept in
    the archive, when the recording's channels are exactly that stream's probe channels."""
    try:
        import probeinterface
    except ImportError:
        return None
    for source in reader._reader.sources:
        first, count = source["first_channel"], source["channels"]
        if source["kind"] != "spikeglx" or not source["path"].endswith(".bin") or not first <= channels[0] < first + count:
            continue
        meta = source["path"][: -len(".bin")] + ".meta"
        try:
            text = reader._reader.side_file(meta)
        except KeyError:
            return None
        with tempfile.TemporaryDirectory(prefix="spikey-meta-") as tmp:
            path = os.path.join(tmp, os.path.basename(meta))
            with open(path, "wb") as f:
                f.write(text)
            try:
                probe = probeinterface.read_spikeglx(path)
            except Exception:  # a .meta without a probe part number or imro table: no geometry
                return None
        if probe.get_contact_count() != len(channels) or channels != list(range(first, first + len(channels))):
            return None
        return probe
    return None


class SpikeyRecordingSegment(BaseRecordingSegment):
    def __init__(self, reader: Reader, channels: list[int], num_samples: int, rate: float):
        BaseRecordingSegment.__init__(self, sampling_frequency=rate)
        self._reader = reader
        self._channels = np.asarray(channels)
        self._num_samples = num_samples

    def get_num_samples(self) -> int:
        return self._num_samples

    def get_traces(self, start_frame=None, end_frame=None, channel_indices=None):
        start = 0 if start_frame is None else int(start_frame)
        end = self._num_samples if end_frame is None else int(end_frame)
        channels = self._channels if channel_indices is None else self._channels[channel_indices]
        channels = np.atleast_1d(channels)
        if end <= start or channels.size == 0:
            return np.zeros((max(end - start, 0), channels.size), dtype=np.int16)
        traces = self._reader[start:end, [int(c) for c in channels]].reshape(end - start, channels.size)
        # Channels stored from uint16 samples (an Intan .rhd's amplifiers, offset binary) come back
        # from the Reader as the file's uint16; the recording's samples are the stored signed
        # values (value - 32768), whose offset is 0 in the gains' units.
        return (traces ^ np.uint16(0x8000)).view(np.int16) if traces.dtype == np.uint16 else traces


def read_spikey(file_path, stream_id: str | None = None, include_sync: bool = False, threads: int = 1) -> SpikeyRecordingExtractor:
    """Opens one stream of a Spikey archive as a lazy SpikeInterface recording."""
    return SpikeyRecordingExtractor(file_path, stream_id=stream_id, include_sync=include_sync, threads=threads)


def write_spikey(recording, file_path, level: str = "default", chunk_seconds: float | None = None, threads: int | None = None,
                 overwrite: bool = False, block_seconds: float = 10.0) -> dict:
    """Compresses a one-segment SpikeInterface recording of 16-bit samples into an archive.

    The traces are read `block_seconds` at a time into a temporary headerless file beside the
    archive (never all in memory), which the compressor then reads as it codes; the archive is
    verified by a full decode before it takes its name. Channel ids become channel names, and the
    gains to µV become `bit_volts` in uV when every channel has one and every offset is 0.
    Samples must be integers that fit int16 (a ValueError names the first that does not): Spikey
    is lossless, so float traces are refused. Returns the compress report (ratio, sizes, codec).
    """
    if recording.get_num_segments() != 1:
        raise ValueError(f"the recording has {recording.get_num_segments()} segments: write one archive per segment "
                         "(recording.select_segments([i]))")
    dtype = np.dtype(recording.get_dtype())
    if not np.issubdtype(dtype, np.integer):
        raise TypeError(f"the recording's samples are {dtype}: Spikey stores integer samples exactly (use the unscaled recording)")
    channels = recording.get_num_channels()
    names = [str(c) for c in recording.get_channel_ids()]
    gains, units = None, ""
    if recording.has_scaleable_traces():
        offsets = np.asarray(recording.get_channel_offsets(), dtype=float)
        if np.all(offsets == 0):
            gains, units = [float(g) for g in recording.get_channel_gains()], "uV"
    names, gains = _channel_labels(channels, names, gains)
    file_path = os.path.abspath(os.fspath(file_path))
    stem = os.path.basename(file_path)
    stem = stem[: -len(".spikey")] if stem.endswith(".spikey") else stem
    total = recording.get_num_samples(segment_index=0)
    block = max(1, int(block_seconds * recording.get_sampling_frequency()))
    with tempfile.TemporaryDirectory(prefix=".spikey-write-", dir=os.path.dirname(file_path)) as scratch:
        raw = os.path.join(scratch, (stem or "recording") + ".bin")
        with open(raw, "wb") as out:
            for start in range(0, total, block):
                traces = np.asarray(recording.get_traces(segment_index=0, start_frame=start, end_frame=min(total, start + block)))
                if dtype != np.int16:
                    outside = np.flatnonzero((traces < -32768) | (traces > 32767))
                    if outside.size:
                        t, c = np.unravel_index(outside[0], traces.shape)
                        raise ValueError(f"value {traces[t, c]} at sample {start + t}, channel {names[c]} does not fit int16; "
                                         "spikey stores 16-bit samples")
                out.write(np.ascontiguousarray(traces, dtype=np.int16).tobytes())
        kwargs = {} if threads is None else {"threads": threads}
        return _spikey.compress_raw_file(raw, channels, float(recording.get_sampling_frequency()), file_path, level,
                                         None if chunk_seconds is None else float(chunk_seconds), overwrite=overwrite, channel_names=names, bit_volts=gains,
                                         units=units, **kwargs)
