"""What the Python tests share: the repository's paths and the bundled 32-channel real slice."""
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CINPLA = ROOT / "samples" / "cinpla32" / "cinpla32_30kHz_first6000.dat"
GOLDEN_ROOT = ROOT / "tests" / "golden"


@pytest.fixture(scope="session")
def cinpla():
    """The bundled Open Ephys/Intan slice: 6000 samples x 32 channels, int16."""
    return np.fromfile(CINPLA, dtype="<i2").reshape(-1, 32)
