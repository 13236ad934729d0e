"""spikey.open / spikey.compress on real recordings: every read equals NumPy slicing of the
original samples."""
import concurrent.futures
import os
import pathlib
import shutil
import struct

import numpy as np
import pytest

import spikey_archive as spikey

from conftest import CINPLA, GOLDEN_ROOT, ROOT  # noqa: F401

GOLDEN = GOLDEN_ROOT / "v5"


def wav_samples(path):
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    (size,) = struct.unpack_from("<I", data, 40)
    return np.frombuffer(data[44:44 + size], dtype="<i2")


@pytest.fixture(scope="module")
def cinpla_archive(tmp_path_factory, cinpla):
    path = tmp_path_factory.mktemp("archives") / "cinpla32.spikey"
    report = spikey.compress(cinpla, 30000, path, chunk_seconds=0.02)
    assert report["verified"] and report["ratio"] > 1.5
    return path


def test_metadata(cinpla_archive):
    r = spikey.open(cinpla_archive)
    assert r.shape == (6000, 32)
    assert r.sample_rate == 30000
    assert len(r.channel_names) == 32
    assert r.dtype == np.int16
    assert r.chunk_samples == 600
    assert r.lost_chunks == []


def test_random_windows_equal_numpy_slicing(cinpla_archive, cinpla):
    r = spikey.open(cinpla_archive)
    rng = np.random.default_rng(7)
    for _ in range(200):
        t0 = int(rng.integers(-7000, 7000))
        t1 = int(rng.integers(-7000, 7000))
        step = int(rng.choice([1, 1, 1, 2, 5, -1, -3]))
        kind = rng.integers(4)
        if kind == 0:
            cols = sorted(set(rng.integers(0, 32, size=int(rng.integers(1, 6))).tolist()))
        elif kind == 1:
            cols = rng.integers(-32, 32, size=int(rng.integers(1, 6))).tolist()  # any order, repeats, negatives
        elif kind == 2:
            cols = slice(int(rng.integers(0, 32)), int(rng.integers(0, 33)), int(rng.choice([1, 2, -1])))
        else:
            cols = int(rng.integers(-32, 32))
        key = (slice(t0, t1, step), cols)
        np.testing.assert_array_equal(r[key], cinpla[key], err_msg=repr(key))


def test_integer_fancy_and_mask_indexing(cinpla_archive, cinpla):
    r = spikey.open(cinpla_archive)
    np.testing.assert_array_equal(r[1234], cinpla[1234])
    np.testing.assert_array_equal(r[-1], cinpla[-1])
    assert r[17, 3] == cinpla[17, 3]
    rows = [5, 4000, 4000, 12]
    np.testing.assert_array_equal(r[rows, [1, 2]], cinpla[rows][:, [1, 2]])
    mask = np.zeros(32, dtype=bool)
    mask[[0, 9, 31]] = True
    np.testing.assert_array_equal(r[100:900, mask], cinpla[100:900, mask])
    np.testing.assert_array_equal(np.asarray(r), cinpla)
    with pytest.raises(IndexError):
        r[6000]
    with pytest.raises(IndexError):
        r[0, 32]


def test_golden_neuralink_channels_of_different_lengths():
    r = spikey.open(GOLDEN / "neuralink3.spikey")
    for c, name in enumerate(r.channel_names):
        original = wav_samples(ROOT / "samples" / "neuralink" / name)
        assert r.channel_lengths[c] == len(original)
        np.testing.assert_array_equal(r[:, c], original)  # a slice clips to the channel's length


def test_lost_chunks_raise_and_neighbours_read():
    r = spikey.open(GOLDEN / "neuralink3_salvaged.spikey")
    assert r.lost_chunks == [1, 4, 5]
    with pytest.raises(spikey.ArchiveError, match="lost"):
        r[20000:20010, 0]
    name = r.channel_names[0]
    np.testing.assert_array_equal(r[100:19000, 0], wav_samples(ROOT / "samples" / "neuralink" / name)[100:19000])


