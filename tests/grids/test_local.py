"""The local runner's handling of failing and interrupted runs (stand-in processes instead of `dora run`)."""

import sys

import pytest


@pytest.fixture
def runner(grid_config, request, monkeypatch):
    """`runner(script)`: a LocalRunner over compression.debug's two experiments whose runs are `python -c script`."""
    from beatlm.grids import _local
    grid_config({"all": {"label": request.node.name}})
    sheeps = _local.list_experiments("compression.debug")[1]
    lines = []

    def make(script: str):
        monkeypatch.setattr(_local, "dora_command", lambda sheep, threads: [sys.executable, "-c", script])
        return _local.LocalRunner("compression.debug", sheeps, parallel=2, echo=lines.append, poll=0.1), lines
    return make


def test_a_failing_run_is_reported_and_the_others_go_on(runner):
    local, lines = runner("import sys; print('boom: no data'); sys.exit(3)")
    jobs = local.run()
    assert [job.status for job in jobs] == ["failed", "failed"]
    assert sum("FAILED (exit code 3)" in line for line in lines) == 2
    assert any("boom: no data" in line for line in lines)  # the end of the run's log is shown
    from beatlm.grids._local import summary
    assert summary(jobs) == "2 experiments: 0 run to completion now, 0 already complete, 2 failed"


def test_ctrl_c_stops_every_run(runner, monkeypatch):
    from beatlm.grids import _local
    local, lines = runner("import time; time.sleep(600)")
    calls = []

    def interrupt(seconds):
        calls.append(seconds)
        if len(calls) == 3:
            raise KeyboardInterrupt
    monkeypatch.setattr(_local.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        local.run()
    assert [job.status for job in local.jobs] == ["interrupted", "interrupted"]
    assert all(job.process.poll() is not None for job in local.jobs)  # each run was stopped, none left behind
    assert any("interrupted: stopping 2 run(s)" in line for line in lines)
