import copy

import pytest
import torch


@pytest.fixture(scope="module")
def towers():
    """musiclm-pytorch's audio tower as it comes, and a copy with the bend installed."""
    from beatlm.bends import ast_pos_bias, musiclm_offline
    musiclm_offline.apply()
    from musiclm_pytorch import AudioSpectrogramTransformer
    torch.manual_seed(0)
    plain = AudioSpectrogramTransformer(dim=32, depth=2, heads=2, dim_head=16, patch_size=16, patch_dropout_prob=0.25,
                                        accept_spec=True, accept_spec_time_first=True)
    bent = ast_pos_bias.install(copy.deepcopy(plain))
    return plain, bent


def test_same_outputs_gradients_and_parameter_names(towers):
    plain, bent = towers
    frames = torch.randn(6, 160, 64)  # 4 x 10 patches, 30 kept per clip with patch dropout
    grads = []
    for tower in (plain, bent):
        tower.train()
        tower.zero_grad()
        torch.manual_seed(1)  # the same patches dropped
        out = tower(frames)
        (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
        grads.append({name: p.grad.clone() for name, p in tower.named_parameters()})
    assert list(plain.state_dict()) == list(bent.state_dict())
    for name, grad in grads[0].items():
        # the last bias of the MLP adds one constant to every attention logit: softmax cancels it, its gradient is
        # float noise on both sides, compared in absolute terms
        assert torch.allclose(grad, grads[1][name], rtol=1e-4, atol=1e-6), name
    plain.eval(), bent.eval()
    assert torch.equal(plain(frames), bent(frames))


def test_mlp_sees_each_distance_once(towers):
    _, bent = towers
    seen = []
    handle = bent.dynamic_pos_bias_mlp[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    try:
        bent.train()
        bent(torch.randn(8, 160, 64))
    finally:
        handle.remove()
    assert seen == [7 * 19]  # 4 x 10 patches: distances -3..3 x -9..9, instead of 8 clips x 30 x 30 pairs


def test_other_inputs_fall_back_to_the_plain_mlp(towers):
    _, bent = towers
    distances = torch.rand(3, 5, 5, 2)
    expected = torch.nn.Sequential(*list(bent.dynamic_pos_bias_mlp))(distances)
    assert torch.equal(bent.dynamic_pos_bias_mlp(distances), expected)


def test_meta_tensors_take_the_plain_mlp(towers):
    _, bent = towers
    mlp = copy.deepcopy(bent.dynamic_pos_bias_mlp).to("meta")  # `beatlm plan` builds MuLaN at meta device
    out = mlp(torch.zeros(2, 5, 5, 2, device="meta"))
    assert out.shape == (2, 2, 5, 5) and out.is_meta
