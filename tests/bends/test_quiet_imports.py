"""The quiet-imports bend: audiocraft's "Dora directory" warning no longer reaches stderr."""

import logging

from beatlm import bends
from beatlm.bends import quiet_imports


def test_dora_directory_is_not_logged(caplog, monkeypatch, tmp_path):
    from audiocraft.environment import AudioCraftEnvironment
    bends.apply()  # audiocraft_env, for the teams file get_dora_dir reads
    quiet_imports.apply()  # again: still one filter
    monkeypatch.setenv("AUDIOCRAFT_DORA_DIR", str(tmp_path))
    environment = logging.getLogger("audiocraft.environment")
    assert sum(isinstance(f, quiet_imports._NoDoraDirectory) for f in environment.filters) == 1
    with caplog.at_level(logging.DEBUG):
        assert AudioCraftEnvironment.get_dora_dir() == tmp_path
        environment.warning("another warning")
    assert [r.getMessage() for r in caplog.records if r.name == "audiocraft.environment"] == ["another warning"]
