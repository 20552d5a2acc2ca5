"""The cfg_joint_embed bend: LMModel's guidance dropout also nulls joint_embed (MuLaN) conditions."""

from audiocraft.models import lm
from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout, ConditioningAttributes, JointEmbedCondition
import torch

from beatlm import bends
from beatlm.modules.conditioners import JointEmbedCFGDropout


def _sample() -> ConditioningAttributes:
    cond = JointEmbedCondition(torch.ones(1, 1, 8), ["a beat"], torch.tensor([8]), [32000], [None], [None])
    return ConditioningAttributes(joint_embed={"description": cond})


def test_lm_uses_the_joint_embed_dropout():
    bends.apply()
    assert lm.ClassifierFreeGuidanceDropout is JointEmbedCFGDropout
    dropped = lm.ClassifierFreeGuidanceDropout(p=1.0)([_sample()])[0].joint_embed["description"]
    assert dropped.text == [None] and int(dropped.length[0]) == 0


def test_upstream_dropout_still_keeps_joint_embed():
    """If audiocraft fixes its dropout, this fails: the bend can then go."""
    kept = ClassifierFreeGuidanceDropout(p=1.0)([_sample()])[0].joint_embed["description"]
    assert kept.text == ["a beat"]
