"""Codec reconstruction metrics (audiocraft's SISNR and mel loss) on a folder of real audio."""

import pytest
import torch

from beatlm.metrics import codec as codec_metrics
from beatlm.utils.errors import BeatLMError


class PassThroughCodec(torch.nn.Module):
    """A 'codec' whose codes are the audio itself, optionally with noise added on decoding."""

    def __init__(self, noise: float = 0.0):
        super().__init__()
        self.sample_rate, self.channels, self.noise = 16000, 1, noise
        self.register_buffer("anchor", torch.zeros(1))

    def encode(self, wav):
        return wav.clone(), None

    def decode(self, codes, scale=None):
        return codes + self.noise * torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    """Four of the bundled CC0 one-shots (kick, snare, cymbal, tom): real audio at 44.1 kHz."""
    import shutil
    folder = tmp_path_factory.mktemp("drums")
    for name in ("bd_808", "drum_snare_hard", "drum_cymbal_open", "drum_tom_lo_hard"):
        shutil.copy(codec_metrics.DEFAULT_FOLDER / f"{name}.flac", folder)
    return folder


def test_perfect_and_noisy_reconstruction(drums):
    assert len(codec_metrics.audio_files(codec_metrics.DEFAULT_FOLDER)) >= 20
    perfect = codec_metrics.codec_metrics(PassThroughCodec(), drums)
    assert perfect["files"] == 4 and perfect["mel_distance"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["si_snr_db"] > 40  # not infinite: audiocraft's SISNR adds an epsilon per sample
    noisy = codec_metrics.codec_metrics(PassThroughCodec(noise=0.05), drums)
    assert noisy["si_snr_db"] < perfect["si_snr_db"] - 20 and noisy["mel_distance"] > 0.1
    assert {"file", "si_snr_db", "mel_distance"} <= set(noisy["per_file"][0])


def test_bad_folders(tmp_path):
    with pytest.raises(BeatLMError, match="does not exist"):
        codec_metrics.audio_files(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("no audio")
    with pytest.raises(BeatLMError, match="no audio file"):
        codec_metrics.audio_files(tmp_path)
