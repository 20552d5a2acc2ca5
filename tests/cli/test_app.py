"""`beatlm app`: its options and the one-line errors it gives before anything is loaded or served.

The served app itself is tested end to end in tests/app/test_e2e.py.
"""

import os

import pytest

from beatlm.cli.main import main


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["app", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--host", "--port", "--out", "--queue-size", "--max-duration", "--device"):
        assert option in out
    assert "127.0.0.1" in out and "7860" in out


@pytest.mark.parametrize("args, message", [
    (["--port", "0"], "--port must be between 1 and 65535"),
    (["--port", "70000"], "--port must be between 1 and 65535"),
    (["--queue-size", "0"], "--queue-size must be at least 1"),
    (["--max-duration", "0.1"], "--max-duration must be in"),
    (["--max-duration", "100000"], "--max-duration must be in"),
    (["--device", "tpu"], "--device must be auto, cpu or cuda"),
])
def test_impossible_options_exit_2_with_one_line(capsys, args, message):
    before = os.environ.get("GRADIO_ANALYTICS_ENABLED")
    assert main(["app", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("beatlm: error: ") and message in err and "Traceback" not in err
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == before  # refused before Gradio is set up


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["app", "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
