"""The musiclm-offline bend: musiclm-pytorch imports without fairseq/torchvision, logging intact."""

import logging
import subprocess
import sys

import pytest


def test_import_in_a_fresh_process_keeps_the_root_log_level():
    code = ("import logging; logging.root.setLevel(logging.INFO)\n"
            "from beatlm.bends import musiclm_offline; musiclm_offline.apply()\n"
            "import musiclm_pytorch, sys\n"
            "print(logging.root.level, type(sys.modules['fairseq']).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(logging.INFO), "_PlaceholderModule"]


def test_placeholder_fails_clearly_when_used():
    from beatlm.bends import musiclm_offline
    musiclm_offline.apply()
    import fairseq
    with pytest.raises(ImportError, match="fairseq"):
        fairseq.checkpoint_utils()


def test_mulan_trains_a_step():
    import torch

    from beatlm.bends import musiclm_offline
    musiclm_offline.apply()
    from musiclm_pytorch import AudioSpectrogramTransformer, MuLaN, TextTransformer
    audio = AudioSpectrogramTransformer(dim=32, depth=2, heads=2, dim_head=16, accept_spec=True)
    audio.aug = torch.nn.Identity()
    mulan = MuLaN(audio, TextTransformer(dim=32, depth=2, heads=2, dim_head=16), dim_latent=16)
    loss = mulan(torch.randn(3, 64, 32), raw_texts=["trap", "boom bap", "lo-fi"])
    loss.backward()
    assert torch.isfinite(loss) and mulan.audio_to_latents.weight.grad is not None
