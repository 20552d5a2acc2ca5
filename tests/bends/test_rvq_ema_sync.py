"""The RVQ-EMA bend: 2 processes with half a batch each update the codebook as 1 process with the whole batch."""

import torch


def _codebook(rows=slice(None), bent: bool = True) -> torch.Tensor:
    """The codebook after one training step of audiocraft's EuclideanCodebook on `rows` of a batch."""
    from audiocraft.quantization import core_vq
    import flashy

    from beatlm.bends import rvq_ema_sync
    rvq_ema_sync.apply()
    if not bent:
        core_vq.ema_inplace = rvq_ema_sync._original["ema_inplace"]
    torch.manual_seed(0)
    codebook = core_vq.EuclideanCodebook(dim=4, codebook_size=8, kmeans_init=False, decay=0.9,
                                         threshold_ema_dead_code=0)
    codebook.train()
    codebook(torch.randn(16, 4)[rows])
    flashy.distrib.sync_model(codebook)  # averages the buffers, as audiocraft's codec solver does
    return codebook.embed.clone()


def _two_processes() -> dict:
    import torch.distributed as dist
    half = slice(8 * dist.get_rank(), 8 * dist.get_rank() + 8)
    return {"bent": _codebook(half), "original": _codebook(half, bent=False)}


def test_two_processes_update_like_one(run_gloo):
    reference = _codebook()
    for out in run_gloo(_two_processes):
        assert torch.allclose(out["bent"], reference, atol=1e-6)
        assert not torch.allclose(out["original"], reference, atol=1e-3)
