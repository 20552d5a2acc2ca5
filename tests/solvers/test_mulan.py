"""The MuLaN solver: Dora training with metrics and the quantizer, resume, export, `beatlm eval mulan`."""

import json
import math
from pathlib import Path

from audiocraft.data.music_dataset import MusicInfo
import pytest
import torch


def _args(corpus: Path, *extra: str):
    egs = corpus / "egs"
    return ["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2", "dataset.batch_size=4",
            "dataset.num_workers=0", "optim.epochs=2", "optim.updates_per_epoch=2", "dataset.valid.num_samples=4",
            "generate.quantizer_samples=64", "label=mulan_test",
            "scaled.mulan.lr_scheduler=plateau",  # the rate at optim.lr from the first of the tests' few updates
            f"datasource.train={egs / 'train'}", f"datasource.valid={egs / 'valid'}",
            f"datasource.evaluate={egs / 'train'}", f"datasource.generate={egs / 'valid'}", *extra]


def _info(path: str, description):
    meta = type("Meta", (), {"path": path})()
    info = MusicInfo(meta=meta, seek_time=0., n_frames=10, total_frames=10, sample_rate=16000, channels=1)
    info.description = description
    return info


def test_items_without_caption_or_sound_are_skipped_and_counted(beat_corpus, dora_dir):
    from beatlm import train
    xp = train.main.get_xp(_args(beat_corpus))
    with xp.enter():
        solver = train.get_solver(xp.cfg)
    clip = str(next((beat_corpus / "audio" / "train").glob("*.wav")))
    wav = torch.randn(3, 1, 32000) * 0.1
    wav[1] = 0  # silent
    infos = [_info(clip, None), _info(clip, "a beat"), _info("/nowhere/x.wav", None)]
    kept_wav, texts = solver._pairs((wav, infos))
    assert len(texts) == 1 and texts[0]  # the first clip: a caption from its sidecar
    assert kept_wav.shape == (1, 32000)
    assert solver.skipped == {"silent": 1, "no_caption": 1}

    from beatlm.data.mel_windows import MelWindow
    frames = torch.randn(3, 100, 64)
    windows = [MelWindow(clip, None, 0.1), MelWindow(clip, "a beat", 0.0), MelWindow("/nowhere/x.wav", None, 0.1)]
    kept, texts = solver._pairs((frames, windows))
    assert len(texts) == 1 and texts[0] and torch.equal(kept[0], frames[0])
    assert solver.skipped == {"silent": 2, "no_caption": 2}


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_training_step_on_frames_or_audio(in_memory, beat_corpus, dora_dir):
    from beatlm import train
    from beatlm.data.mel_windows import MelWindowDataset
    xp = train.main.get_xp(_args(beat_corpus, f"frames_in_memory={in_memory}", "frames_loader_workers=1"))
    with xp.enter():
        solver = train.get_solver(xp.cfg)
    assert isinstance(solver.dataloaders["train"].dataset, MelWindowDataset) == in_memory
    # In-memory windows are cut by frames_loader_workers processes; audio windows read by dataset.num_workers (0).
    assert solver.dataloaders["train"].num_workers == (1 if in_memory else 0)
    assert not isinstance(solver.dataloaders["evaluate"].dataset, MelWindowDataset)  # whole clips of audio
    solver._current_stage = "train"
    with torch.no_grad():
        solver.model.contrast.temperatures.fill_(math.log(85.0))  # above max_temp (80), still finite
    before = [p.detach().clone() for p in solver.model.parameters() if p.requires_grad]
    metrics = solver.run_step(0, next(iter(solver.dataloaders["train"])), {})
    assert metrics["loss"] > 0 and metrics["lr"] > 0
    assert float(solver.model.contrast.temperatures.exp()) == pytest.approx(80.0)  # clamped after the update
    assert metrics["temperature"] == pytest.approx(80.0)  # logged after the clamp
    assert solver.optimizer.defaults["fused"]  # torch's one-pass AdamW (config/solver/musiclm/mulan.yaml)
    after = [p for p in solver.model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_a_per_update_learning_rate_schedule(beat_corpus, dora_dir):
    from beatlm import train
    xp = train.main.get_xp(_args(beat_corpus, "schedule.lr_scheduler=cosine", "schedule.cosine.warmup=4",
                                 "optim.lr=1e-3"))
    with xp.enter():
        solver = train.get_solver(xp.cfg)
    solver._current_stage = "train"
    batch = next(iter(solver.dataloaders["train"]))
    lrs = [solver.run_step(i, batch, {})["lr"] for i in range(3)]
    assert lrs == pytest.approx([0.25e-3, 0.5e-3, 0.75e-3])  # warmed up once per update
    from beatlm.utils.errors import BeatLMError
    # An unknown schedule; one whose warm-up is unset.
    for bad in (["schedule.lr_scheduler=sawtooth"], ["schedule.lr_scheduler=polynomial_decay"]):
        xp = train.main.get_xp(_args(beat_corpus, *bad))
        with xp.enter(), pytest.raises(BeatLMError, match="schedule.lr_scheduler=.* cannot be built"):
            train.get_solver(xp.cfg)


def test_micro_learning_rate_follows_a_cosine_over_the_whole_run(beat_corpus, dora_dir):
    from audiocraft.optim.cosine_lr_scheduler import CosineLRScheduler

    from beatlm import train
    args = [a for a in _args(beat_corpus) if not a.startswith(("optim.", "scaled.mulan.lr_scheduler"))]
    xp = train.main.get_xp(args)
    with xp.enter():
        solver = train.get_solver(xp.cfg)
    # config/model_scale/micro.yaml: 22 epochs of 100 updates, warm-up over the first 100.
    assert isinstance(solver.lr_scheduler, CosineLRScheduler) and not solver._plateau
    assert (solver.lr_scheduler.warmup_steps, solver.lr_scheduler.total_steps) == (100, 2200)


@pytest.mark.slow
def test_train_evaluate_fit_resume_export_eval(beat_corpus, dora_dir, run_dora, tmp_path, capsys):
    from beatlm import train
    args = _args(beat_corpus)
    run_dora("-P", "beatlm", "run", *args)
    xp = train.main.get_xp(args)
    history = json.loads((xp.folder / "history.json").read_text())
    assert len(history) == 2
    last = history[-1]
    assert last["train"]["loss"] > 0 and "lr" in last["train"] and last["valid"]["loss"] > 0
    for key in ("recall@1", "recall@5", "recall@10", "recall@10_chance", "median_rank", "zero_shot_accuracy",
                "zero_shot_chance"):
        assert key in last["evaluate"], key
    assert last["generate"]["quantizer_embeddings"] >= 64 and last["generate"]["quantizer_cosine"] > 0.5

    resumed = run_dora("-P", "beatlm", "run", *args)  # restores model, quantizer and the plateau scheduler
    assert "Loading existing checkpoint" in resumed.stderr

    from beatlm.cli.main import main
    from beatlm.models.loaders import build_mulan, load_mulan_model, mulan_package
    from beatlm.utils.checkpoint import load_checkpoint
    out = tmp_path / "mulan.th"
    assert main(["export", "mulan", f"//sig/{xp.sig}", str(out)]) == 0
    exported = load_mulan_model(out)
    cfg, states = mulan_package(load_checkpoint(xp.folder / "checkpoint.th"), xp.folder)
    direct = build_mulan(cfg, states)
    wav = torch.randn(1, 1, 3 * 16000) * 0.1
    with torch.no_grad():
        assert torch.equal(exported.embed_audio(wav, 16000), direct.embed_audio(wav, 16000))
        assert torch.equal(exported.embed_text(["a trap beat"]), direct.embed_text(["a trap beat"]))
        assert torch.equal(exported.tokens(exported.embed_text(["x"])), direct.tokens(direct.embed_text(["x"])))

    capsys.readouterr()
    report = tmp_path / "report.json"
    assert main(["eval", "mulan", "--model", str(out), "--manifest", str(beat_corpus / "egs" / "train"),
                 "--manifest", str(beat_corpus / "egs" / "valid"), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "clips: 7" in printed and "recall@10" in printed and "zero-shot style" in printed
    assert json.loads(report.read_text())["retrieval_pool"] == 7


def test_export_refuses_a_codec_checkpoint(codec_xp, tmp_path, capsys):
    from beatlm.cli.main import main
    _, xp = codec_xp
    assert main(["export", "mulan", str(xp.folder), str(tmp_path / "m.th")]) == 2
    assert "not MuLaN" in capsys.readouterr().err
