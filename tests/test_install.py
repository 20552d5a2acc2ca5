"""`pip install .` (not editable) into a fresh venv gives a working `dora run`: the config ships inside."""

import os
from pathlib import Path
import subprocess
import sys
import sysconfig

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_non_editable_install_runs_dora(tmp_path, tiny_egs, datasource_args):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Dependencies come from the test environment (a .pth path entry does not activate its
    # editable BeatLM: that is installed through a .pth *file* there, which is not processed).
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(REPO)],
                   check=True, capture_output=True, cwd=tmp_path)
    where = subprocess.run([python, "-c", "import beatlm, pathlib; print(pathlib.Path(beatlm.__file__).parent)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    package = Path(where)
    assert package.parent == Path(site), f"beatlm imported from {package}, not the fresh install"
    assert (package / "config").is_dir() and not (package / "config").is_symlink()
    assert (package / "config" / "solver" / "compression" / "beats.yaml").is_file()

    env = dict(os.environ, AUDIOCRAFT_DORA_DIR=str(tmp_path / "dora"))
    args = ["solver=compression/beats", "model_scale=micro", "optim.epochs=1", "optim.updates_per_epoch=1",
            "dataset.valid.num_samples=1", "dataset.evaluate.num_samples=1", "dataset.generate.num_samples=1",
            "dataset.generate.segment_duration=1", "rvq.kmeans_iters=1"] + datasource_args(tiny_egs)
    proc = subprocess.run([python, "-m", "dora", "-P", "beatlm", "run", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((tmp_path / "dora" / "xps").glob("*/checkpoint.th"))
