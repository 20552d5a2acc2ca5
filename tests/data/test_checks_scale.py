"""Checking 100k files costs: only rank 0 checks, and a manifest that passed is not opened file by file again."""

import gzip
import json
import shutil

import flashy
import omegaconf
import pytest

from beatlm.data import checks
from beatlm.data.checks import check_datasource, check_manifest
from beatlm.utils.errors import BeatLMError


def test_only_rank_zero_checks(tmp_path, monkeypatch):
    missing = str(tmp_path / "nowhere")
    cfg = omegaconf.OmegaConf.create({"datasource": {split: missing for split in
                                                     ("train", "valid", "evaluate", "generate")}})
    monkeypatch.setattr(flashy.distrib, "world_size", lambda: 2)
    monkeypatch.setattr(flashy.distrib, "rank", lambda: 1)
    check_datasource(cfg)  # rank 1 leaves it to rank 0
    monkeypatch.setattr(flashy.distrib, "rank", lambda: 0)
    with pytest.raises(BeatLMError, match="does not exist"):
        check_datasource(cfg)


def test_a_manifest_that_passed_is_remembered_until_a_file_changes(tiny_egs, tmp_path, monkeypatch):
    entry = json.loads(gzip.open(tiny_egs / "valid" / "data.jsonl.gz", "rt").readline())
    audio = tmp_path / "clip.wav"
    shutil.copyfile(entry["path"], audio)
    (tmp_path / "egs").mkdir()
    with gzip.open(tmp_path / "egs" / "data.jsonl.gz", "wt") as f:
        f.write(json.dumps(dict(entry, path=str(audio))) + "\n")
    assert check_manifest(tmp_path / "egs") == 1
    assert (tmp_path / "egs" / "data.jsonl.gz.checked").exists()
    opened = []
    monkeypatch.setattr(checks, "_duration", lambda path: opened.append(path) or 1.0)
    check_manifest(tmp_path / "egs")
    assert opened == []  # remembered: no file opened
    audio.write_bytes(b"RIFF....garbage" * 10)  # another size and modification time
    monkeypatch.undo()
    with pytest.raises(BeatLMError, match="cannot be read as audio"):
        check_manifest(tmp_path / "egs")