def test_damaged_archive_raises(cinpla_archive, tmp_path):
    damaged = tmp_path / "damaged.spikey"
    data = bytearray(cinpla_archive.read_bytes())
    data[len(data) // 2] ^= 0x10
    damaged.write_bytes(bytes(data))
    r = spikey.open(damaged)
    with pytest.raises(spikey.ArchiveError, match="chunk"):
        r[:, :]
    (tmp_path / "not.spikey").write_bytes(b"hello")
    with pytest.raises(spikey.ArchiveError):
        spikey.open(tmp_path / "not.spikey")


def test_lost_streams_raise_and_the_other_channels_of_their_chunk_read(cinpla):
    # Format 10: channels 13 and 14 of chunk 1 (samples 1500..2999) and chunk 3 were lost.
    r = spikey.open(ROOT / "tests" / "golden" / "v10" / "cinpla32_salvaged.spikey")
    assert r.lost_chunks == [3]
    with pytest.raises(spikey.ArchiveError, match="channel 14 in chunk 1"):
        r[1500:3000, 14]
    kept = [c for c in range(32) if c not in (13, 14)]
    np.testing.assert_array_equal(r[1500:3000, kept], cinpla[1500:3000, kept])


def test_damaged_metadata_is_read_from_its_copy(cinpla_archive, cinpla, tmp_path):
    damaged = tmp_path / "damaged.spikey"
    data = bytearray(cinpla_archive.read_bytes())
    data[60] ^= 0x08  # inside the metadata section
    damaged.write_bytes(bytes(data))
    r = spikey.open(damaged)
    assert len(r.damage) == 1 and "metadata copy" in r.damage[0]
    np.testing.assert_array_equal(r[:, :], cinpla)
    assert spikey.open(cinpla_archive).damage == []


def test_threads_read_in_parallel(cinpla_archive, cinpla):
    r = spikey.open(cinpla_archive)
    windows = [(t, t + 700, [c, (c * 7) % 32]) for t in range(0, 5000, 97) for c in (1, 20)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda w: r[w[0]:w[1], w[2]], windows))
    for (t0, t1, cols), got in zip(windows, results):
        np.testing.assert_array_equal(got, cinpla[t0:t1, cols])


@pytest.mark.parametrize("level", ["fast", "default", "max"])
def test_compress_levels_round_trip(tmp_path, cinpla, level):
    part = cinpla[:3000, :8]
    path = tmp_path / f"part_{level}.spikey"
    report = spikey.compress(part, 30000, path, level=level)
    assert report["verified"]
    np.testing.assert_array_equal(np.asarray(spikey.open(path)), part)
    with pytest.raises(RuntimeError, match="exists"):
        spikey.compress(part, 30000, path, level=level)  # exists: needs overwrite=True
    spikey.compress(part, 30000, path, level=level, overwrite=True)


def test_compress_refuses_what_is_not_int16(tmp_path):
    with pytest.raises(TypeError):
        spikey.compress(np.zeros((10, 2), dtype=np.float32), 1000, tmp_path / "f.spikey")
    assert not (tmp_path / "f.spikey").exists()
    wide = np.zeros((10, 2), dtype=np.int32)
    wide[7, 1] = 40000
    with pytest.raises(ValueError, match=r"40000 at \(7, 1\)"):
        spikey.compress(wide, 1000, tmp_path / "f.spikey")
    assert not (tmp_path / "f.spikey").exists()


