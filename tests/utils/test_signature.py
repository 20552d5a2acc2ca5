import torch

from beatlm.utils.signature import state_signature


def test_signature_follows_values_shapes_and_settings():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    first = state_signature(model)
    assert state_signature(model) == first
    assert state_signature(model.state_dict()) == first
    assert state_signature(model, extra={"frame_rate": 25}) != first
    with torch.no_grad():
        model.bias[0] += 1e-3
    assert state_signature(model) != first
    assert state_signature({"w": torch.zeros(2, 3)}) != state_signature({"w": torch.zeros(3, 2)})
    assert state_signature({"w": torch.zeros(0)}) != state_signature({"v": torch.zeros(0)})
