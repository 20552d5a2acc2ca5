"""`beatlm grid list|run|best`: listing, running a toy grid here to completion, picking the best, bad input."""

import json
from pathlib import Path

import pytest

from beatlm.cli.main import main


def _histories(sheeps, values):
    """Write a Dora history of two epochs into each experiment's folder: valid/ce per epoch from `values`."""
    from beatlm import train
    for sheep, per_epoch in zip(sheeps, values):
        train.main.init_xp(sheep.xp)
        entries = [{"train": {"ce": 5.0}, "valid": {"ce": ce, "sisnr": -ce}} for ce in per_epoch]
        (Path(sheep.xp.folder) / "history.json").write_text(json.dumps(entries))


@pytest.fixture
def debug_grid(grid_config, tiny_egs, datasource_args, request):
    """compression.debug (2 micro codecs of 2 epochs) on the tiny manifests, labelled with the test's name (its
    own experiments); returns them."""
    from beatlm.grids._local import list_experiments
    settings = dict(arg.split("=", 1) for arg in datasource_args(tiny_egs))
    grid_config({"all": {**settings, "label": request.node.name.replace("[", "_").replace("]", "")}})
    return list_experiments("compression.debug")[1]


def test_list_names_the_grids(capsys):
    assert main(["grid", "list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"musiclm.mulan_sweep", "musiclm.semantic_sweep", "musiclm.coarse_sweep", "musiclm.fine_sweep",
            "compression.debug"} <= set(names)
    assert not any(name.split(".")[-1].startswith("_") for name in names)


def test_best_picks_the_lowest_value_over_epochs_of_complete_experiments(debug_grid, capsys):
    first, second = debug_grid
    _histories(debug_grid, [[4.0, 3.0], [3.5, 3.2]])
    assert main(["grid", "best", "compression.debug", "--metric", "valid/ce", "--save"]) == 0
    out = capsys.readouterr().out
    assert f"sig        {first.xp.sig}" in out and "valid/ce   3 (epoch 2)" in out
    assert " ".join(first.xp.argv) in out
    saved = Path(out.strip().splitlines()[-1].removeprefix("saved to "))
    assert saved.name == "compression.debug.yaml" and first.xp.sig in saved.read_text()
    # max mode: the highest valid/sisnr (-3.0 of the first at epoch 2).
    assert main(["grid", "best", "compression.debug", "--metric", "valid/sisnr", "--mode", "max"]) == 0
    assert f"sig        {first.xp.sig}" in capsys.readouterr().out
    # An incomplete experiment (1 of 2 epochs) is left out, even with the better value.
    _histories(debug_grid, [[4.0, 3.0], [1.0]])
    assert main(["grid", "best", "compression.debug", "--metric", "valid/ce"]) == 0
    out = capsys.readouterr().out
    assert f"sig        {first.xp.sig}" in out and "1 incomplete left out" in out


@pytest.mark.parametrize("argv, message", [
    (["grid", "run", "musiclm.nope"], "no grid 'musiclm.nope' in beatlm.grids; grids: compression.debug"),
    (["grid", "best", "nope", "--metric", "valid/ce"], "no grid 'nope'"),
    (["grid", "run", "musiclm._explorers"], "bad grid name"),
    (["grid", "run", "compression.debug", "--parallel", "0"], "--parallel must be at least 1"),
])
def test_bad_grid_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("beatlm: error: ") and message in err and "Traceback" not in err


def test_best_errors_name_the_problem(debug_grid, capsys):
    assert main(["grid", "best", "compression.debug", "--metric", "valid/ce"]) == 2
    assert "no complete experiment in grid compression.debug (2 listed, 0 started)" in capsys.readouterr().err
    _histories(debug_grid, [[4.0, 3.0], [3.5, 3.2]])
    assert main(["grid", "best", "compression.debug", "--metric", "valid/nope"]) == 2
    err = capsys.readouterr().err
    assert "logged valid/nope; logged: train/ce, valid/ce, valid/sisnr" in err
    assert main(["grid", "best", "compression.debug", "--metric", "ce"]) == 2
    assert "--metric must be <stage>/<name>" in capsys.readouterr().err


def test_run_dry_run_lists_without_running(debug_grid, capsys):
    _histories(debug_grid[:1], [[4.0, 3.0]])
    assert main(["grid", "run", "compression.debug", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2/2 epochs  complete" in out and "0/2 epochs  not started" in out and "would run 1, 1 at a time" in out


@pytest.mark.slow
def test_run_trains_a_toy_grid_to_completion_then_skips_it(debug_grid, capsys, run_dora):
    """Two micro codecs run here through Dora, under the signatures `dora grid` gives them."""
    from beatlm.grids._local import history
    assert main(["grid", "run", "compression.debug", "--parallel", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 experiments: 2 run to completion now, 0 already complete, 0 failed" in out
    for sheep in debug_grid:
        assert len(history(sheep)) == 2 and (Path(sheep.xp.folder) / "checkpoint.th").exists()
        assert f"{sheep.xp.sig} epoch 2/2" in out and f"{sheep.xp.sig} done in" in out
    # Run again: both are complete and skipped; `dora grid` shows them with their metrics.
    assert main(["grid", "run", "compression.debug"]) == 0
    assert "0 run to completion now, 2 already complete" in capsys.readouterr().out
    import os
    shown = run_dora("-P", "beatlm", "grid", "compression.debug", "--dry_run",
                     env={"BEATLM_CONFIG_DIR": os.environ["BEATLM_CONFIG_DIR"]}).stdout
    for sheep in debug_grid:
        line = next(line for line in shown.splitlines() if sheep.xp.sig in line)
        assert "2/2" in line  # epochs done / to train