def test_compress_takes_integer_arrays_of_16_bit_values_and_their_labels(tmp_path, cinpla):
    """int32 (as acquisition libraries hand them out) is stored exactly as int16, and uint16
    (Intan auxiliary and ADC channels) as unsigned samples that read back as uint16; names, gains
    and units reach the archive's metadata."""
    names = [f"CH{i:02d}" for i in range(32)]
    gains = [0.195 + i * 1e-3 for i in range(32)]
    spikey.compress(cinpla.astype(np.int32), 30000, tmp_path / "a.spikey", channel_names=names, bit_volts=gains, units="uV")
    r = spikey.open(tmp_path / "a.spikey")
    np.testing.assert_array_equal(r[:, :], cinpla)
    assert r.channel_names == names
    assert r.bit_volts == pytest.approx(gains)
    assert r.units == ["uV"] * 32
    np.testing.assert_array_equal(r[:, ["CH03", "CH31"]], cinpla[:, [3, 31]])
    unsigned = (cinpla[:, :2].astype(np.int32) + 32768).astype(np.uint16)  # the whole uint16 range in use
    report = spikey.compress(unsigned, 30000, tmp_path / "b.spikey", bit_volts=0.5)
    b = spikey.open(tmp_path / "b.spikey")
    assert b.dtype == np.uint16 and b[:, :].dtype == np.uint16
    np.testing.assert_array_equal(b[:, :], unsigned)
    np.testing.assert_array_equal(b[100:200, 1], unsigned[100:200, 1])
    assert b.bit_volts == [0.5, 0.5]
    signed = spikey.compress(cinpla[:, :2], 30000, tmp_path / "s.spikey")
    assert report["archive_bytes"] == pytest.approx(signed["archive_bytes"], rel=0.01)  # the same signal, the same size
    spikey.decompress(tmp_path / "b.spikey", tmp_path / "restored")
    assert (tmp_path / "restored" / "b.bin").read_bytes() == unsigned.tobytes()
    with pytest.raises(ValueError, match="3 channel names"):
        spikey.compress(cinpla, 30000, tmp_path / "c.spikey", channel_names=["a", "b", "c"])


def test_decompressed_source_is_the_array_bytes(tmp_path, cinpla):
    cli = shutil.which("spikey") or os.environ.get("SPIKEY_CLI")
    if cli is None:
        pytest.skip("the spikey CLI is not on PATH (set SPIKEY_CLI)")
    path = tmp_path / "rec.spikey"
    spikey.compress(cinpla[:1000], 30000, path)
    assert os.system(f"'{cli}' decompress '{path}' -o '{tmp_path / 'out'}' -q") == 0
    assert (tmp_path / "out" / "rec.bin").read_bytes() == cinpla[:1000].tobytes()


def test_acquisition_folders_metadata_and_slices():
    """Golden v6 archives of the bundled Open Ephys folder and SpikeGLX pair: names, gains and
    sync channels from the acquisition files; slices equal the original interleaved samples."""
    oe_dat = ROOT / "samples" / "open_ephys" / "Record Node 101" / "experiment1" / "recording1" / "continuous" / "Rhythm_FPGA-100.0" / "continuous.dat"
    oe = np.fromfile(oe_dat, dtype="<i2").reshape(-1, 32)
    r = spikey.open(ROOT / "tests" / "golden" / "v6" / "open_ephys.spikey")
    assert r.shape == oe.shape
    assert r.channel_names[0] == "CH1"
    assert r.bit_volts[0] == pytest.approx(0.195, abs=1e-6) and r.units[0] == "uV"
    assert r.sync_channels == []
    np.testing.assert_array_equal(r[1234:4321, [5, 0, 31]], oe[1234:4321, [5, 0, 31]])

    sg = np.fromfile(ROOT / "samples" / "spikeglx" / "run_g0_t0.imec0.ap.bin", dtype="<i2").reshape(-1, 33)
    for name in ("spikeglx_fast.spikey", "spikeglx_max.spikey"):
        r = spikey.open(ROOT / "tests" / "golden" / "v6" / name)
        assert r.sync_channels == [32] and r.channel_names[32] == "SY0"
        assert r.bit_volts[32] is None and r.bit_volts[0] == pytest.approx(0.6 / 512 / 500 * 1e6)
        np.testing.assert_array_equal(r[:, 32], sg[:, 32])
        np.testing.assert_array_equal(r[555:1777, 30:], sg[555:1777, 30:])
        np.testing.assert_array_equal(r[:, "SY0"], sg[:, 32])
        np.testing.assert_array_equal(r[10:20, ["AP7", "SY0", "AP0"]], sg[10:20, [7, 32, 0]])
        with pytest.raises(KeyError):
            r[:, "SY9"]


