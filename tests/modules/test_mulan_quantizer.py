"""The MuLaN token quantizer: fitted once, then frozen; same embedding, same tokens."""

import pytest
import torch
import torch.nn.functional as F

from beatlm.modules.mulan_quantizer import MulanQuantizer


def _clustered(n=512, dim=32, clusters=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(clusters, dim, generator=g), dim=-1)
    points = centres[torch.randint(clusters, (n,), generator=g)] + 0.05 * torch.randn(n, dim, generator=g)
    return F.normalize(points, dim=-1)


def test_round_trip_and_range():
    data = _clustered()
    q = MulanQuantizer(32, levels=4, bins=16)
    with pytest.raises(RuntimeError, match="not been fitted"):
        q.encode(data)
    q.fit(data, epochs=3)
    tokens = q.encode(data)
    assert tokens.shape == (512, 4) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() < 16
    assert torch.equal(tokens, q.encode(data.clone()))
    assert F.cosine_similarity(q.decode(tokens), data).mean() > 0.95


def test_frozen_after_fitting():
    data = _clustered()
    q = MulanQuantizer(32, levels=2, bins=8)
    q.fit(data, epochs=1)
    before = {k: v.clone() for k, v in q.state_dict().items()}
    q.train()  # a parent's .train() must not reopen EMA updates
    q.encode(_clustered(seed=1))
    assert all(torch.equal(before[k], v) for k, v in q.state_dict().items())
    assert not any(p.requires_grad for p in q.parameters())


def test_fit_is_deterministic_and_needs_enough_embeddings():
    data = _clustered()
    a, b = MulanQuantizer(32, levels=2, bins=8), MulanQuantizer(32, levels=2, bins=8)
    a.fit(data, epochs=2, seed=3)
    b.fit(data, epochs=2, seed=3)
    assert torch.equal(a.encode(data), b.encode(data))
    with pytest.raises(ValueError, match="at least 8"):
        MulanQuantizer(32, levels=2, bins=8).fit(data[:5])
