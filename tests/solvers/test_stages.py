"""The semantic, coarse and fine stage solvers: 2 updates on a tiny cached corpus, resume, metrics, samples."""

import json

import pytest


@pytest.mark.parametrize("stage", ["semantic", "coarse", "fine"])
def test_stage_trains_resumes_and_generates(stage, beat_corpus, hierarchy_parts, stage_args, run_dora, dora_dir):
    from beatlm import train
    args = stage_args(stage, beat_corpus, hierarchy_parts)
    run_dora("-P", "beatlm", "run", *args)
    xp = train.main.get_xp(args)
    history = json.loads((xp.folder / "history.json").read_text())
    last = history[-1]
    assert last["train"]["ce"] > 0 and "ce_q1" in last["train"]
    assert last["valid"]["ce_unigram"] > 0 and "ce_shuffled" in last["valid"]
    assert last["evaluate"]["ce"] > 0
    assert last["generate"]["samples"] == 1
    samples = list((xp.folder / "samples" / "epoch_1").iterdir())
    suffix = ".th" if stage == "semantic" else ".wav"
    assert any(p.suffix == suffix for p in samples) and any(p.suffix == ".txt" for p in samples)

    resumed = run_dora("-P", "beatlm", "run", *args)
    assert "Loading existing checkpoint" in resumed.stderr
    assert "reusing token cache" in resumed.stderr
