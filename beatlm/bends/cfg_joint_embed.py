"""Bend: audiocraft 1.3.0's classifier-free guidance never nulls `joint_embed` conditions.

`ClassifierFreeGuidanceDropout` nullifies only `wav` and `text` attributes. `LMModel` uses it twice,
through the name `ClassifierFreeGuidanceDropout` in `audiocraft.models.lm`: as its training dropout
(`self.cfg_dropout`) and to make the null conditions of guidance in `generate`. A MuLaN-conditioned
stage (a `joint_embed` attribute) would never see a null condition in training, and the
"unconditional" half of guidance would in fact be conditional, making `cfg_coef` a no-op. We point
that name at `JointEmbedCFGDropout` (the same dropout, extended to `joint_embed`).
"""

from audiocraft.models import lm


def apply() -> None:
    """Make `LMModel` use `JointEmbedCFGDropout` for training dropout and guidance's null conditions."""
    from ..modules.conditioners import JointEmbedCFGDropout
    lm.ClassifierFreeGuidanceDropout = JointEmbedCFGDropout  # type: ignore[misc]
