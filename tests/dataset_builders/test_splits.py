"""Manifests split by source video: no source in two splits, deterministic, stable, flagged clips left out."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beatlm.dataset_builders import splits
from beatlm.utils.errors import BeatLMError


def make_clips(root: Path, sources: int, seed: int = 0, flag_every: int = 0) -> None:
    """`sources` tracks of 1-4 short clips each; sidecars name the source video like `fetch` does."""
    rng = np.random.default_rng(seed)
    silence = np.zeros(800, dtype=np.float32)
    for s in range(sources):
        folder = root / f"track{s:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for c in range(int(rng.integers(1, 5))):
            name = f"track{s:03d}_{c:04d}"
            sf.write(folder / f"{name}.wav", silence, 8000)
            flagged = bool(flag_every) and (s * 10 + c) % flag_every == 0
            (folder / f"{name}.json").write_text(json.dumps({
                "source_id": f"youtube vid{s}", "bpm": 80 + s, "key": "A minor",
                "beatlm": {"vocals": {"speech_ratio": 0.5 if flagged else 0.0, "flagged": flagged}}}))


def split_sources(out: Path) -> dict:
    """source -> set of splits it has clips in, read back from the manifests and sidecars."""
    found: dict = {}
    for name in splits.SPLITS:
        manifest = out / name / "data.jsonl.gz"
        for entry in splits.read_manifest(manifest) if manifest.exists() else []:
            info = json.loads(Path(entry["path"]).with_suffix(".json").read_text())
            found.setdefault(info["source_id"], set()).add(name)
    return found


def test_no_source_leaks_across_splits(tmp_path):
    make_clips(tmp_path / "clips", 60)
    summary = splits.build_manifests(tmp_path / "clips", tmp_path / "egs", (0.8, 0.1, 0.1))
    found = split_sources(tmp_path / "egs")
    assert len(found) == 60 and all(len(s) == 1 for s in found.values())
    stats = summary.extra["stats"]
    assert all(stats["splits"][name]["clips"] > 0 for name in splits.SPLITS)
    assert sum(stats["splits"][n]["clips"] for n in splits.SPLITS) == stats["total"]["clips"] == summary.done
    assert json.loads((tmp_path / "egs" / "splits.json").read_text())["youtube vid0"] in splits.SPLITS


def test_split_is_deterministic_and_stable_when_data_grows():
    first = splits.assign_splits([f"vid{i}" for i in range(100)], (0.9, 0.05, 0.05))
    assert first == splits.assign_splits([f"vid{i}" for i in reversed(range(100))], (0.9, 0.05, 0.05))
    grown = splits.assign_splits([f"vid{i}" for i in range(300)], (0.9, 0.05, 0.05))
    assert all(grown[s] == first[s] for s in first)
    share = sum(v == "train" for v in grown.values()) / len(grown)
    assert 0.84 < share < 0.96


def test_few_sources_still_fill_every_split():
    result = splits.assign_splits(["a", "b", "c"], (0.9, 0.05, 0.05))
    assert sorted(result.values()) == ["test", "train", "valid"]
    assert splits.assign_splits(["a"], (0.9, 0.05, 0.05)) == {"a": "train"}


def test_flagged_excluded_unless_asked_and_dset_written(tmp_path):
    make_clips(tmp_path / "clips", 12, seed=1, flag_every=3)
    config = tmp_path / "config"
    summary = splits.build_manifests(tmp_path / "clips", tmp_path / "egs", config_dir=config, dset_name="mine")
    kept = summary.done
    assert summary.extra["flagged_excluded"] > 0
    dset = (config / "dset" / "audio" / "mine.yaml").read_text()
    assert "# @package __global__" in dset and f"train: {(tmp_path / 'egs' / 'train').resolve()}" in dset
    assert "max_sample_rate: 8000" in dset and "max_channels: 1" in dset
    everything = splits.build_manifests(tmp_path / "clips", tmp_path / "egs2", include_flagged=True)
    assert everything.done == kept + summary.extra["flagged_excluded"]
    make_clips(tmp_path / "other", 3)
    with pytest.raises(BeatLMError, match="already exists for other data"):
        splits.build_manifests(tmp_path / "other", tmp_path / "egs3", config_dir=config, dset_name="mine")


def test_source_id_from_sidecars():
    assert splits.source_id({"source_id": "youtube x", "url": "u"}, "f") == "youtube x"
    assert splits.source_id({"source": {"url": "https://v/1"}}, "f") == "https://v/1"
    assert splits.source_id({"webpage_url": "https://v/2"}, "f") == "https://v/2"
    assert splits.source_id({"beatlm": {"segment": {"source_file": "a/b.wav"}}}, "f") == "a/b"
    assert splits.source_id({}, "fallback") == "fallback"


def test_bad_splits_and_empty_folders(tmp_path):
    for text in ("0.9,0.1", "0.5,0.5,0.5", "a,b,c", "0,0.5,0.5"):
        with pytest.raises(BeatLMError, match="--splits"):
            splits.parse_splits(text)
    assert splits.parse_splits("0.9,0.05,0.05") == (0.9, 0.05, 0.05)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BeatLMError, match="no audio clip"):
        splits.build_manifests(tmp_path / "empty", tmp_path / "egs")
