import torch

from beatlm.modules.mulan_frontend import LogMelFrontend, SpecAugment


def test_log_mel_frames_time_first():
    frontend = LogMelFrontend(sample_rate=16000, n_mels=64, hop_length=320)
    frames = frontend(torch.randn(2, 16000 * 3))
    assert frames.shape == (2, 151, 64) and frontend.frame_rate == 50
    assert torch.isfinite(frames).all()
    loud = frontend(torch.randn(1, 16000))
    quiet = frontend(torch.randn(1, 16000) * 0.01)
    assert loud.mean() > quiet.mean() + 5  # log power: 40 dB apart


def test_spec_augment_masks_only_in_training():
    frames = torch.randn(4, 200, 64)
    augment = SpecAugment(freq_mask=8, time_mask=20)
    augment.eval()
    assert torch.equal(augment(frames), frames)
    augment.train()
    torch.manual_seed(1)
    masked = augment(frames)
    assert masked.shape == frames.shape and not torch.equal(masked, frames)
    changed = (masked != frames).float().mean()
    assert 0 < changed < 0.5
