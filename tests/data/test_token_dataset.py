"""TokenDataset: crops aligned across codec (50 fps) and semantic (25 fps) clocks, whole clips, collate."""

import logging

import numpy as np
import pytest
import soundfile
import torch

from beatlm.data.token_cache import TokenCache
from beatlm.data.token_dataset import TokenDataset, collate
from beatlm.utils.errors import BeatLMError


@pytest.fixture(scope="module")
def cache(beat_corpus, tmp_path_factory, fake_tokenizers):
    """Fake tokens (they count frames) of the corpus's 6 training clips of 4 s."""
    return TokenCache.build_or_load(beat_corpus / "egs" / "train", tmp_path_factory.mktemp("cache"),
                                    fake_tokenizers["codec"](), fake_tokenizers["semantic"](), progress=False)


@pytest.fixture(scope="module")
def uneven_cache(tmp_path_factory, fake_tokenizers):
    """Fake tokens of clips of 1.01 s, 2 s and 3 s."""
    from beatlm.data.manifest import write_manifest
    root = tmp_path_factory.mktemp("uneven")
    rng = np.random.default_rng(0)
    for number, seconds in enumerate([1.01, 2.0, 3.0]):
        (root / "audio").mkdir(exist_ok=True)
        soundfile.write(root / "audio" / f"clip_{number}.wav", rng.normal(0, 0.1, int(seconds * 32000)), 32000)
    manifest = write_manifest(root / "audio", root / "egs")
    return TokenCache.build_or_load(manifest, root / "cache", fake_tokenizers["codec"](),
                                    fake_tokenizers["semantic"](), progress=False)


def _assert_aligned(item):
    codes, semantic = item["codes"], item["semantic"]
    assert codes.shape[-1] == 2 * semantic.shape[-1]
    assert torch.equal(codes[:, 0::2], 2 * semantic.expand_as(codes[:, 0::2]))  # frame i <-> codes 2i, 2i + 1
    assert torch.equal(codes[:, 1::2], 2 * semantic.expand_as(codes[:, 1::2]) + 1)


def test_random_crops_are_aligned(cache):
    dataset = TokenDataset(cache, segment_duration=1.0, num_samples=24)
    assert len(dataset) == 24 and dataset.tick_rate == 25
    offsets = set()
    for item in dataset:
        assert item["codes"].shape == (2, 50) and item["semantic"].shape == (25,)
        assert item["codes"].dtype == item["semantic"].dtype == torch.long
        _assert_aligned(item)
        assert item["semantic"][0] == round(item["offset"].item() * 25)  # crops start on the 1/25 s clock
        offsets.add(item["offset"].item())
    assert len(offsets) > 5 and max(offsets) <= 3.0


def test_deterministic_without_shuffle(cache):
    first, again = TokenDataset(cache, 1.0, shuffle=False), TokenDataset(cache, 1.0, shuffle=False)
    other_seed = TokenDataset(cache, 1.0, shuffle=False, seed=1)
    assert len(first) == 6 and [first[i]["clip"].item() for i in range(6)] == list(range(6))
    assert [first[i]["offset"] for i in range(6)] == [again[i]["offset"] for i in range(6)]
    assert [first[i]["offset"] for i in range(6)] != [other_seed[i]["offset"] for i in range(6)]


def test_whole_clips_and_collate(cache):
    dataset = TokenDataset(cache, segment_duration=None, shuffle=False)
    batch = collate([dataset[i] for i in range(3)])
    assert batch["codes"].shape == (3, 2, 200) and batch["semantic"].shape == (3, 100)
    assert batch["codes_mask"].all() and batch["semantic_mask"].all() and (batch["offset"] == 0).all()
    assert batch["clip"].tolist() == [0, 1, 2]
    loader = torch.utils.data.DataLoader(TokenDataset(cache, 2.0, num_samples=8), batch_size=4, collate_fn=collate)
    for batch in loader:
        assert batch["codes"].shape == (4, 2, 100) and batch["semantic"].shape == (4, 50)
        assert batch["clip"].shape == batch["offset"].shape == (4,)


def test_short_clips_skipped_and_uneven_whole_clips_padded(uneven_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="beatlm.data.token_dataset"):
        dataset = TokenDataset(uneven_cache, segment_duration=2.4, num_samples=4)
    assert "skipping 2 of 3 clips" in caplog.text and dataset.clips == [2]
    assert all(item["clip"].item() == 2 and item["codes"].shape == (2, 120) for item in dataset)
    with pytest.raises(BeatLMError, match="no clip .* is as long as segment_duration=5 s"):
        TokenDataset(uneven_cache, segment_duration=5.0)
    whole = TokenDataset(uneven_cache, shuffle=False)
    lengths = [whole[i]["semantic"].shape[-1] for i in range(3)]
    assert lengths == [25, 50, 75]  # 1.01 s: 51 codec and 26 semantic frames, cut to 25 whole ticks
    batch = collate([whole[i] for i in range(3)])
    assert batch["codes"].shape == (3, 2, 150) and batch["semantic_mask"].sum(dim=1).tolist() == lengths
    assert batch["codes_mask"].sum(dim=1).tolist() == [50, 100, 150] and batch["codes"][0, :, 50:].eq(0).all()
    _assert_aligned(whole[0])


def test_segment_must_be_whole_frames(cache):
    with pytest.raises(BeatLMError, match="not a whole number of semantic frames"):
        TokenDataset(cache, segment_duration=0.5)
