"""The secure-load bend: audiocraft's own loader goes through the allow-list."""

import pytest

from beatlm.utils.errors import UnsafeCheckpointError


def test_audiocraft_loader_refuses_code(evil_pickle):
    from beatlm import bends
    bends.apply()
    from audiocraft.utils import checkpoint
    path, marker = evil_pickle()
    with pytest.raises(UnsafeCheckpointError):
        checkpoint.load_checkpoint(path)
    assert not marker.exists()


def test_audiocraft_loader_loads_real_checkpoint(codec_xp):
    from beatlm import bends
    bends.apply()
    from audiocraft.utils import checkpoint
    _, xp = codec_xp
    state = checkpoint.load_checkpoint(xp.folder / "checkpoint.th")
    assert state["xp.cfg"].solver == "compression"
