"""TokenCache reads shard by shard: a bounded number of shards in memory, the same tokens, rank 0 builds."""

import pickle
import threading

import pytest
import torch

from beatlm.data.token_cache import TokenCache
from beatlm.utils.errors import BeatLMError


@pytest.fixture(scope="module")
def built(tiny_egs, tmp_path_factory, fake_tokenizers):
    """(manifest, cache root, tokenizers) of a cache of the 3 tiny training loops, one clip per shard."""
    root = tmp_path_factory.mktemp("cache")
    tokenizers = (fake_tokenizers["codec"](), fake_tokenizers["semantic"]())
    cache = TokenCache.build_or_load(tiny_egs / "train", root, *tokenizers, shard_size=1, progress=False)
    assert len(cache.meta["shards"]) == 3
    return tiny_egs / "train", root, tokenizers


def test_at_most_the_bound_of_shards_in_memory(built):
    manifest, root, tokenizers = built
    everything = TokenCache.build_or_load(manifest, root, *tokenizers, progress=False)
    bounded = TokenCache.build_or_load(manifest, root, *tokenizers, progress=False, max_shards_in_memory=1)
    assert bounded.shards_in_memory == 0  # opening reads lengths and clip lists, no tokens kept
    for index in [0, 1, 2, 1, 0, 2]:
        item, expected = bounded[index], everything[index]
        assert bounded.shards_in_memory == 1
        assert torch.equal(item["codes"], expected["codes"]) and torch.equal(item["semantic"], expected["semantic"])
        assert item["meta"] == expected["meta"] and bounded.codes_length(index) == item["codes"].shape[-1]
    assert bounded.shard_loads == 6  # each access to another shard reads it again
    assert everything.shards_in_memory == 3 and everything.shard_loads == 3
    worker = pickle.loads(pickle.dumps(everything))  # what a data worker receives
    assert worker.shards_in_memory == 0 and torch.equal(worker[2]["codes"], everything[2]["codes"])
    with pytest.raises(BeatLMError, match="at least 1"):
        TokenCache.open(bounded.path, max_shards_in_memory=0)


def test_other_ranks_wait_for_rank_zero(tiny_egs, tmp_path, fake_tokenizers):
    tokenizers = (fake_tokenizers["codec"](), fake_tokenizers["semantic"]())
    opened = []
    waiter = threading.Thread(target=lambda: opened.append(TokenCache.build_or_load(
        tiny_egs / "train", tmp_path, *tokenizers, progress=False, wait=True)))
    waiter.start()
    waiter.join(timeout=1.5)
    assert waiter.is_alive() and not opened and tokenizers[0].calls == 0  # waiting, not building
    built = TokenCache.build_or_load(tiny_egs / "train", tmp_path, *tokenizers, progress=False)
    waiter.join(timeout=30)
    assert opened and opened[0].path == built.path and len(opened[0]) == 3
