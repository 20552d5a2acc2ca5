"""The MuLaN-distributed bend: 2 processes with half a batch each get the loss and gradients of 1 process."""

import pytest
import torch


def _setup():
    from beatlm.bends import mulan_distributed
    mulan_distributed.apply()
    from musiclm_pytorch import musiclm_pytorch as mp
    torch.manual_seed(0)
    towers = torch.nn.ModuleDict({"audio": torch.nn.Linear(8, 6), "text": torch.nn.Linear(8, 6)})
    audio, text = torch.randn(8, 8), torch.randn(8, 8)  # the global batch
    return mulan_distributed, mp, towers, audio, text


def _loss(kind: str, forward=None, rows=slice(None)) -> tuple:
    """(loss, gradients of the towers and of the loss's own parameters) on `rows` of the global batch."""
    import flashy
    _, mp, towers, audio, text = _setup()
    contrast = (mp.SigmoidContrastiveLearning() if kind == "sigmoid"
                else mp.SoftmaxContrastiveLearning(decoupled_contrastive_learning=kind == "decoupled"))
    modules = torch.nn.ModuleDict({"towers": towers, "contrast": contrast})
    a = torch.nn.functional.normalize(towers["audio"](audio[rows]), dim=-1)
    t = torch.nn.functional.normalize(towers["text"](text[rows]), dim=-1)
    loss = (forward or type(contrast).forward)(contrast, a, t)
    loss.backward()
    flashy.distrib.sync_model(modules)  # what BeatLM's optimisation step does
    return loss.item(), [p.grad.clone() for p in modules.parameters()]


def _two_processes(kind: str) -> dict:
    import torch.distributed as dist
    bend = _setup()[0]
    rank = dist.get_rank()
    half = slice(4 * rank, 4 * rank + 4)
    out = {"bent": _loss(kind, rows=half)}
    original = bend._originals["sigmoid" if kind == "sigmoid" else "softmax"]
    try:
        out["original"] = _loss(kind, forward=original, rows=half)
    except Exception as exc:  # musiclm-pytorch's own gather raises a NameError
        out["original"] = f"{type(exc).__name__}: {exc}"
    return out


def _close(a: tuple, b: tuple) -> bool:
    return abs(a[0] - b[0]) < 1e-5 and all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a[1], b[1]))


@pytest.mark.parametrize("kind", ["decoupled", "softmax", "sigmoid"])
def test_two_processes_match_one(kind, run_gloo):
    reference = _loss(kind)  # one process, the whole batch: the bend changes nothing here
    ranks = run_gloo(_two_processes, kind)
    for out in ranks:
        assert _close(out["bent"], reference)
        assert "NameError" in out["original"]  # without the bend no step can run
