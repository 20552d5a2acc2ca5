"""`beatlm demo` (what `make demo` runs): input and reconstruction written side by side."""

import os
import subprocess
import sys

import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def test_demo_writes_input_and_reconstruction(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "beatlm", "demo", "--out", str(out), "--epochs", "1",
                           "--updates", "1"], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    source, recon = out / "input.wav", out / "input_recon.wav"
    assert f"input:          {source}" in proc.stdout and f"reconstruction: {recon}" in proc.stdout
    assert (out / "codec.th").is_file()
    a, sr_a = sf.read(source)
    b, sr_b = sf.read(recon)
    assert sr_a == sr_b == 32000 and len(a) == len(b) and abs(b).max() > 0


def test_demo_rejects_bad_numbers(capsys):
    from beatlm.cli.main import main
    assert main(["demo", "--epochs", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
