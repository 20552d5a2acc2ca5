"""Manifest checks before training: missing manifests and bad files are named, with the fix."""

import gzip
import json
import shutil

from omegaconf import OmegaConf
import pytest

from beatlm.data.checks import check_datasource, check_manifest
from beatlm.utils.errors import BeatLMError


def _manifest_with(tmp_path, tiny_egs, mutate):
    """Copy the tiny valid split (audio + manifest) and let `mutate(audio_path)` break its file."""
    entry = json.loads(gzip.open(tiny_egs / "valid" / "data.jsonl.gz", "rt").readline())
    audio = tmp_path / "clip.wav"
    shutil.copyfile(entry["path"], audio)
    entry["path"] = str(audio)
    mutate(audio, entry)
    folder = tmp_path / "egs"
    folder.mkdir()
    with gzip.open(folder / "data.jsonl.gz", "wt") as f:
        f.write(json.dumps(entry) + "\n")
    return folder


def test_good_manifest_passes(tiny_egs):
    assert check_manifest(tiny_egs / "train") == 3


def test_missing_manifest(tmp_path):
    with pytest.raises(BeatLMError, match="does not exist"):
        check_manifest(tmp_path / "nowhere")
    with pytest.raises(BeatLMError, match="no manifest in"):
        check_manifest(tmp_path)


@pytest.mark.parametrize("mutate,expected", [
    (lambda audio, entry: audio.unlink(), "is missing"),
    (lambda audio, entry: audio.write_bytes(b""), "zero length"),
    (lambda audio, entry: audio.write_bytes(b"RIFF....garbage" * 10), "cannot be read as audio"),
])
def test_bad_file_is_named(tmp_path, tiny_egs, mutate, expected):
    folder = _manifest_with(tmp_path, tiny_egs, mutate)
    with pytest.raises(BeatLMError, match=expected) as info:
        check_manifest(folder)
    assert "clip.wav" in str(info.value) and "rebuild the manifest" in str(info.value)


def test_training_needs_every_split(tiny_egs):
    cfg = OmegaConf.create({"execute_only": None, "datasource": {"train": str(tiny_egs / "train"), "valid": None}})
    with pytest.raises(BeatLMError, match="valid, evaluate, generate"):
        check_datasource(cfg)
    only_valid = OmegaConf.create({"execute_only": "valid", "datasource": {"valid": str(tiny_egs / "valid")}})
    check_datasource(only_valid)


@pytest.mark.slow
def test_dora_run_with_bad_file_stops_before_training(tmp_path, tiny_egs, run_dora, datasource_args):
    folder = _manifest_with(tmp_path, tiny_egs, lambda audio, entry: audio.write_bytes(b""))
    data = [arg if not arg.startswith("datasource.valid=") else f"datasource.valid={folder}"
            for arg in datasource_args(tiny_egs)]  # the valid split lists an empty file
    args = ["solver=compression/beats", "model_scale=micro", "label=bad_data"] + data
    proc = run_dora("-P", "beatlm", "run", *args, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("beatlm: error:")]
    assert len(errors) == 1 and "clip.wav" in errors[0] and "zero length" in errors[0]
    from beatlm import train
    assert not list(train.main.get_xp(args).folder.glob("checkpoint*.th"))
