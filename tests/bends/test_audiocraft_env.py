"""The teams-file bend: audiocraft reads BeatLM's teams YAML and honours AUDIOCRAFT_DORA_DIR."""

from pathlib import Path

from beatlm.bends import audiocraft_env


def test_dora_dir_from_env(monkeypatch, tmp_path):
    from audiocraft.environment import AudioCraftEnvironment
    monkeypatch.delenv("AUDIOCRAFT_CONFIG", raising=False)
    monkeypatch.setenv("AUDIOCRAFT_DORA_DIR", str(tmp_path / "xps_here"))
    audiocraft_env.apply()
    try:
        assert AudioCraftEnvironment.get_dora_dir() == tmp_path / "xps_here"
        assert audiocraft_env.default_dora_dir() == tmp_path / "xps_here"  # what `beatlm doctor` shows
    finally:
        AudioCraftEnvironment.reset()


def test_default_dora_dir_is_user_writable(monkeypatch, tmp_path):
    from audiocraft.environment import AudioCraftEnvironment
    monkeypatch.delenv("AUDIOCRAFT_CONFIG", raising=False)
    monkeypatch.delenv("AUDIOCRAFT_DORA_DIR", raising=False)
    monkeypatch.delenv("USER", raising=False)  # audiocraft's own teams file needs it; ours must not
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    audiocraft_env.apply()
    try:
        assert Path(audiocraft_env.TEAMS_FILE).is_file()
        assert AudioCraftEnvironment.get_dora_dir() == tmp_path / "beatlm" / "dora"
        assert audiocraft_env.default_dora_dir() == tmp_path / "beatlm" / "dora"
        assert AudioCraftEnvironment.get_reference_dir() == tmp_path / "beatlm" / "reference"
    finally:
        AudioCraftEnvironment.reset()
