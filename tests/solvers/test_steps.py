import pytest
import torch

from beatlm.solvers.steps import lr_scheduler, optimize


def _model_and_loss(scale: float = 1.0):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x = torch.randn(8, 4)
    return model, (model(x) * scale).pow(2).mean()


def test_step_clips_and_logs():
    model, loss = _model_and_loss(100.0)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    metrics = {}
    optimize(loss, model, optimizer, max_norm=1.0, metrics=metrics)
    assert metrics["grad_norm"] > 1.0 and metrics["lr"] == 0.1
    assert torch.linalg.vector_norm(model.weight.detach() - before) <= 0.1 + 1e-6  # the clipped step


@pytest.mark.parametrize("max_norm", [0.0, 1e6])
def test_a_gradient_scaler_gives_the_unscaled_step(max_norm):
    model, loss = _model_and_loss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    metrics = {}
    optimize(loss, model, optimizer, max_norm=max_norm, metrics=metrics, scaler=scaler)
    reference, ref_loss = _model_and_loss()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    optimize(ref_loss, reference, ref_opt, max_norm=max_norm, metrics={})
    assert torch.allclose(model.weight, reference.weight, atol=1e-6)
    assert torch.allclose(model.bias, reference.bias, atol=1e-6)
    if max_norm:
        assert metrics["grad_norm"] < 1e3  # measured after unscaling


def test_lr_scheduler_is_audiocrafts_or_a_one_line_error():
    from omegaconf import OmegaConf

    from beatlm.utils.errors import BeatLMError
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    cosine = {"warmup": 2, "lr_min_ratio": 0.0, "cycle_length": 1.0}
    assert lr_scheduler(optimizer, OmegaConf.create({"lr_scheduler": None}), 10) is None
    sched = lr_scheduler(optimizer, OmegaConf.create({"lr_scheduler": "cosine", "cosine": cosine}), 10)
    sched.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)  # half-way through the warm-up
    for bad in ({"lr_scheduler": "sawtooth"}, {"lr_scheduler": "cosine", "cosine": {**cosine, "warmup": None}}):
        with pytest.raises(BeatLMError, match="schedule.lr_scheduler=.* cannot be built"):
            lr_scheduler(optimizer, OmegaConf.create(bad), 10)
