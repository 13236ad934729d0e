"""spikey.spikeinterface: archives as lazy SpikeInterface recordings, checked with SpikeInterface's
own comparison against the original samples, and recordings written into archives."""
import pathlib
import pickle

import numpy as np
import pytest

si = pytest.importorskip("spikeinterface.core")
from spikeinterface.core.testing import check_recordings_equal  # noqa: E402

import spikey_archive as spikey  # noqa: E402
from spikey_archive.spikeinterface import SpikeyRecordingExtractor, read_spikey, write_spikey  # noqa: E402

from conftest import ROOT  # noqa: E402
from conftest import GOLDEN_ROOT as GOLDEN  # noqa: E402


@pytest.fixture(scope="module")
def labelled_archive(tmp_path_factory, cinpla):
    path = tmp_path_factory.mktemp("si") / "cinpla.spikey"
    names = [f"CH{i + 1}" for i in range(32)]
    spikey.compress(cinpla, 30000, path, chunk_seconds=0.05, channel_names=names, bit_volts=0.195, units="uV")
    return path


def test_read_equals_the_original_samples(labelled_archive, cinpla):
    recording = read_spikey(labelled_archive)
    assert recording.get_num_channels() == 32 and recording.get_num_samples() == 6000
    assert recording.get_sampling_frequency() == 30000
    assert list(recording.get_channel_ids()) == [f"CH{i + 1}" for i in range(32)]
    np.testing.assert_allclose(recording.get_channel_gains(), 0.195)
    np.testing.assert_allclose(recording.get_channel_offsets(), 0.0)
    original = si.NumpyRecording(cinpla, 30000, channel_ids=[f"CH{i + 1}" for i in range(32)])
    original.set_channel_gains(0.195)
    original.set_channel_offsets(0.0)
    check_recordings_equal(original, recording, return_in_uV=False)
    check_recordings_equal(original, recording, return_in_uV=True)
    # Windows across chunk boundaries, any channel selection, scaled to µV.
    traces = recording.get_traces(start_frame=1490, end_frame=3010, channel_ids=["CH31", "CH2", "CH7"])
    np.testing.assert_array_equal(traces, cinpla[1490:3010, [30, 1, 6]])
    scaled = recording.get_traces(start_frame=10, end_frame=20, channel_ids=["CH4"], return_in_uV=True)
    np.testing.assert_allclose(scaled, cinpla[10:20, [3]] * 0.195, rtol=1e-6)
    assert recording.get_traces(start_frame=5, end_frame=5).shape == (0, 32)


def test_to_dict_load_and_pickle_round_trip(labelled_archive, cinpla):
    recording = read_spikey(labelled_archive)
    loaded = si.load(recording.to_dict())
    assert isinstance(loaded, SpikeyRecordingExtractor)
    check_recordings_equal(recording, loaded, return_in_uV=False)
    unpickled = pickle.loads(pickle.dumps(recording))
    np.testing.assert_array_equal(unpickled.get_traces(start_frame=100, end_frame=200), cinpla[100:200])


def test_write_streams_a_recording_and_reads_back(tmp_path, cinpla):
    original = si.NumpyRecording(cinpla[:, :8].astype(np.int32), 30000, channel_ids=[f"e{i}" for i in range(8)])
    original.set_channel_gains(2.5)
    original.set_channel_offsets(0.0)
    report = write_spikey(original, tmp_path / "w.spikey", level="fast", chunk_seconds=0.05, block_seconds=0.011)
    assert report["verified"] and report["ratio"] > 1.5
    back = read_spikey(tmp_path / "w.spikey")
    assert list(back.get_channel_ids()) == [f"e{i}" for i in range(8)]
    check_recordings_equal(original, back, return_in_uV=True, force_dtype=np.int16)
    # Not what Spikey stores exactly: refused, nothing written.
    too_wide = si.NumpyRecording(np.full((100, 2), 40000, dtype=np.int32), 30000)
    with pytest.raises(ValueError, match="does not fit int16"):
        write_spikey(too_wide, tmp_path / "x.spikey")
    with pytest.raises(TypeError, match="float"):
        write_spikey(si.NumpyRecording(np.zeros((10, 2), dtype=np.float32), 30000), tmp_path / "y.spikey")
    two = si.NumpyRecording([cinpla[:100, :2], cinpla[100:200, :2]], 30000)
    with pytest.raises(ValueError, match="segments"):
        write_spikey(two, tmp_path / "z.spikey")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.spikey"]


