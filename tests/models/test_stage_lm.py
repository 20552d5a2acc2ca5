"""Stage LMs: audiocraft's LMModel with MuLaN tokens prepended and previous-stage tokens time-aligned."""

from audiocraft.modules.conditioners import ConditioningAttributes, JointEmbedCondition
import pytest
import torch

from beatlm import bends
from beatlm.models.builders import get_stage_lm
from beatlm.modules.token_conditioner import token_condition

COARSE = {"stage": "coarse", "n_q": 2, "card": 16, "frame_rate": 50.0,
          "aligned": {"attribute": "semantic_tokens", "num_streams": 1, "cardinality": 8, "frame_rate": 25.0}}


@pytest.fixture(scope="module")
def lm_cfg(dora_dir):
    from beatlm import train
    return train.main.get_xp(["solver=musiclm/coarse", "model_scale=micro", "compression_model_checkpoint=codec.th",
                              "mulan_checkpoint=mulan.th", "semantic_tokenizer_checkpoint=semantic.th"]).cfg


def build(cfg, mulan, spec=COARSE, modeling="delay", seed=0):
    bends.apply()
    cfg = cfg.copy()
    cfg.codebooks_pattern.modeling = modeling
    cfg.transformer_lm.dim, cfg.transformer_lm.num_layers, cfg.transformer_lm.dropout = 32, 2, 0.0
    torch.manual_seed(seed)
    return get_stage_lm(cfg, spec, mulan).eval()


def conditions(lm, mulan_tokens, semantic, drop=None):
    """Condition tensors from MuLaN tokens [B, levels] and semantic tokens [B, 1, Ts] (as the solver builds them)."""
    providers = lm.condition_provider.conditioners
    empty = torch.zeros(len(mulan_tokens), dtype=torch.bool) if drop is None else drop
    lengths = torch.where(empty, 0, semantic.shape[-1])
    return {"description": providers["description"].embed_tokens(mulan_tokens, empty),
            "semantic_tokens": providers["semantic_tokens"].embed_tokens(semantic, lengths)}


def inputs(seed=0, batch=2, frames=12):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 16, (batch, 2, frames), generator=g)
    mulan_tokens = torch.randint(0, 4, (batch, 4), generator=g)
    semantic = torch.randint(0, 8, (batch, 1, frames // 2), generator=g)
    return codes, mulan_tokens, semantic


@pytest.mark.parametrize("modeling", ["delay", "musiclm"])
def test_causal_and_time_aligned(lm_cfg, tiny_mulan, modeling):
    lm = build(lm_cfg, tiny_mulan, modeling=modeling)
    codes, mulan_tokens, semantic = inputs()
    with torch.no_grad():
        out = lm.compute_predictions(codes, [], conditions(lm, mulan_tokens, semantic))
        assert out.logits.shape == (2, 2, 12, 16)
        # a future code never changes earlier predictions
        changed = codes.clone()
        changed[:, :, 8] = (changed[:, :, 8] + 1) % 16
        after = lm.compute_predictions(changed, [], conditions(lm, mulan_tokens, semantic))
        valid = out.mask[0, 0]
        assert torch.allclose(out.logits[:, :, :8][..., valid[:8], :], after.logits[:, :, :8][..., valid[:8], :])
        # semantic token 3 covers frames 6 and 7: earlier frames are untouched, frame 6 changes
        sem = semantic.clone()
        sem[:, :, 3] = (sem[:, :, 3] + 1) % 8
        moved = lm.compute_predictions(codes, [], conditions(lm, mulan_tokens, sem))
        assert torch.allclose(out.logits[:, 0, :6], moved.logits[:, 0, :6])
        assert not torch.allclose(out.logits[:, 0, 6], moved.logits[:, 0, 6])


def test_mulan_tokens_and_null_condition_change_logits(lm_cfg, tiny_mulan):
    lm = build(lm_cfg, tiny_mulan)
    codes, mulan_tokens, semantic = inputs()
    with torch.no_grad():
        base = lm.compute_predictions(codes, [], conditions(lm, mulan_tokens, semantic)).logits
        other = lm.compute_predictions(codes, [], conditions(lm, (mulan_tokens + 1) % 4, semantic)).logits
        null = lm.compute_predictions(codes, [], conditions(lm, mulan_tokens, semantic,
                                                            drop=torch.tensor([True, False]))).logits
    valid = torch.isfinite(base)
    assert not torch.allclose(base[valid], other[valid])
    assert not torch.allclose(base[0][valid[0]], null[0][valid[0]])
    assert torch.allclose(base[1][valid[1]], null[1][valid[1]])


@pytest.mark.parametrize("modeling", ["delay", "musiclm"])
def test_streaming_generation_matches_teacher_forcing(lm_cfg, tiny_mulan, modeling):
    """Greedy KV-cached generation picks the argmax of the full forward pass at every frame."""
    lm = build(lm_cfg, tiny_mulan, modeling=modeling, seed=1)
    _, mulan_tokens, semantic = inputs(seed=3, batch=1, frames=10)
    attrs = [ConditioningAttributes(
        joint_embed={"description": JointEmbedCondition(torch.zeros(1, 1, 1), ["a dark trap beat"], torch.tensor([0]),
                                                        [32000], [None], [None])},
        wav={"semantic_tokens": token_condition(semantic[0], 25.0)})]
    with torch.no_grad():
        codes = lm.generate(conditions=attrs, max_gen_len=10, use_sampling=False, cfg_coef=1.0)
        assert codes.shape == (1, 2, 10)
        tensors = lm.condition_provider(lm.condition_provider.tokenize(attrs))
        out = lm.compute_predictions(codes, [], tensors)
    valid = out.mask[0]
    assert torch.equal(out.logits[0].argmax(-1)[valid], codes[0][valid])


def test_guidance_nulls_mulan_in_generate(lm_cfg, tiny_mulan, monkeypatch):
    """With the cfg_joint_embed bend, the second half of guidance's batch has no MuLaN condition."""
    lm = build(lm_cfg, tiny_mulan)
    seen = []
    original = lm.fuser.forward

    def spy(input, conds):
        seen.append(conds["description"][1].clone())
        return original(input, conds)
    monkeypatch.setattr(lm.fuser, "forward", spy)
    _, _, semantic = inputs(batch=1, frames=4)
    attrs = [ConditioningAttributes(
        joint_embed={"description": JointEmbedCondition(torch.zeros(1, 1, 1), ["lofi"], torch.tensor([0]),
                                                        [32000], [None], [None])},
        wav={"semantic_tokens": token_condition(semantic[0], 25.0)})]
    with torch.no_grad():
        lm.generate(conditions=attrs, max_gen_len=4, use_sampling=False, cfg_coef=3.0)
    mask = seen[0]
    assert mask.shape[0] == 2 and bool(mask[0].all()) and not bool(mask[1].any())


def test_overfits_a_handful_of_clips(lm_cfg, tiny_mulan):
    lm = build(lm_cfg, tiny_mulan, seed=2).train()
    codes, mulan_tokens, semantic = inputs(seed=5, batch=4, frames=16)
    optimizer = torch.optim.Adam(lm.parameters(), lr=3e-3)
    for _ in range(300):
        out = lm.compute_predictions(codes, [], conditions(lm, mulan_tokens, semantic))
        loss = torch.nn.functional.cross_entropy(out.logits[out.mask], codes[out.mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3, loss.item()  # from ln(16) = 2.77
