"""End to end through Dora on CPU: train on the tiny manifests, interrupt, resume, export, load, encode/decode."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest
import torch

pytestmark = pytest.mark.slow


def _history(folder: Path) -> list:
    path = folder / "history.json"
    return json.loads(path.read_text()) if path.exists() else []


@pytest.mark.parametrize("model", ["encodec/default", "encodec/spectral"])
def test_train_interrupt_resume_export_load(model, tiny_egs, datasource_args, dora_dir, run_dora, tmp_path):
    from beatlm import train
    args = ["solver=compression/beats", "model_scale=micro", f"model={model}", "optim.epochs=3",
            "optim.updates_per_epoch=2", "dataset.valid.num_samples=2", "dataset.evaluate.num_samples=2",
            "dataset.generate.num_samples=1", "dataset.generate.segment_duration=1", "rvq.kmeans_iters=2",
            "label=e2e"] + datasource_args(tiny_egs)
    xp = train.main.get_xp(args)

    # 1. Train, and interrupt the run once the first epoch is committed (a short epoch may still end
    #    before the signal is handled: the run must stop before its last one).
    # A shell starts background jobs with SIGINT ignored, and the child would inherit that (then Ctrl-C does
    # nothing): give it the default handling a terminal user has, however pytest itself was started.
    proc = subprocess.Popen([sys.executable, "-m", "dora", "-P", "beatlm", "run", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while len(_history(xp.folder)) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    done = len(_history(xp.folder))
    assert 1 <= done < 3, "the run should have been interrupted before its last epoch"
    assert (xp.folder / "checkpoint.th").exists()

    # 2. Running again resumes: the epoch counter continues from the checkpoint.
    resumed = run_dora("-P", "beatlm", "run", *args)
    assert "Loading existing checkpoint" in resumed.stderr
    assert len(_history(xp.folder)) == 3

    # 3. Export, then load with no XP folder present and encode/decode a clip.
    from beatlm.cli.main import main
    from beatlm.models.loaders import load_compression_model
    out = tmp_path / "out" / "codec.th"
    assert main(["export", "codec", f"//sig/{xp.sig}", str(out)]) == 0
    moved = tmp_path / "elsewhere"
    xp.folder.rename(moved)
    try:
        codec = load_compression_model(out)
    finally:
        moved.rename(xp.folder)
    wav = torch.randn(2, 1, 48000) * 0.1  # 1.5 s
    with torch.no_grad():
        codes, scale = codec.encode(wav)
        decoded = codec.decode(codes, scale)
    assert codes.shape == (2, 4, 75)  # [B, K, frames], 50 frames per second
    assert codes.dtype in (torch.int32, torch.int64) and 0 <= codes.min() and codes.max() < codec.cardinality
    assert decoded.shape == wav.shape and torch.isfinite(decoded).all()


def test_dora_info_and_clear(codec_xp, run_dora, tmp_path):
    args, xp = codec_xp
    info = run_dora("-P", "beatlm", "info", *args, cwd=tmp_path)  # from any directory
    assert xp.sig in info.stdout + info.stderr
    env_run = run_dora("run", "--clear", *args, env={"DORA_PACKAGE": "beatlm"}, cwd=tmp_path)
    assert "Loading existing checkpoint" not in env_run.stderr  # started from scratch
    assert len(_history(xp.folder)) == 2


def test_default_threads_share_the_cores_between_processes(monkeypatch):
    from beatlm import train
    monkeypatch.setattr(train.os, "cpu_count", lambda: 4)
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert train.default_num_threads() == 4
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert train.default_num_threads() == 2
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert train.default_num_threads() == 1