def test_acquisition_archives_give_their_gains_and_streams():
    # SpikeGLX with its sync channel SY0 (left out unless asked for), µV gains from the .meta.
    glx = read_spikey(GOLDEN / "v10" / "spikeglx.spikey")
    reader = spikey.open(GOLDEN / "v10" / "spikeglx.spikey")
    assert glx.get_num_channels() == reader.shape[1] - len(reader.sync_channels)
    assert glx.has_scaleable_traces()
    with_sync = read_spikey(GOLDEN / "v10" / "spikeglx.spikey", include_sync=True)
    assert with_sync.get_num_channels() == reader.shape[1]
    # Streams at two rates: one must be chosen.
    two_rates = GOLDEN / "v6" / "spikeglx_and_n1.spikey"
    with pytest.raises(ValueError, match="stream_id"):
        read_spikey(two_rates)
    n1 = read_spikey(two_rates, stream_id="19531")
    assert n1.get_num_channels() == 1 and n1.get_sampling_frequency() == 19531
    assert not n1.has_scaleable_traces()  # a WAV records no gain


def test_spikeglx_probe_geometry_from_the_archived_meta(tmp_path):
    """A Neuropixels 1.0 recording as SpikeGLX wrote it (../shared/data): the archive keeps the
    .meta, and the recording gets the probe probeinterface reads from it."""
    import subprocess
    import sys

    probeinterface = pytest.importorskip("probeinterface")
    folder = ROOT.parent / "shared" / "data" / "formats" / "spikeglx_noise4sam" / "Noise4Sam_g0_imec0"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the shared data set)")
    # The shared files are the first 1155 frames of a longer run: the .meta's size and SHA-1 are
    # the whole run's, so the copy here states the size of what is there.
    bin_bytes = (folder / "Noise4Sam_g0_t0.imec0.ap.bin").read_bytes()
    meta = [line for line in (folder / "Noise4Sam_g0_t0.imec0.ap.meta").read_text().splitlines() if not line.startswith("fileSHA1=")]
    meta = [f"fileSizeBytes={len(bin_bytes)}" if line.startswith("fileSizeBytes=") else line for line in meta]
    (tmp_path / "Noise4Sam_g0_t0.imec0.ap.bin").write_bytes(bin_bytes)
    (tmp_path / "Noise4Sam_g0_t0.imec0.ap.meta").write_text("\n".join(meta) + "\n")
    cli = pathlib.Path(sys.executable).parent / "spikey"
    archive = tmp_path / "np1.spikey"
    subprocess.run([str(cli), "compress", str(tmp_path / "Noise4Sam_g0_t0.imec0.ap.bin"), "--level", "fast", "-o", str(archive), "-q"],
                   check=True)
    recording = read_spikey(archive)
    expected = probeinterface.read_spikeglx(folder / "Noise4Sam_g0_t0.imec0.ap.meta")
    assert recording.get_num_channels() == expected.get_contact_count() == 384
    probe = recording.get_probe()
    np.testing.assert_array_equal(probe.contact_positions, expected.contact_positions)
    np.testing.assert_array_equal(recording.get_channel_locations(), expected.contact_positions[expected.device_channel_indices.argsort()])
    # The samples are the .bin's, channel by channel.
    raw = np.fromfile(folder / "Noise4Sam_g0_t0.imec0.ap.bin", dtype="<i2").reshape(-1, 385)
    np.testing.assert_array_equal(recording.get_traces(start_frame=0, end_frame=500), raw[:500, :384])
    assert pickle.loads(pickle.dumps(recording)).get_probe().get_contact_count() == 384


def test_an_intan_rhd_file_reads_as_signed_amplifier_samples():
    # The golden v12 archive of samples/intan_rhd: 32 amplifier channels stored from the file's
    # uint16 (offset binary), an ADC channel and the digital-input word (a sync channel).
    recording = read_spikey(GOLDEN / "v12" / "intan_rhd.spikey")
    assert recording.get_num_channels() == 33 and recording.get_dtype() == np.int16
    np.testing.assert_allclose(recording.get_channel_gains()[:32], 0.195)
    np.testing.assert_allclose(recording.get_channel_offsets(), 0.0)
    cinpla = np.fromfile(ROOT / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)
    traces = recording.get_traces(start_frame=100, end_frame=5000, channel_ids=[f"A-{c:03d}" for c in range(32)])
    assert traces.dtype == np.int16
    np.testing.assert_array_equal(traces, cinpla[100:5000])


