"""`beatlm data separate|segment|features|manifest` end to end on a tiny Demucs, a kill -9 mid-step, user errors."""

import argparse
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
import typing as tp

import numpy as np
import pytest
import soundfile as sf
import torch

from beatlm.cli.data import features as features_cmd
from beatlm.cli.data import manifest as manifest_cmd
from beatlm.cli.data import segment as segment_cmd
from beatlm.cli.data import separate as separate_cmd
from beatlm.dataset_builders import demucs_repo, separation
from beatlm.utils.errors import BeatLMError

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_step(argv: tp.List[str]) -> int:
    parser = argparse.ArgumentParser(prog="beatlm data")
    steps = parser.add_subparsers(dest="step", required=True)
    for module in (separate_cmd, segment_cmd, features_cmd, manifest_cmd):
        module.add_parser(steps)
    args = parser.parse_args(argv)
    return args.run(args)


def no_speech(mono16k: torch.Tensor) -> torch.Tensor:
    return torch.zeros(mono16k.shape[-1] // separation.VAD_WINDOW)


def beat_with_voice(seconds: float, rate: int, bpm: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wav = 0.02 * rng.standard_normal(int(seconds * rate))
    for t in np.arange(0.1, seconds, 60 / bpm):
        start = int(t * rate)
        n = min(int(0.05 * rate), len(wav) - start)
        wav[start:start + n] += 0.6 * np.exp(-np.arange(n) / (0.01 * rate)) * rng.standard_normal(n)
    return wav.astype(np.float32)


@pytest.fixture
def raw(tmp_path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    for i, bpm in enumerate((90, 140, 100, 120)):
        sf.write(folder / f"generic-v{i}.wav", beat_with_voice(9.0, 16000, bpm, i), 16000)
        (folder / f"generic-v{i}.json").write_text(json.dumps({
            "source_id": f"generic v{i // 2}", "title": f"beat {i}", "description": f"a beat at {bpm} bpm"}))
    (folder / "corrupt.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A not really")
    return folder


@pytest.fixture
def tiny_repo(tmp_path) -> Path:
    from demucs.htdemucs import HTDemucs
    torch.manual_seed(0)
    model = HTDemucs(sources=["vocals", "no_vocals"], audio_channels=1, samplerate=8000, segment=1, channels=8,
                     depth=2, nfft=256, t_layers=0)
    demucs_repo.save_to_repo(model, tmp_path / "repo", "tiny")
    return tmp_path / "repo"


def test_steps_end_to_end(raw, tiny_repo, tmp_path, monkeypatch, capsys):
    from beatlm.dataset_builders.splits import read_manifest
    from beatlm.utils.paths import user_config_dir
    monkeypatch.setattr(separation, "silero_speech", no_speech)
    inst, clips, egs = tmp_path / "instrumental", tmp_path / "clips", tmp_path / "egs"
    assert run_step(["separate", str(raw), "--out", str(inst), "--model", "tiny", "--repo", str(tiny_repo),
                     "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "separate: 4 done, 0 skipped (already done), 1 failed" in out and "corrupt.m4a" in out
    assert json.loads((inst / "generic-v0.json").read_text())["beatlm"]["separation"]["repo"] == str(tiny_repo)
    assert run_step(["separate", str(raw), "--out", str(inst), "--repo", str(tiny_repo), "--model", "tiny",
                     "--quiet"]) == 0
    assert "0 done, 4 skipped" in capsys.readouterr().out
    assert run_step(["segment", str(inst), "--out", str(clips), "--duration", "4", "--sample-rate", "8000",
                     "--quiet"]) == 0
    assert "segment: 4 done" in capsys.readouterr().out
    assert run_step(["features", str(clips), "--quiet"]) == 0
    wavs = sorted(clips.rglob("*.wav"))
    assert wavs and all(w.with_suffix(".npz").is_file() and w.with_suffix(".json").is_file() for w in wavs)
    assert run_step(["manifest", str(clips), "--out", str(egs), "--splits", "0.5,0.25,0.25",
                     "--dset-name", "data_steps_test"]) == 0
    assert "dset=audio/data_steps_test" in capsys.readouterr().out
    entries = [e for split in ("train", "valid", "test") if (egs / split / "data.jsonl.gz").exists()
               for e in read_manifest(egs / split / "data.jsonl.gz")]
    assert sorted(Path(e["path"]) for e in entries) == [w.resolve() for w in wavs]
    assert all(e["sample_rate"] == 8000 and e["duration"] == pytest.approx(4.0) for e in entries)
    assert (user_config_dir() / "dset" / "audio" / "data_steps_test.yaml").is_file()


def test_shipped_small_model_is_used_without_repo(tmp_path, monkeypatch, capsys):
    """`--model beatlm_vocals` needs no --repo and no network: the model shipped in beatlm/assets is used."""
    from beatlm.assets import SMALL_DEMUCS_DIR
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(separation, "silero_speech", no_speech)
    (tmp_path / "raw").mkdir()
    sf.write(tmp_path / "raw" / "a.wav", beat_with_voice(3.0, 16000, 100, 0), 16000)
    assert run_step(["separate", str(tmp_path / "raw"), "--out", str(tmp_path / "inst"), "--model", "beatlm_vocals",
                     "--device", "cpu", "--quiet"]) == 0
    assert "separate: 1 done" in capsys.readouterr().out
    record = json.loads((tmp_path / "inst" / "a.json").read_text())["beatlm"]["separation"]
    assert record["model"] == "beatlm_vocals" and record["repo"] == str(SMALL_DEMUCS_DIR.resolve())
    assert sf.info(str(tmp_path / "inst" / "a.wav")).frames == 3 * 16000


@pytest.mark.slow
def test_manifest_loads_in_audiocraft_and_dset_resolves(tmp_path):
    """The manifests are audiocraft's format and `dset=audio/NAME` points a solver at them."""
    from audiocraft.data.audio_dataset import load_audio_meta

    from beatlm import train
    for i in range(6):  # six sources of one 0.1 s clip each (the track folder is the source)
        (tmp_path / "clips" / f"t{i}").mkdir(parents=True)
        sf.write(tmp_path / "clips" / f"t{i}" / "c.wav", np.zeros(800, dtype=np.float32), 8000)
    assert run_step(["manifest", str(tmp_path / "clips"), "--out", str(tmp_path / "egs"),
                     "--dset-name", "data_steps_dset"]) == 0
    metas = load_audio_meta(tmp_path / "egs" / "train" / "data.jsonl.gz")
    assert metas and all(m.sample_rate == 8000 and m.duration == pytest.approx(0.1) for m in metas)
    xp = train.main.get_xp(["solver=compression/beats", "dset=audio/data_steps_dset"])
    assert xp.cfg.datasource.train == str((tmp_path / "egs" / "train").resolve())
    assert xp.cfg.datasource.max_sample_rate == 8000


def test_user_mistakes_are_one_line_errors(raw, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BeatLMError, match="--repo .* is not a folder"):
        run_step(["separate", str(raw), "--out", str(tmp_path / "o"), "--repo", str(tmp_path / "nope")])
    with pytest.raises(BeatLMError, match="could not be downloaded.*--repo DIR"):
        run_step(["separate", str(raw), "--out", str(tmp_path / "o"), "--model", "htdemucs_not_cached", "--quiet"])
    with pytest.raises(BeatLMError, match="does not exist"):
        run_step(["segment", str(tmp_path / "missing"), "--out", str(tmp_path / "c")])
    with pytest.raises(BeatLMError, match="--splits"):
        run_step(["manifest", str(raw), "--splits", "0.9,0.2,0.1"])


KILLABLE = """
import sys, time, torch
from beatlm.dataset_builders import separation

class Slow(torch.nn.Module):
    sources, samplerate, audio_channels, segment = ["vocals", "other"], 16000, 1, 1.0
    def forward(self, mix):
        time.sleep(0.3)
        return torch.stack([0.5 * mix, 0.5 * mix], dim=1)

quiet = lambda x: torch.zeros(x.shape[-1] // 512)
make = lambda: separation.Separator(Slow(), block_seconds=3.0, crossfade_seconds=0.5)
separation.run_separation(sys.argv[1], sys.argv[2], make, {"model": "slow"}, progress=False, speech_fn=quiet)
"""


def test_kill_during_separate_loses_nothing(raw, tmp_path):
    out = tmp_path / "instrumental"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(raw), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*.wav")):  # wait until one file is finished
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.read_bytes() for p in out.glob("*.wav")}
    assert 1 <= len(finished) < 4
    assert all((out / n).with_suffix(".json").is_file() for n in finished)  # a WAV never comes without its sidecar

    def make() -> separation.Separator:
        return separation.Separator(HalfModel(), block_seconds=3.0, crossfade_seconds=0.5)

    summary = separation.run_separation(raw, out, make, {"model": "half"}, progress=False, speech_fn=no_speech)
    assert summary.skipped == len(finished) and summary.done == 4 - len(finished) and len(summary.failed) == 1
    assert {p.name: p.read_bytes() for p in out.glob("*.wav") if p.name in finished} == finished
    assert len(list(out.glob("*.wav"))) == 4 and not list(out.rglob(".*"))


class HalfModel(torch.nn.Module):
    sources, samplerate, audio_channels, segment = ["vocals", "other"], 16000, 1, 1.0

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return torch.stack([0.5 * mix, 0.5 * mix], dim=1)