def test_streams_at_different_rates(tmp_path):
    """Two WAVs at 1000 and 2000 Hz in one archive: per-channel rates; a read takes one clock."""
    import subprocess
    import wave

    rng = np.random.default_rng(3)
    slow = rng.integers(-500, 500, 1000).astype("<i2")
    fast = rng.integers(-500, 500, 2000).astype("<i2")
    for name, rate, data in (("slow.wav", 1000, slow), ("fast.wav", 2000, fast)):
        with wave.open(str(tmp_path / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data.tobytes())
    archive = tmp_path / "mixed.spikey"
    subprocess.run([os.environ["SPIKEY_CLI"], "compress", str(tmp_path / "slow.wav"), str(tmp_path / "fast.wav"), "-o", str(archive), "-q"],
                   check=True)
    r = spikey.open(archive)
    assert r.sample_rate == 2000 and r.channel_rates == [1000, 2000]
    np.testing.assert_array_equal(r[100:300, 0], slow[100:300])
    np.testing.assert_array_equal(r[:, 1], fast)
    with pytest.raises(ValueError, match="different sample rates"):
        r[0:10, [0, 1]]


def test_spike_waveforms_are_snippet_channels(tmp_path):
    """Format 14: a Blackrock .nev's waveforms are one channel of snippets. Read by name or number,
    they are the packets' samples; they have no time axis, so the duration and a window of no
    named channels leave them out."""
    import subprocess

    nev = (ROOT / "samples" / "blackrock_nev" / "l101210-001.nev").read_bytes()
    packets = np.frombuffer(nev[4944:], dtype=np.uint8).reshape(-1, 104)
    waveforms = packets[:, 8:].copy().view("<i2").reshape(-1)
    r = spikey.open(GOLDEN_ROOT / "v14" / "blackrock_nev.spikey")
    assert r.snippet_channels == [0] and r.channel_names == ["waveforms"] and r.duration_seconds == 0
    np.testing.assert_array_equal(r[:, 0], waveforms)
    np.testing.assert_array_equal(r[4800:9600, "waveforms"], waveforms[4800:9600])
    info = spikey.info(GOLDEN_ROOT / "v14" / "blackrock_nev.spikey")
    assert info["channels"][0]["snippets"] and info["sources"][0]["snippets"] and info["duration_seconds"] == 0
    with pytest.raises(ValueError, match="spike waveforms"):
        spikey.extract(GOLDEN_ROOT / "v14" / "blackrock_nev.spikey", tmp_path / "w.npy")

    # Beside the .ns2 it was recorded with: the recording is what a window takes by default.
    folder = tmp_path / "session"
    folder.mkdir()
    shutil.copy(ROOT / "samples" / "blackrock" / "l101210-001.ns2", folder)
    shutil.copy(ROOT / "samples" / "blackrock_nev" / "l101210-001.nev", folder)
    archive = tmp_path / "session.spikey"
    subprocess.run([os.environ["SPIKEY_CLI"], "compress", str(folder), "-o", str(archive), "-q"], check=True)
    r = spikey.open(archive)
    assert r.snippet_channels == [0] and r.duration_seconds == pytest.approx(3.641)
    report = spikey.extract(archive, tmp_path / "lfp.npy")
    ns2 = np.frombuffer((ROOT / "samples" / "blackrock" / "l101210-001.ns2").read_bytes()[56:], dtype="<i2").reshape(-1, 6)
    np.testing.assert_array_equal(np.load(tmp_path / "lfp.npy"), ns2)
    assert report["channels"] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="spike waveforms"):
        r[0:10, [0, 1]]


def test_a_plexon_file_reads_as_its_waveforms_and_continuous_channels(tmp_path):
    """Format 16: a Plexon .plx file's spike blocks are one channel of snippets, its continuous
    blocks a channel at 1 kHz; each reads as the file's blocks hold it, and the duration and a
    window of no named channels are the continuous channel's."""
    plx = (ROOT / "samples" / "plexon" / "File_plexon_3_cut.plx").read_bytes()
    blocks = np.frombuffer(plx[39420:], dtype=np.uint8)
    waveforms = blocks[: 1500 * 144].reshape(1500, 144)[:, 16:].copy().view("<i2").reshape(-1)
    v1 = blocks[1500 * 144:].reshape(1000, 256)[:, 16:].copy().view("<i2").reshape(-1)
    r = spikey.open(GOLDEN_ROOT / "v16" / "plexon.spikey")
    assert r.channel_names == ["waveforms", "V1"] and r.snippet_channels == [0]
    assert r.channel_rates == [30000, 1000] and r.duration_seconds == pytest.approx(120)
    np.testing.assert_array_equal(r[:, "waveforms"], waveforms)
    np.testing.assert_array_equal(r[5000:7000, "V1"], v1[5000:7000])
    report = spikey.extract(GOLDEN_ROOT / "v16" / "plexon.spikey", tmp_path / "v1.npy")
    assert report["channels"] == [1]
    np.testing.assert_array_equal(np.load(tmp_path / "v1.npy").reshape(-1), v1)


