"""The keep_last bend: per-epoch checkpoints beyond `checkpoint.keep_last` are flushed."""

import pytest


@pytest.fixture
def solver(tiny_egs, datasource_args, dora_dir):
    from beatlm import train
    args = ["solver=compression/beats", "model_scale=micro", "checkpoint.save_every=1", "checkpoint.keep_last=2",
            "label=keep_last_test"] + datasource_args(tiny_egs)
    xp = train.main.get_xp(args)
    with xp.enter():
        yield train.get_solver(xp.cfg)


def test_only_keep_last_epoch_checkpoints_remain(solver):
    for _ in range(4):
        solver.history.append({})  # what committing an epoch does to the epoch counter
        solver.save_checkpoints()
    kept = sorted(p.name for p in solver.folder.glob("checkpoint_*.th"))
    assert kept == ["checkpoint_3.th", "checkpoint_4.th"]
    assert (solver.folder / "checkpoint.th").exists()
