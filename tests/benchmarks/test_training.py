"""`beatlm bench training`: arguments checked before anything runs, the Dora arguments of each run, the table."""

import pytest

from beatlm.benchmarks.training import SOLVERS, run_benchmark, solver_args, table
from beatlm.cli.main import main
from beatlm.utils.errors import BeatLMError


def test_a_batch_that_does_not_split_is_refused_before_any_work(tmp_path):
    with pytest.raises(BeatLMError, match="does not split over"):
        run_benchmark(tmp_path, solvers=["codec"], processes=[1, 3], corpus=tmp_path)
    with pytest.raises(BeatLMError, match="unknown solver"):
        run_benchmark(tmp_path, solvers=["vocoder"], corpus=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing rendered or trained


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["bench", "training", "--updates", "0"]) == 2
    assert main(["bench", "training", "--corpus", str(tmp_path)]) == 2
    assert "egs/train" in capsys.readouterr().err


def test_every_run_is_two_epochs_with_the_global_batch(tmp_path):
    parts = {name: tmp_path / f"{name}.th" for name in ("codec", "mulan", "semantic")}
    for solver in SOLVERS:
        args = solver_args(solver, tmp_path / "egs", parts, batch=8, updates=3, segment=5.0)
        assert {"optim.epochs=2", "optim.updates_per_epoch=3", "dataset.batch_size=8"} <= set(args), solver
        assert (f"compression_model_checkpoint={parts['codec']}" in args) == (solver in ("semantic", "coarse", "fine"))


def test_table():
    rows = [{"solver": "semantic", "processes": n, "batch": 16, "updates": 5, "train_s": 2.0 / n,
             "clips_per_s": 40.0 * n, "audio_s_per_s": 200.0 * n, "tokens_per_s": 5000.0 * n, "wall_s": 30.0,
             "speedup": float(n)} for n in (1, 2)]
    lines = table(rows).splitlines()
    assert lines[0].split() == ["solver", "procs", "batch", "train", "s", "clips/s", "audio", "s/s", "tokens/s",
                                "speed-up"]
    assert lines[3].split() == ["semantic", "2", "16", "1.00", "80.0", "400.0", "10000", "2.00x"]
