from audiocraft.data.audio_dataset import load_audio_meta
import pytest

from beatlm.data.manifest import write_manifest
from beatlm.dataset_builders.loops import write_loops
from beatlm.utils.errors import BeatLMError


def test_write_manifest_lists_every_file(tmp_path, capfd):
    write_loops(tmp_path / "audio", count=2, seconds=1.5, sample_rate=16000)
    path = write_manifest(tmp_path / "audio", tmp_path / "egs")
    assert capfd.readouterr().err == ""  # quiet unless asked
    write_manifest(tmp_path / "audio", tmp_path / "egs", progress=True)
    assert "100.0%" in capfd.readouterr().err  # audiocraft's count of the file headers read
    assert path == tmp_path / "egs" / "data.jsonl.gz"
    meta = load_audio_meta(path)
    assert sorted(m.path.rsplit("/", 1)[1] for m in meta) == ["loop_000.wav", "loop_001.wav"]
    assert all(m.duration == pytest.approx(1.5) and m.sample_rate == 16000 for m in meta)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(BeatLMError, match="no audio file"):
        write_manifest(tmp_path, tmp_path / "egs")
    with pytest.raises(BeatLMError, match="does not exist"):
        write_manifest(tmp_path / "missing", tmp_path / "egs")
