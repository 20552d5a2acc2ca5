"""The balancer bend: 2 processes with half a batch each take the step of 1 process with the whole batch."""

import torch


def _step(rows=slice(None), bent: bool = True) -> tuple:
    """(gradient of a toy codec, effective loss) with a balanced reconstruction loss and a penalty outside it."""
    from audiocraft.losses.balancer import Balancer
    import flashy

    from beatlm.bends import balancer_world_size
    balancer_world_size.apply()
    torch.manual_seed(0)
    model, x, target = torch.nn.Linear(4, 4), torch.randn(8, 4), torch.randn(8, 4)
    out = model(x[rows])
    mse, l1 = torch.nn.functional.mse_loss, torch.nn.functional.l1_loss
    losses = {"l1": l1(out, target[rows]), "l2": mse(out, target[rows])}
    penalty = 0.1 * model.weight.pow(2).sum()  # like the quantizer's commitment loss: backpropagated directly
    penalty.backward(retain_graph=True)
    balancer = Balancer({"l1": 1.0, "l2": 2.0}, per_batch_item=True, total_norm=1.0)
    backward = Balancer.backward if bent else balancer_world_size._original["backward"]
    effective = backward(balancer, losses, out)
    flashy.distrib.sync_model(model)
    effective = flashy.distrib.average_metrics({"g": float(effective)})["g"]  # as the solver logs it
    return model.weight.grad.clone(), effective


def _two_processes() -> dict:
    import torch.distributed as dist
    half = slice(4 * dist.get_rank(), 4 * dist.get_rank() + 4)
    return {"bent": _step(half), "original": _step(half, bent=False)}


def test_two_processes_step_like_one(run_gloo):
    grad, effective = _step()  # one process: the bend changes nothing
    for out in run_gloo(_two_processes):
        assert torch.allclose(out["bent"][0], grad, atol=1e-6) and abs(out["bent"][1] - effective) < 1e-5
        assert not torch.allclose(out["original"][0], grad, atol=1e-3)  # without it: another mix of the two parts
