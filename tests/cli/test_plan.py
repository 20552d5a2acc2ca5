"""`beatlm plan`: parameter counts, memory per GPU and tokens per step, checked against counts by hand."""

import pytest
import torch
from torch import nn

from beatlm.cli.main import main
from beatlm.cli.plan import plan_solver

# A semantic stage small enough to count by hand: d=32, 2 layers, 16 semantic tokens, 4 x 32 MuLaN tokens.
TINY = ["transformer_lm.dim=32", "transformer_lm.num_layers=2", "transformer_lm.num_heads=2",
        "semantic_tokenizer.clusters=16", "mulan.quantizer.levels=4", "mulan.quantizer.bins=32",
        "dataset.batch_size=4", "dataset.segment_duration=1.0"]


def _semantic_parameters(d: int = 32, layers: int = 2, card: int = 16, levels: int = 4, bins: int = 32) -> int:
    embedding = (card + 1) * d  # audiocraft's LMModel: one extra row for the special token
    layer = (3 * d * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 2 * (2 * d)  # attn, ff, norms
    out_norm = 2 * d
    head = d * card + card
    mulan_table = levels * bins * d  # the stage's MuLaN token table; MuLaN itself is frozen, not counted
    return embedding + layers * layer + out_norm + head + mulan_table


def test_semantic_plan_matches_a_hand_count():
    result = plan_solver("semantic", "micro", 2, TINY)
    mem = result["memory"]
    p = _semantic_parameters()
    assert p == 30640
    assert (mem.parameters, mem.trained) == (p, p)
    # No FSDP at micro: every GPU holds fp32 weights, gradients and AdamW's two states.
    assert (mem.weights, mem.gathered, mem.gradients, mem.optimizer) == (4 * p, 0, 4 * p, 8 * p)
    assert mem.ema == 4 * p and not mem.ema_on_gpu  # optim.ema.device: cpu
    assert mem.total == 16 * p + mem.activations
    # 4 clips of 1 s at 25 semantic tokens per second, 2 per GPU.
    assert result["batch_per_gpu"] == 2 and result["tokens"] == {"modelled tokens": 25}


def test_fsdp_shards_weights_gradients_and_optimiser_over_the_gpus():
    result = plan_solver("semantic", "micro", 2, TINY + ["fsdp.use=true"])
    mem, p = result["memory"], _semantic_parameters()
    assert mem.fsdp == "shard_grad_op" and mem.compute_dtype == torch.float16
    assert (mem.weights, mem.gathered, mem.gradients, mem.optimizer) == (4 * p / 2, 2 * p, 4 * p / 2, 8 * p / 2)
    full_shard = plan_solver("semantic", "micro", 2, TINY + ["fsdp.use=true", "fsdp.sharding_strategy=full_shard"])
    layer = 12 * 32 * 32 + 13 * 32  # the largest block FSDP gathers: a transformer layer (the MuLaN table is 4096)
    assert full_shard["memory"].gathered == 2 * 2 * max(layer, 4 * 32 * 32)


def test_activations_are_the_tensors_saved_for_backward():
    from beatlm.planning.memory import saved_activation_bytes
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for batch in (3, 5):
        x = torch.zeros(batch, 8, device="meta")
        # first Linear saves its input (B x 8), ReLU its output (B x 16), which the second Linear's input shares.
        assert saved_activation_bytes([model], lambda: model(x).sum()) == (4 * batch * (8 + 16), 0)
    small = plan_solver("semantic", "micro", 2, TINY)["memory"].activations
    double = plan_solver("semantic", "micro", 1, TINY)["memory"].activations  # 4 per GPU instead of 2
    assert 1.8 * small < double <= 2 * small


def test_full_scale_follows_the_published_recipe():
    result = plan_solver("semantic", "full", 32, [])
    cfg, mem = result["cfg"], result["memory"]
    assert (cfg.transformer_lm.num_layers, cfg.transformer_lm.dim, cfg.transformer_lm.num_heads) == (24, 1024, 16)
    assert cfg.fsdp.use and mem.fsdp == "shard_grad_op" and result["batch_per_gpu"] == 16
    assert 300e6 < mem.parameters < 330e6  # 24 x 12.6M per layer, plus tables
    assert mem.total < 40 * 1024 ** 3  # fits a 40 GB GPU


def test_plan_command_prints_every_solver(capsys):
    assert main(["plan", "--model-scale", "micro", "--gpus", "2", "--solver", "semantic", *TINY]) == 0
    out = capsys.readouterr().out
    assert "semantic (solver=musiclm/semantic, 2 GPUs, FSDP off, compute float32)" in out
    assert "parameters      30.64k" in out and "modelled tokens / step 100 (50 per GPU, 25 per item)" in out


@pytest.mark.parametrize("argv, message", [
    (["plan", "--gpus", "3", "--solver", "semantic"], "batch size 512 does not split over 3 GPUs"),
    (["plan", "--gpus", "0", "--solver", "semantic"], "--gpus must be at least 1"),
    (["plan", "--model-scale", "huge", "--solver", "semantic"], "no config 'model_scale/huge.yaml'"),
    (["plan", "--solver", "semantic", "transformer_lm.nope=1"], "transformer_lm.nope"),
])
def test_bad_plan_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("beatlm: error: ") and message in err


@pytest.mark.parametrize("solver", ["codec", "mulan"])
def test_meta_counts_match_the_models_training_builds_on_cpu(solver):
    from beatlm.planning.memory import count_parameters
    result = plan_solver(solver, "micro", 1, [])
    cfg = result["cfg"]
    if solver == "codec":  # the codec and its discriminators, as CompressionSolver builds them
        from audiocraft.solvers.builders import get_adversary

        from beatlm.models.builders import get_compression_model
        modules = [get_compression_model(cfg)] + [get_adversary(name, cfg) for name in cfg.adversarial.adversaries]
    else:
        from beatlm.models.builders import get_mulan_model
        modules = [get_mulan_model(cfg.mulan).mulan]
    assert result["memory"].parameters == count_parameters(modules)[0] > 0
    assert result["memory"].activations > 0
