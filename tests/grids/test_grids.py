"""The MusicLM grids: the experiments they list, the SLURM settings their launcher gets, and coarse/fine
starting from the saved best semantic settings."""

import os

from dora.explore import Herd, Launcher
from dora.shep import Shepherd
import pytest

from beatlm.utils.errors import BeatLMError


def _launch(grid: str):
    """Call a grid's explorer with a Dora launcher, as `dora grid` does; returns the herd it filled."""
    from beatlm import train
    from beatlm.grids._local import load_explorer
    herd = Herd()
    explorer = load_explorer(grid)
    explorer(Launcher(Shepherd(train.main), train.main.get_slurm_config(), herd))
    return herd


def _argv_dict(sheep) -> dict:
    return dict(arg.split("=", 1) for arg in sheep.xp.argv)


def test_semantic_sweep_lists_the_plans_27_points(grid_config, stage_parts):
    grid_config({"all": {"model_scale": "micro"}, "stages": stage_parts})
    herd = _launch("musiclm.semantic_sweep")
    points = {(a["optim.lr"], a["transformer_lm.dropout"], a["transformer_lm.num_layers"])
              for a in map(_argv_dict, herd.sheeps.values())}
    assert len(herd.sheeps) == 27 and len(points) == 27
    assert {p[0] for p in points} == {"0.001", "0.002", "0.003"}
    assert {p[1] for p in points} == {"0.1", "0.2", "0.3"} and {p[2] for p in points} == {"4", "5", "6"}
    sheep = next(iter(herd.sheeps.values()))
    assert sheep.xp.cfg.solver == "semantic_lm" and sheep.xp.cfg.compression_model_checkpoint == "/parts/codec.th"
    assert sheep.xp.cfg.transformer_lm.dim == 128  # the settings' model scale (micro)


def test_mulan_sweep_lists_lr_times_plateau_factor(grid_config):
    grid_config({"all": {"model_scale": "micro"}})
    herd = _launch("musiclm.mulan_sweep")
    assert len(herd.sheeps) == 9
    cfgs = [sheep.xp.cfg for sheep in herd.sheeps.values()]
    assert {(c.optim.lr, c.schedule.plateau.factor) for c in cfgs} == {
        (lr, f) for lr in (2.5e-4, 5e-4, 1e-3) for f in (0.1, 0.3, 0.5)}
    assert {c.schedule.lr_scheduler for c in cfgs} == {"plateau"}  # not micro's cosine


def test_slurm_settings_of_the_config_reach_the_launcher(grid_config):
    grid_config({"all": {"model_scale": "full", "slurm.partition": "gpu_a100", "slurm.constraint": "a100"}})
    herd = _launch("musiclm.mulan_sweep")
    slurms = list(herd.slurm_configs.values())
    assert len(slurms) == 9 and all(s == slurms[0] for s in slurms)
    # config/model_scale/full.yaml's slurm section, and the settings' partition and constraint.
    assert (slurms[0].gpus, slurms[0].mem_per_gpu, slurms[0].time) == (32, 40, 4320)
    assert (slurms[0].partition, slurms[0].constraint) == ("gpu_a100", "a100")
    assert herd.job_arrays == [list(herd.sheeps)]  # one SLURM job array
    # A scale without its own slurm section gets config.yaml's, and the team's partition (config/teams).
    grid_config({"all": {"model_scale": "micro"}})
    micro = next(iter(_launch("musiclm.mulan_sweep").slurm_configs.values()))
    assert (micro.gpus, micro.time, micro.partition) == (4, 3600, "debug")


def test_stage_grid_without_parts_names_the_settings_file(grid_config):
    root = grid_config({"all": {"model_scale": "micro"}})
    with pytest.raises(SystemExit, match="beatlm: error: .*compression_model_checkpoint.*settings.yaml"):
        _launch("musiclm.semantic_sweep")
    assert (root / "grids" / "settings.yaml").exists()


def test_coarse_and_fine_start_from_the_saved_best_semantic_settings(grid_config, stage_parts):
    from beatlm.grids import _settings
    grid_config({"all": {"model_scale": "micro"}, "stages": stage_parts})
    with pytest.raises(SystemExit, match="beatlm grid best musiclm.semantic_sweep"):
        _launch("musiclm.coarse_sweep")
    _settings.save_best("musiclm.semantic_sweep", {
        "metric": "valid/ce", "value": 3.5, "sig": "abcd1234",
        "overrides": ["solver=musiclm/semantic", "model_scale=micro", "optim.lr=0.002",
                      "transformer_lm.dropout=0.3", "transformer_lm.num_layers=5"]})
    for stage in ("coarse", "fine"):
        herd = _launch(f"musiclm.{stage}_sweep")
        cfgs = [sheep.xp.cfg for sheep in herd.sheeps.values()]
        assert {c.solver for c in cfgs} == {f"{stage}_lm"}
        assert {c.transformer_lm.num_layers for c in cfgs} == {5}
        # lr x0.5 / x1 / x1.5; dropout 0.3 + 0.1 is capped at 0.3, so 3 experiments, not 6.
        assert sorted((c.optim.lr, c.transformer_lm.dropout) for c in cfgs) == [(0.001, 0.3), (0.002, 0.3),
                                                                               (0.003, 0.3)]


def test_bad_settings_are_one_line_errors(grid_config):
    from beatlm.grids import _settings
    root = grid_config({"all": ["not", "a", "mapping"]})
    with pytest.raises(BeatLMError, match="section 'all' must map"):
        _settings.grid_overrides("musiclm.mulan_sweep")
    (root / "grids" / "settings.yaml").write_text("all: {model_scale: [unclosed\n")
    with pytest.raises(BeatLMError, match="cannot read .*settings.yaml"):
        _settings.grid_overrides("musiclm.mulan_sweep")


@pytest.mark.slow
def test_dora_grid_dry_run_init_lists_and_initialises_the_experiments(grid_config, stage_parts, run_dora, tmp_path):
    """The user's command: `dora -P beatlm grid musiclm.semantic_sweep --dry_run --init`."""
    config = grid_config({"all": {"model_scale": "micro"}, "stages": stage_parts})
    dora_dir = tmp_path / "dora"
    env = {"AUDIOCRAFT_DORA_DIR": str(dora_dir), "BEATLM_CONFIG_DIR": str(config)}
    proc = run_dora("-P", "beatlm", "grid", "musiclm.semantic_sweep", "--dry_run", "--init", env=env)
    folders = sorted(p.name for p in (dora_dir / "xps").iterdir())
    assert len(folders) == 27
    assert all((dora_dir / "xps" / sig / ".argv.json").exists() for sig in folders)
    assert all(sig in proc.stdout for sig in folders)  # the table lists every signature
    assert proc.stdout.count("| 0/10 ") == 27  # the explorer's progress column: epochs done / to train
    assert not os.listdir(dora_dir / "grids" / "musiclm.semantic_sweep")  # a dry run schedules nothing
