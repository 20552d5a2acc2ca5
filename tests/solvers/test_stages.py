"""The semantic, coarse and fine stage solvers: 2 updates on a tiny cached corpus, resume, metrics, samples."""

import json

import pytest
import torch


@pytest.mark.parametrize("stage", ["semantic", "coarse", "fine"])
def test_stage_trains_resumes_and_generates(stage, beat_corpus, hierarchy_parts, stage_args, run_dora, dora_dir,
                                           tmp_path):
    from beatlm import train
    args = stage_args(stage, beat_corpus, hierarchy_parts)
    run_dora("-P", "beatlm", "run", *args)
    xp = train.main.get_xp(args)
    assert any((dora_dir / "token_cache").iterdir())  # in the Dora folder in use, not the default one
    history = json.loads((xp.folder / "history.json").read_text())
    last = history[-1]
    assert last["train"]["ce"] > 0 and "ce_q1" in last["train"] and last["train"]["tokens_per_s"] > 0
    assert last["valid"]["ce_unigram"] > 0 and "ce_shuffled" in last["valid"]
    streams = {"semantic": 1, "coarse": 2, "fine": 2}[stage]
    for k in range(1, streams + 1):
        assert last["valid"][f"ce_unigram_q{k}"] > 0 and last["valid"][f"ce_shuffled_q{k}"] > 0
    assert last["evaluate"]["ce"] > 0
    assert last["generate"]["samples"] == 1
    samples = list((xp.folder / "samples" / "epoch_1").iterdir())
    suffix = ".th" if stage == "semantic" else ".wav"
    assert any(p.suffix == suffix for p in samples) and any(p.suffix == ".txt" for p in samples)

    resumed = run_dora("-P", "beatlm", "run", *args)
    assert "Loading existing checkpoint" in resumed.stderr
    assert "reusing token cache" in resumed.stderr
    _export_and_load(stage, xp, hierarchy_parts, tmp_path)


def _export_and_load(stage, xp, parts, tmp_path):
    """`beatlm export stage` writes the best weights with what they were trained on; `load_stage_lm` reads them."""
    from beatlm.cli.main import main
    from beatlm.data.token_cache import codec_info
    from beatlm.models.loaders import load_compression_model, load_mulan_model, load_stage_lm
    from beatlm.utils.checkpoint import load_checkpoint
    out = tmp_path / f"{stage}.th"
    assert main(["export", "stage", f"//sig/{xp.sig}", str(out)]) == 0
    lm, meta = load_stage_lm(out, load_mulan_model(parts["mulan"]))
    assert meta["stage"] == stage and meta["window"] == 1.0
    assert meta["trained_on"]["codec"] == codec_info(load_compression_model(parts["codec"]))["signature"]
    best = load_checkpoint(xp.folder / "checkpoint.th")["best_state"]["model"]
    assert all(torch.equal(value, best[name]) for name, value in lm.state_dict().items())


@pytest.fixture(scope="module")
def coarse_solver(beat_corpus, hierarchy_parts, stage_args, dora_dir):
    from beatlm import train
    args = stage_args("coarse", beat_corpus, hierarchy_parts, "classifier_free_guidance.training_dropout=0.3")
    xp = train.main.get_xp(args)
    with xp.enter():
        solver = train.get_solver(xp.cfg)
    return solver


def test_null_condition_at_the_drop_rate(coarse_solver):
    solver = coarse_solver
    solver._current_stage = "train"
    drops = torch.cat([solver.cfg_drop(100) for _ in range(40)])
    assert 0.3 - 0.04 < float(drops.float().mean()) < 0.3 + 0.04
    batch = next(iter(solver.dataloaders["valid"]))
    drop = torch.tensor([True] + [False] * (batch["codes"].shape[0] - 1))
    conds = solver.condition_tensors(batch, drop)
    for name, (embedding, mask) in conds.items():
        assert not mask[0].any() and not embedding[0].any(), name
        assert mask[1:].all(), name
    solver._current_stage = "valid"
    assert not solver.cfg_drop(1000).any()


def test_shuffled_conditioning_changes_the_loss(coarse_solver):
    solver = coarse_solver
    batch = next(iter(solver.dataloaders["valid"]))
    codes, valid = solver.targets(batch)
    keep = torch.zeros(codes.shape[0], dtype=torch.bool)
    with torch.no_grad():
        ce, _, scored = solver._cross_entropy(codes, solver.condition_tensors(batch, keep), valid)
        baselines = solver._baselines(batch, codes, scored, keep)
    assert baselines["ce_unigram"] > 0
    assert "ce_shuffled" not in baselines or baselines["ce_shuffled"] != float(ce)


@pytest.mark.parametrize("override, message", [
    ("coarse_codebooks=4", "coarse_codebooks=4, but codec"),
    ("mulan_checkpoint=/nowhere/mulan.th", "/nowhere/mulan.th does not exist"),
    ("fsdp.use=true", "fsdp.use=true needs CUDA GPUs"),
])
def test_bad_parts_fail_before_training_with_one_line(override, message, beat_corpus, hierarchy_parts, stage_args,
                                                       run_dora):
    args = stage_args("fine", beat_corpus, hierarchy_parts)
    key = override.split("=")[0]
    args = [a for a in args if not a.startswith(key + "=")] + [override]
    proc = run_dora("-P", "beatlm", "run", *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "Train" not in proc.stderr
