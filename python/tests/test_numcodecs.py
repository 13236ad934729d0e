"""The numcodecs codec through Zarr: exact round trip of real recordings."""
import pathlib

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")
import spikey_archive.numcodecs  # noqa: E402  (registers the codec)
import spikey_archive as spikey  # noqa: E402


def test_codec_round_trip_and_config(cinpla):
    codec = spikey.numcodecs.Spikey(sample_rate=30000, level="max")
    encoded = codec.encode(cinpla)
    assert len(encoded) < cinpla.nbytes / 2
    np.testing.assert_array_equal(codec.decode(encoded), cinpla)
    out = np.empty_like(cinpla)
    codec.decode(encoded, out=out)
    np.testing.assert_array_equal(out, cinpla)
    again = numcodecs.get_codec(codec.get_config())
    assert isinstance(again, spikey.numcodecs.Spikey) and again.level == "max"
    with pytest.raises(TypeError):
        codec.encode(cinpla.astype(np.float32))


def test_zarr_array_round_trip(tmp_path, cinpla):
    codec = spikey.numcodecs.Spikey(sample_rate=30000)
    z = zarr.open_array(str(tmp_path / "rec.zarr"), mode="w", shape=cinpla.shape, chunks=(2500, 16), dtype="i2", compressor=codec)
    z[:] = cinpla
    reopened = zarr.open_array(str(tmp_path / "rec.zarr"), mode="r")
    assert reopened.compressor.codec_id == "spikey"
    np.testing.assert_array_equal(reopened[:], cinpla)
    np.testing.assert_array_equal(reopened[1234:4321, 5:29], cinpla[1234:4321, 5:29])
    stored = sum(p.stat().st_size for p in (tmp_path / "rec.zarr").iterdir() if p.is_file() and not p.name.startswith("."))
    assert stored < cinpla.nbytes / 2


def test_zarr_finds_the_codec_without_an_import(tmp_path, cinpla):
    """Registered through the numcodecs.codecs entry point: a fresh interpreter reads the array
    with zarr alone, as a collaborator who never heard of spikey would."""
    import subprocess
    import sys

    codec = spikey.numcodecs.Spikey(sample_rate=30000)
    z = zarr.open_array(str(tmp_path / "rec.zarr"), mode="w", shape=cinpla.shape, chunks=(3000, 32), dtype="i2", compressor=codec)
    z[:] = cinpla
    np.save(tmp_path / "expected.npy", cinpla)
    script = (
        "import sys, numpy as np, zarr\n"
        "assert 'spikey_archive' not in sys.modules\n"
        f"a = zarr.open_array({str(tmp_path / 'rec.zarr')!r}, mode='r')[:]\n"
        f"assert (a == np.load({str(tmp_path / 'expected.npy')!r})).all()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_chunks_encode_with_a_trained_model(tmp_path, cinpla):
    """A model trained once (spikey_archive.train) encodes every chunk without training; reading
    needs neither the model nor the codec's settings."""
    model = tmp_path / "cinpla.spkm"
    assert spikey.train(cinpla, 30000, model).startswith("mt")
    codec = spikey.numcodecs.Spikey(sample_rate=30000, model=str(model), threads=2)
    assert numcodecs.get_codec(codec.get_config()).model == str(model)
    z = zarr.open_array(str(tmp_path / "rec.zarr"), mode="w", shape=cinpla.shape, chunks=(1000, 32), dtype="i2", compressor=codec)
    z[:] = cinpla
    model.unlink()  # decoding never needs it
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "rec.zarr"), mode="r")[:], cinpla)
    with pytest.raises(Exception, match="cinpla.spkm"):
        codec.encode(cinpla[:1000])
