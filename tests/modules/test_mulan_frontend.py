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


def test_chroma_rows_follow_the_mel_bands_and_name_the_pitch_class():
    rate = 32000
    t = torch.arange(rate * 2) / rate
    a3 = torch.sin(2 * torch.pi * 220.0 * t)  # A, the 10th pitch class counting from C
    plain = LogMelFrontend(sample_rate=rate, n_mels=52, n_fft=2048, win_length=1280, hop_length=640)
    both = LogMelFrontend(sample_rate=rate, n_mels=52, n_fft=2048, win_length=1280, hop_length=640, n_chroma=12)
    frames = both(a3[None])
    assert both.n_bins == 64 and frames.shape == (1, 101, 64)
    assert torch.equal(frames[..., :52], plain(a3[None]))  # the mel bands are unchanged
    chroma = frames[0, 10:-10, 52:]
    assert torch.isfinite(chroma).all() and (chroma <= 1e-6).all()
    assert (chroma.argmax(dim=-1) == 9).all()
    c_major = sum(torch.sin(2 * torch.pi * f * t) for f in (261.63, 329.63, 392.0))
    strong = both(c_major[None])[0, 10:-10, 52:].mean(dim=0).topk(3).indices
    assert sorted(strong.tolist()) == [0, 4, 7]  # C, E, G
