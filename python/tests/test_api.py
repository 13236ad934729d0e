"""The CLI's operations from Python: info, verify, decompress and extract, on real samples."""
import numpy as np
import pytest

import spikey_archive as spikey

from conftest import CINPLA
from conftest import GOLDEN_ROOT as GOLDEN


@pytest.fixture(scope="module")
def archive(tmp_path_factory, cinpla):
    path = tmp_path_factory.mktemp("api") / "rec.spikey"
    spikey.compress(cinpla, 30000, path, chunk_seconds=0.05, channel_names=[f"CH{i + 1}" for i in range(32)], bit_volts=0.195,
                    units="uV")
    return path


def test_info_describes_the_archive(archive):
    i = spikey.info(archive)
    assert i["format_version"] == 19 and i["codec"].startswith("mt")
    assert i["total_samples"] == 6000 and i["chunks"] == 4 and i["sample_rate"] == 30000
    assert i["archive_bytes"] == archive.stat().st_size and i["original_bytes"] == CINPLA.stat().st_size
    assert i["channels"][3] == {"name": "CH4", "length": 6000, "sample_rate": 30000, "bit_volts": 0.195, "units": "uV", "sync": False,
                              "snippets": False}
    assert i["sources"][0]["path"] == "rec.bin" and i["sources"][0]["size"] == CINPLA.stat().st_size
    assert len(i["sources"][0]["checksum"]) == 16 and i["damage"] == [] and i["lost_chunks"] == []


def test_verify_reports_intact_damaged_and_salvaged(archive, tmp_path):
    v = spikey.verify(archive)
    assert v["ok"] and v["complete"] and v["files"] == 1 and v["ratio"] > 2
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "bad.spikey").write_bytes(bytes(data))
    bad = spikey.verify(tmp_path / "bad.spikey")
    assert not bad["ok"] and "chunk" in bad["error"]
    salvaged = spikey.verify(GOLDEN / "v10" / "cinpla32_salvaged.spikey")
    assert salvaged["ok"] and not salvaged["complete"] and salvaged["ratio"] is None
    assert salvaged["lost_chunks"] == 1 and salvaged["lost_streams"] == 2


def test_decompress_restores_the_original_bytes(archive, tmp_path):
    report = spikey.decompress(archive, tmp_path / "out")
    assert report["files"] == 1
    assert (tmp_path / "out" / "rec.bin").read_bytes() == CINPLA.read_bytes()
    with pytest.raises(Exception, match="already exists"):
        spikey.decompress(archive, tmp_path / "out")
    spikey.decompress(archive, tmp_path / "out", overwrite=True)
    with pytest.raises(spikey.ArchiveError, match="lost"):
        spikey.decompress(GOLDEN / "v10" / "cinpla32_salvaged.spikey", tmp_path / "s")
    filled = spikey.decompress(GOLDEN / "v10" / "cinpla32_salvaged.spikey", tmp_path / "s", fill_lost=True)
    assert filled["incomplete_files"] == ["cinpla32_30kHz_first6000.dat"]


def test_extract_writes_the_window(archive, tmp_path, cinpla):
    report = spikey.extract(archive, tmp_path / "w.npy", start=1490, end=3010, channels=["CH31", "CH2"])
    assert report["start"] == 1490 and report["end"] == 3010 and report["damaged_chunks"] == []
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), cinpla[1490:3010, [30, 1]])
    spikey.extract(archive, tmp_path / "all.bin")
    np.testing.assert_array_equal(np.fromfile(tmp_path / "all.bin", dtype="<i2").reshape(-1, 32), cinpla)
    spikey.extract(archive, tmp_path / "w2", channels=[5], file_format="npy", end=100)
    np.testing.assert_array_equal(np.load(tmp_path / "w2"), cinpla[:100, [5]])


def test_the_distribution_installs_no_top_level_spikey_module():
    """PyPI's unrelated `spikey` (2020) installs a top-level `spikey` package: ours must not, so
    that both can be installed side by side."""
    import importlib.metadata

    files = [str(f) for f in importlib.metadata.files("spikey-archive")]
    assert any(f.startswith("spikey_archive/") for f in files)
    assert not any(f.startswith("spikey/") for f in files), [f for f in files if f.startswith("spikey/")]


def test_the_default_chunk_length_is_a_second_and_at_least_4096_samples(tmp_path, cinpla):
    """As `spikey compress`: 1-second chunks, but 4096 samples where a second holds fewer; a
    chunk_seconds given is kept exactly."""
    spikey.compress(cinpla, 1000, tmp_path / "a.spikey")
    assert spikey.open(tmp_path / "a.spikey").chunk_samples == 4096
    spikey.compress(cinpla, 1000, tmp_path / "b.spikey", chunk_seconds=1)
    assert spikey.open(tmp_path / "b.spikey").chunk_samples == 1000
    spikey.compress(cinpla, 30000, tmp_path / "c.spikey")
    assert spikey.open(tmp_path / "c.spikey").chunk_samples == 30000
