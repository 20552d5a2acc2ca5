"""The model that ships with the package: present, within its size budget, loads and generates."""

import subprocess
import sys

import torch

from beatlm.models import MusicLM
from beatlm.models.bundle import read_manifest
from beatlm.models.loaders import default_bundle

MAX_MB = 25.0


def test_default_model_is_complete_and_small_enough():
    folder = default_bundle()
    manifest = read_manifest(folder)  # checks every part's presence and sha256
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2 ** 20
    assert size <= MAX_MB, f"the default model is {size:.1f} MB, over the {MAX_MB:g} MB budget"
    assert set(manifest["parts"]) == {"codec", "mulan", "semantic_tokenizer", "semantic", "coarse", "fine"}


def test_default_model_generates_reproducibly():
    model = MusicLM.get_pretrained()
    model.set_generation_params(duration=1.0)
    torch.manual_seed(3)
    a = model.generate(["boom bap beat with dusty piano, 90 bpm"])
    torch.manual_seed(3)
    b = model.generate(["boom bap beat with dusty piano, 90 bpm"])
    assert a.shape == (1, 1, model.sample_rate) and torch.isfinite(a).all()
    assert a.abs().max() > 1e-3  # not silence
    assert torch.equal(a, b)


def test_generate_uses_the_default_model_without_model_flag(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "beatlm", "generate", "lo-fi beat, 80 bpm", "--duration", "1",
                           "--seed", "1", "--out", str(tmp_path), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wavs = list(tmp_path.glob("*.wav"))
    assert len(wavs) == 1 and wavs[0].name in proc.stdout  # written, and its path printed