def test_a_float_nwb_reads_as_its_codes_with_their_gain():
    # The golden v12 archive of samples/nwb_float: float32 µV that are int16 codes times 0.195.
    recording = read_spikey(GOLDEN / "v12" / "nwb_float.spikey")
    cinpla = np.fromfile(ROOT / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)
    np.testing.assert_array_equal(recording.get_traces(), cinpla[:3000, :8])
    np.testing.assert_allclose(recording.get_channel_gains(), 0.195, rtol=1e-6)
    np.testing.assert_allclose(recording.get_traces(return_in_uV=True), cinpla[:3000, :8] * np.float32(0.195), rtol=1e-6)


def test_an_archive_of_files_kept_whole_reads_with_no_channels(tmp_path):
    # An Intan header with no data blocks is kept whole: the archive holds no channels. The
    # Reader is empty, and SpikeInterface is told why instead of failing on an index.
    import subprocess
    import sys

    (tmp_path / "header_only.rhd").write_bytes((ROOT / "samples" / "intan" / "info.rhd").read_bytes())
    archive = tmp_path / "kept.spikey"
    cli = pathlib.Path(sys.executable).parent / "spikey"
    subprocess.run([str(cli), "compress", str(tmp_path / "header_only.rhd"), "-o", str(archive), "-q"], check=True)
    reader = spikey.Reader(archive)
    assert reader.shape == (0, 0) and reader.channel_names == []
    with pytest.raises(ValueError, match="holds no channels"):
        read_spikey(archive)


def test_spike_waveforms_are_never_a_recordings_channels(tmp_path):
    # A Blackrock .ns2 with its .nev (format 14): the recording is the .ns2's 1 kHz stream alone
    # (no stream_id needed: the waveforms' 30 kHz is not a stream); an archive of the .nev alone
    # holds no recording.
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "session"
    folder.mkdir()
    shutil.copy(ROOT / "samples" / "blackrock" / "l101210-001.ns2", folder)
    shutil.copy(ROOT / "samples" / "blackrock_nev" / "l101210-001.nev", folder)
    archive = tmp_path / "session.spikey"
    cli = pathlib.Path(sys.executable).parent / "spikey"
    subprocess.run([str(cli), "compress", str(folder), "-o", str(archive), "-q"], check=True)
    recording = read_spikey(archive)
    assert recording.get_sampling_frequency() == 1000 and recording.stream_ids == ["1000"]
    assert list(recording.get_channel_ids()) == ["ch137", "ch138", "ch139", "ch140", "ch141", "ch143"]
    ns2 = np.frombuffer((ROOT / "samples" / "blackrock" / "l101210-001.ns2").read_bytes()[56:], dtype="<i2").reshape(-1, 6)
    np.testing.assert_array_equal(recording.get_traces(), ns2)
    with pytest.raises(ValueError, match="spike waveforms"):
        read_spikey(GOLDEN / "v14" / "blackrock_nev.spikey")


def test_an_intan_folder_reads_as_its_amplifier_channels(tmp_path):
    # The golden v11 archive of samples/intan: four amplifier files (channels 0-3 of the cinpla
    # slice) and time.dat, whose two halves (units "samples") are not signals.
    recording = read_spikey(GOLDEN / "v11" / "intan.spikey")
    assert list(recording.get_channel_ids()) == ["A-000", "A-001", "A-002", "A-003"]
    np.testing.assert_allclose(recording.get_channel_gains(), 0.195)
    cinpla = np.fromfile(ROOT / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat", dtype="<i2").reshape(-1, 32)
    np.testing.assert_array_equal(recording.get_traces(start_frame=700, end_frame=2900), cinpla[700:2900, :4])
    every = read_spikey(GOLDEN / "v11" / "intan.spikey", include_sync=True)
    assert list(every.get_channel_ids())[4:] == ["time_low16", "time_high16"]
