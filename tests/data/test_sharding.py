"""Items drawn by seed, epoch and index: the same batches with any number of data workers or processes."""

import flashy
import pytest
import torch

from beatlm.data.mel_windows import MelWindowDataset
from beatlm.data.sharding import rank_loader, set_epoch
from beatlm.data.token_cache import TokenCache
from beatlm.data.token_dataset import TokenDataset, collate
from beatlm.modules.mulan_frontend import LogMelFrontend


@pytest.fixture(scope="module")
def tokens(tiny_egs, tmp_path_factory, fake_tokenizers):
    """A TokenDataset of random 1 s crops of fake tokens of the 3 tiny training loops."""
    cache = TokenCache.build_or_load(tiny_egs / "train", tmp_path_factory.mktemp("cache"), fake_tokenizers["codec"](),
                                     fake_tokenizers["semantic"](), progress=False)
    return TokenDataset(cache, segment_duration=1.0, num_samples=16, seed=3)


@pytest.fixture(scope="module")
def windows(tiny_egs):
    """MuLaN log-mel windows (0.5 s) of the 3 tiny training loops."""
    frontend = LogMelFrontend(sample_rate=32000, n_mels=16, n_fft=512, win_length=512, hop_length=320)
    return MelWindowDataset([tiny_egs / "train"], frontend, segment_duration=0.5, num_samples=16, seed=3,
                            progress=False)


def _crops(batch) -> list:
    return sorted(zip(batch["clip"].tolist(), batch["offset"].tolist()))


def _batches(loader, key=_crops) -> list:
    return [key(batch) for batch in loader]


def test_token_crops_with_zero_and_two_workers(tokens):
    zero = _batches(torch.utils.data.DataLoader(tokens, batch_size=4, collate_fn=collate))
    two = _batches(torch.utils.data.DataLoader(tokens, batch_size=4, collate_fn=collate, num_workers=2))
    assert zero == two
    assert len({crop for batch in zero for crop in batch}) > 8  # random crops, not one repeated
    tokens.set_epoch(1)
    try:
        assert _batches(torch.utils.data.DataLoader(tokens, batch_size=4, collate_fn=collate)) != zero
    finally:
        tokens.set_epoch(0)


def test_log_mel_windows_with_zero_and_two_workers(windows):
    def frames(batch):
        return batch[0]
    zero = _batches(torch.utils.data.DataLoader(windows, batch_size=4, collate_fn=MelWindowDataset.collate), frames)
    two = _batches(torch.utils.data.DataLoader(windows, batch_size=4, collate_fn=MelWindowDataset.collate,
                                               num_workers=2), frames)
    assert all(torch.equal(a, b) for a, b in zip(zero, two)) and len(zero) == len(two) == 4
    assert not torch.equal(zero[0], zero[1])


@pytest.mark.parametrize("world", [2, 4])
def test_processes_share_one_global_batch(tokens, world, monkeypatch):
    """Process r of N reads items r, r + N, ...: batch k of all processes together is batch k of one process."""
    one = _batches(rank_loader(tokens, batch_size=4, collate_fn=collate))
    monkeypatch.setattr(flashy.distrib, "world_size", lambda: world)
    shares = []
    for rank in range(world):
        monkeypatch.setattr(flashy.distrib, "rank", lambda rank=rank: rank)
        loader = rank_loader(tokens, batch_size=4 // world, collate_fn=collate)
        set_epoch(loader, 0)  # reaches the dataset through the per-process Subset
        shares.append(_batches(loader))
    assert [sorted(sum((share[k] for share in shares), [])) for k in range(len(one))] == one


def test_lockstep_splits_must_divide_evenly(tokens, monkeypatch):
    from beatlm.utils.errors import BeatLMError
    rank_loader(tokens, batch_size=5, lockstep="train")  # one process: anything goes
    monkeypatch.setattr(flashy.distrib, "world_size", lambda: 3)  # 16 items over 3 processes
    with pytest.raises(BeatLMError, match="dataset.train.num_samples a multiple of 3"):
        rank_loader(tokens, batch_size=1, lockstep="train")
    rank_loader(tokens, batch_size=1)  # steps that do not talk across processes may end unevenly
