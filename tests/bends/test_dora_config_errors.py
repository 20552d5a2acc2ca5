"""The Dora config-errors bend: mistyped names and overrides give one clear line, not a traceback."""

import pytest


def _message(argv):
    from beatlm import train
    with pytest.raises(SystemExit) as info:
        train.main.get_xp(argv)
    return str(info.value.code)


def test_unknown_solver_lists_choices(dora_dir):
    msg = _message(["solver=compression/beatz"])
    assert msg.startswith("beatlm: error:") and "compression/beats" in msg and "\n" not in msg


def test_unknown_scale_lists_choices(dora_dir):
    msg = _message(["solver=compression/beats", "model_scale=huge"])
    assert "micro" in msg and "full" in msg


def test_unknown_key(dora_dir):
    assert "foo.bar" in _message(["solver=compression/beats", "foo.bar=1"])


def test_no_solver(dora_dir):
    assert "no solver chosen" in _message([])


def test_failed_composition_does_not_corrupt_later_signatures(dora_dir):
    from beatlm import train
    _message([])  # fails while Dora walks a config holding ??? values
    delta = train.main.get_xp(["solver=compression/beats", "optim.lr=0.001"]).delta
    assert ["optim.lr", 0.001] in [list(d) for d in delta]
    assert all(not name.startswith("dataset.") for name, _ in delta)


def test_cli_prints_one_line(run_dora, tmp_path):
    proc = run_dora("-P", "beatlm", "run", "solver=nope", check=False, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "WARNING[XFORMERS]" not in proc.stderr
    assert "beatlm: error: no config 'solver/nope.yaml'" in proc.stderr


def test_required_values_set_on_the_command_line(dora_dir):
    """A solver config's `???` keys, set on the command line, enter the signature (Dora alone raises)."""
    from beatlm import train
    base = ["solver=musiclm/coarse", "model_scale=micro", "mulan_checkpoint=m.th", "semantic_tokenizer_checkpoint=s.th"]
    first = train.main.get_xp(base + ["compression_model_checkpoint=a.th"])
    second = train.main.get_xp(base + ["compression_model_checkpoint=b.th"])
    assert first.cfg.compression_model_checkpoint == "a.th"
    assert first.sig != second.sig
    with pytest.raises(SystemExit, match="compression_model_checkpoint has no value"):
        train.main.get_xp(base)