def test_a_spike2_file_reads_as_its_waveform_channel_and_waveform_marks(tmp_path):
    """Format 17: a Spike2 .smr file's waveform blocks (Respi) and waveform marks are records with
    tails; each channel reads as its chain of blocks holds it, and a window of no named channels
    is the waveform channel's."""
    smr = (ROOT / "samples" / "spike2" / "File_spike2_1.smr").read_bytes()

    def chain(channel, item_bytes, skip, points):
        at = int(np.frombuffer(smr, "<i4", 1, 512 + 140 * (channel - 1) + 6)[0])
        out = []
        while at != -1:
            items = int(np.frombuffer(smr, "<u2", 1, at + 18)[0])
            for i in range(items):
                out.append(np.frombuffer(smr, "<i2", points, at + 20 + i * item_bytes + skip))
            at = int(np.frombuffer(smr, "<i4", 1, at + 4)[0])
        return np.concatenate(out)

    respi = chain(2, 2, 0, 1)
    marks = chain(6, 8 + 204, 8, 102)
    r = spikey.open(GOLDEN_ROOT / "v17" / "spike2.spikey")
    assert r.channel_names == ["Respi", "untitled"] and r.snippet_channels == [1]
    assert len(respi) == 45688 and len(marks) == 247 * 102
    np.testing.assert_array_equal(r[:, "untitled"], marks)
    np.testing.assert_array_equal(r[3000:9000, "Respi"], respi[3000:9000])
    report = spikey.extract(GOLDEN_ROOT / "v17" / "spike2.spikey", tmp_path / "respi.npy")
    assert report["channels"] == [0]
    np.testing.assert_array_equal(np.load(tmp_path / "respi.npy").reshape(-1), respi)


def test_an_alpha_omega_file_reads_as_its_analog_inputs(tmp_path):
    """Format 18: an AlphaOmega .map file's data blocks of each analog input are records with
    tails; each channel reads as its blocks hold it."""
    data = (ROOT / "samples" / "alpha_omega" / "File_AlphaOmega_2.map").read_bytes()
    names, samples, at = {}, {}, 0
    while True:
        length, kind = int(np.frombuffer(data, "<u2", 1, at)[0]), data[at + 2:at + 3]
        if length == 65535:
            break
        number = int(np.frombuffer(data, "<i2", 1, at + 4 if kind == b"5" else at + 12)[0])
        if kind == b"2" and np.frombuffer(data, "<i2", 2, at + 8).tolist() == [1, 1]:
            names[number] = data[at + 38:at + length].split(b"\0")[0].decode()
        elif kind == b"5" and number in names:
            samples.setdefault(number, []).append(np.frombuffer(data, "<i2", (length - 10) // 2, at + 6))
        at += length
    channels = [(names[n], np.concatenate(samples[n])) for n in names if n in samples]
    r = spikey.open(GOLDEN_ROOT / "v18" / "alpha_omega.spikey")
    assert r.channel_names == [name for name, _ in channels] == ["2-AI001", "2-AI008", "2-AI017", "2-AI024"]
    assert r.sample_rate == 12500 and r.shape == (66501, 4)
    np.testing.assert_array_equal(r[1000:30000, "2-AI017"], channels[2][1][1000:30000])
    np.testing.assert_array_equal(r[:, 0], channels[0][1])


def test_an_abf_file_reads_as_its_channels_with_their_units(tmp_path):
    """Format 18: an Axon ABF2 file's data section is its frames; the channel's name, units and
    step come from the header (pCLAMP's scaling)."""
    abf = (ROOT / "samples" / "abf" / "File_axon_5.abf").read_bytes()
    block, _, points = np.frombuffer(abf, "<u4", 3, 236).tolist()
    data = np.frombuffer(abf, "<i2", points, block * 512)
    r = spikey.open(GOLDEN_ROOT / "v18" / "abf.spikey")
    assert r.channel_names == ["_Ipatch"] and r.sample_rate == 20000 and r.shape == (180000, 1)
    assert r.units == ["mV"] and r.bit_volts[0] == pytest.approx(10 / 32768 / (0.01 * 5))
    np.testing.assert_array_equal(r[20000:40000, 0], data[20000:40000])


def test_an_axona_raw_file_reads_as_its_64_channels(tmp_path):
    """Format 19: an Axona raw .bin's packets (32 bytes, three frames of 64 channels in the
    hardware's order, 16 bytes) are records; channel c of the .set is at frame position
    position[c]; the .set gives the rate and gains."""
    packets = np.frombuffer((ROOT / "samples" / "axona" / "axona_raw.bin").read_bytes(), dtype=np.uint8).reshape(-1, 432)
    frames = packets[:, 32:416].copy().view("<i2").reshape(-1, 64)
    position = [*range(32, 40), *range(0, 8), *range(40, 48), *range(8, 16), *range(48, 56), *range(16, 24), *range(56, 64), *range(24, 32)]
    r = spikey.open(GOLDEN_ROOT / "v19" / "axona.spikey")
    assert r.sample_rate == 48000 and r.shape == (576, 64)
    assert r.channel_names[position[0]] == "ch0" and r.channel_names[position[9]] == "ch9"
    set_lines = (ROOT / "samples" / "axona" / "axona_raw.set").read_text().splitlines()
    gains = {int(k[len("gain_ch_"):]): float(v) for k, v in (line.split(" ", 1) for line in set_lines if line.startswith("gain_ch_"))}
    assert len(gains) == 64 and len(set(gains.values())) > 1
    for c in (0, 9, 63):  # ADC_fullscale_mv 1500
        assert r.units[position[c]] == "uV" and r.bit_volts[position[c]] == pytest.approx(1000 * 1500 / (gains[c] * 32768))
    np.testing.assert_array_equal(r[:, "ch9"], frames[:, position[9]])
    np.testing.assert_array_equal(r[100:500, "ch63"], frames[100:500, position[63]])


def test_a_white_matter_file_reads_with_the_channels_rate_and_gain_of_its_name(tmp_path):
    """A White Matter eCube file holds an 8-byte header and interleaved int16 frames; its name
    says how many channels at what rate ("64ch_25000sps"), and headstage files ("HSW_") step
    6.25 mV / 2^15."""
    import subprocess

    sample = ROOT / "samples" / "white_matter" / "HSW_2024_12_12__10_28_23__70min_17sec__hsamp_64ch_25000sps_stub.bin"
    frames = np.frombuffer(sample.read_bytes()[8:], dtype="<i2").reshape(-1, 64)
    archive = tmp_path / "wm.spikey"
    subprocess.run([os.environ["SPIKEY_CLI"], "compress", str(sample), "-o", str(archive), "-q"], check=True)
    r = spikey.open(archive)
    assert r.shape == (6250, 64) and r.sample_rate == 25000
    assert r.bit_volts == [6250 / 32768] * 64 and r.units == ["uV"] * 64
    np.testing.assert_array_equal(r[1000:3000, [3, 40]], frames[1000:3000, [3, 40]])


def test_the_wheel_installs_the_cli(tmp_path, cinpla):
    """pip install . puts the spikey command in the environment's scripts folder."""
    import subprocess
    import sysconfig

    cli = pathlib.Path(sysconfig.get_path("scripts")) / "spikey"
    assert cli.exists(), f"no spikey command in {cli.parent}"
    done = subprocess.run([str(cli), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("spikey "), done.stdout + done.stderr
    path = tmp_path / "rec.spikey"
    spikey.compress(cinpla[:3000], 30000, path)
    done = subprocess.run([str(cli), "verify", str(path), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
