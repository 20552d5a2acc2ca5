"""The MuLaN conditioner: MuLaN tokens of audio (training) or text (generation) as a per-stage learned sequence.

MusicLM conditions every stage on the same MuLaN tokens (`levels` residual-VQ indices of the MuLaN
embedding), but each stage looks them up in its own learned tables, as musiclm-pytorch's
`MuLaNEmbedQuantizer` does with its `namespaces` ('semantic', 'coarse', 'fine'). Here that is an
audiocraft conditioner, so a stage LM is audiocraft's `LMModel` with a `ConditioningProvider` holding a
`MulanConditioner` under one attribute (e.g. `description`) and a `ConditionFuser` that prepends it.

MuLaN itself is frozen and kept out of the conditioner's module tree: a stage checkpoint holds only its
tables (`cond_embeddings.<namespace>`), and the conditioner remembers where MuLaN came from in
`mulan_path`.

audiocraft 1.3.0's `ClassifierFreeGuidanceDropout` only drops `wav` and `text` attributes and leaves
`joint_embed` ones untouched, so with it a MuLaN-conditioned LM never sees a null condition in training,
and the "unconditional" half of classifier-free guidance at generation is in fact conditional.
`JointEmbedCFGDropout` below is the same dropout extended to `joint_embed`; audiocraft's
`AttributeDropout` already handles `joint_embed` (`p={'joint_embed': {'description': 0.1}}`).
"""

from copy import deepcopy
import logging
from pathlib import Path
import typing as tp

from audiocraft.modules.conditioners import (
    ClassifierFreeGuidanceDropout,
    ConditioningAttributes,
    ConditionType,
    JointEmbedCondition,
    JointEmbeddingConditioner,
    dropout_condition,
)
import torch
from torch import nn

if tp.TYPE_CHECKING:
    from ..models.mulan import MuLaNModel

_AUDIOCRAFT_LOGGER = "audiocraft.modules.conditioners"


class _DropAutocastWarning(logging.Filter):
    # JointEmbeddingConditioner warns "has no autocast, this might lead to NaN" whenever autocast is off.
    # MulanConditioner never uses autocast (MuLaN runs in float32, the tables are a lookup): not a risk here.
    def filter(self, record: logging.LogRecord) -> bool:
        return "has no autocast" not in record.getMessage()


class MulanConditioner(JointEmbeddingConditioner):
    """MuLaN tokens looked up in this stage's learned tables: [B, levels, output_dim] per condition.

    Each item of a `JointEmbedCondition` is embedded by MuLaN from its audio when it has some
    (`length > 0`), else from its text, quantized to `levels` tokens by MuLaN's fitted quantizer, and
    token `k` of level `l` becomes row `table[l, k]` of this namespace's table. While training, an item
    that has both uses its text instead of its audio with probability `text_p`. Items with neither audio
    nor text (what audiocraft's `nullify_joint_embed` makes under condition dropout) are the null
    condition: zero embeddings and a zero mask.

    In eval mode an item with audio still uses its audio (MusicLM's training condition, so validation
    losses compare with training ones); to generate from a prompt, give text only (an empty wav).

    MuLaN is frozen (eval mode, no gradients) and is not a sub-module: it is absent from `state_dict()`,
    `parameters()` and `.train()`. `.to(device)` / `.cuda()` move it with the conditioner, but it stays
    float32 whatever dtype the conditioner is cast to (`MuLaNModel` casts its inputs to float32, and the
    tokens must not depend on the LM's precision). A `MuLaNModel` passed in is used as is, not copied,
    so several stages can share one MuLaN (moving one conditioner moves the shared MuLaN).

    Args:
        output_dim: Width of the conditioning vectors (the LM's model dimension).
        device: Device of the tables and MuLaN.
        attribute: The `joint_embed` attribute conditioned on (its key in the `ConditioningProvider`).
        mulan: A `MuLaNModel` with a fitted quantizer, or where to load one (anything `load_mulan_model` takes).
        namespace: Name of this stage's tables ('semantic', 'coarse' or 'fine'); it names the state_dict key.
        text_p: Probability, while training, of using an item's text instead of its audio when it has both.
        kwargs: Passed to `JointEmbeddingConditioner` (e.g. `autocast_dtype`, unused here).
    """

    mulan: "MuLaNModel"

    def __init__(self, output_dim: int, device: str, attribute: str, mulan: tp.Union[str, Path, "MuLaNModel"],
                 namespace: str, text_p: float = 0.0, **kwargs):
        if not 0.0 <= text_p <= 1.0:
            raise ValueError(f"text_p must be in [0, 1], got {text_p}")
        if isinstance(mulan, nn.Module):
            model, path = mulan, getattr(mulan, "path", None)
        else:
            from ..models.loaders import load_mulan_model
            model, path = load_mulan_model(mulan, device=device), str(mulan)
        if not bool(model.quantizer.fitted):
            raise ValueError("MulanConditioner needs a MuLaN whose token quantizer is fitted")
        kwargs.setdefault("autocast_dtype", None)
        logger = logging.getLogger(_AUDIOCRAFT_LOGGER)
        quiet = _DropAutocastWarning()
        logger.addFilter(quiet)
        try:
            # quantize=False: the tokens come from MuLaN's own fitted quantizer, not a new one.
            super().__init__(dim=model.dim, output_dim=output_dim, device=device, attribute=attribute,
                             quantize=False, **kwargs)
        finally:
            logger.removeFilter(quiet)
        # The parent's Linear(dim, output_dim) would never be used (the tables are already output_dim
        # wide) and would leave DDP with parameters that never get gradients.
        self.output_proj = nn.Identity()
        self.namespace = namespace
        self.text_p = text_p
        self.mulan_path = path
        self.levels = model.quantizer.levels
        self.bins = model.quantizer.bins
        table = torch.empty(self.levels, self.bins, output_dim, device=device)
        nn.init.normal_(table, std=0.02)  # as musiclm-pytorch's MuLaNEmbedQuantizer
        self.cond_embeddings = nn.ParameterDict({namespace: nn.Parameter(table)})
        model.eval().requires_grad_(False)
        # Written into __dict__ so nn.Module does not register it (audiocraft keeps CLAP out the same way).
        self.__dict__["mulan"] = model.to(device=self.table.device)

    @property
    def table(self) -> torch.Tensor:
        """This namespace's embedding table [levels, bins, output_dim]."""
        return self.cond_embeddings[self.namespace]

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        # MuLaN follows the device the tables went to, never their dtype (see the class docstring).
        target = self.table.device
        if next(self.mulan.parameters()).device != target:
            self.mulan.to(device=target)
        self.device = str(target)
        return self

    def _audio_embeddings(self, x: JointEmbedCondition, items: tp.List[int],
                          lengths: tp.List[int]) -> tp.Dict[int, torch.Tensor]:
        # One MuLaN call per (sample rate, length): all of a training batch in one call.
        groups: tp.Dict[tp.Tuple[int, int], tp.List[int]] = {}
        for i in items:
            groups.setdefault((int(x.sample_rate[i]), lengths[i]), []).append(i)
        out = {}
        for (sample_rate, length), group in groups.items():
            wav = x.wav[group, :, :length]
            for i, embedding in zip(group, self.mulan.embed_audio(wav, sample_rate)):
                out[i] = embedding
        return out

    @torch.no_grad()
    def tokens(self, x: JointEmbedCondition) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        """MuLaN tokens of a batch of conditions, and which items are empty (the null condition).

        Args:
            x: Audio [B, C, T] with lengths and sample rates, and texts, of B items.
        Returns:
            Tokens [B, levels] (int64 in [0, bins); 0 for empty items) and the empty mask [B] (bool),
            both on the conditioner's device.
        """
        batch = len(x.text)
        if x.wav.shape[0] != batch:
            raise ValueError(f"JointEmbedCondition with {x.wav.shape[0]} wavs but {batch} texts")
        length = torch.as_tensor(x.length).reshape(-1)
        if length.numel() == 1 and batch > 1:  # nullify_joint_embed on a whole batch leaves one length
            length = length.expand(batch)
        lengths = [min(int(n), x.wav.shape[-1]) for n in length.tolist()]
        has_text = [t is not None and t != "" for t in x.text]
        has_audio = [n > 0 for n in lengths]
        use_text = [t and not a for t, a in zip(has_text, has_audio)]
        if self.training and self.text_p > 0:
            draws = torch.rand(batch).tolist()
            use_text = [u or (t and a and d < self.text_p) for u, t, a, d in zip(use_text, has_text, has_audio, draws)]
        text_items = [i for i in range(batch) if use_text[i]]
        audio_items = [i for i in range(batch) if has_audio[i] and not use_text[i]]
        device = self.table.device
        tokens = torch.zeros(batch, self.levels, dtype=torch.long, device=device)
        empty = torch.tensor([not (a or t) for a, t in zip(has_audio, has_text)], dtype=torch.bool, device=device)
        if not text_items and not audio_items:
            return tokens, empty
        self.mulan.eval()  # frozen: SpecAugment and patch dropout must never run here
        embeddings = self._audio_embeddings(x, audio_items, lengths)
        if text_items:
            embeddings.update(zip(text_items, self.mulan.embed_text([x.text[i] for i in text_items])))
        items = sorted(embeddings)
        tokens[items] = self.mulan.tokens(torch.stack([embeddings[i] for i in items])).to(device)
        return tokens, empty

    def embed_tokens(self, tokens: torch.Tensor, empty: tp.Optional[torch.Tensor] = None) -> ConditionType:
        """Conditioning of MuLaN tokens: row `table[l, tokens[:, l]]` for every level `l`.

        This is the part of `forward` after MuLaN, so tokens computed once and cached (e.g. per
        training clip) can condition a stage without running MuLaN.

        Args:
            tokens: MuLaN tokens [B, levels] in [0, bins) (any value where `empty`).
            empty: Items that are the null condition [B] (bool); None means none is.
        Returns:
            Embeddings [B, levels, output_dim] (zero where empty) and mask [B, levels] (0 where empty).
        """
        if tokens.dim() != 2 or tokens.shape[1] != self.levels:
            raise ValueError(f"expected MuLaN tokens [B, {self.levels}], got {tuple(tokens.shape)} "
                             f"(tokens of another MuLaN?)")
        table = self.table
        tokens = tokens.to(device=table.device, dtype=torch.long)
        if empty is None:
            empty = torch.zeros(tokens.shape[0], dtype=torch.bool, device=table.device)
        empty = empty.to(device=table.device, dtype=torch.bool)
        tokens = tokens.masked_fill(empty[:, None], 0)
        levels = torch.arange(self.levels, device=table.device)
        embeds = table[levels[None, :], tokens]  # [B, levels, output_dim]
        mask = (~empty)[:, None].expand(-1, self.levels).float()
        return embeds * mask[..., None].to(embeds.dtype), mask

    def forward(self, x: JointEmbedCondition) -> ConditionType:
        """Embeddings [B, levels, output_dim] and mask [B, levels] of a batch of conditions."""
        tokens, empty = self.tokens(x)
        return self.embed_tokens(tokens, empty)

    def tokenize(self, x: JointEmbedCondition) -> JointEmbedCondition:
        return x


class JointEmbedCFGDropout(ClassifierFreeGuidanceDropout):
    """audiocraft's `ClassifierFreeGuidanceDropout`, also dropping `joint_embed` attributes.

    Same draw as audiocraft's (one per batch from its seeded generator, only while training): with
    probability `p` every `wav`, `text` and `joint_embed` attribute of every sample is nullified.
    """

    def forward(self, samples: tp.List[ConditioningAttributes]) -> tp.List[ConditioningAttributes]:
        if not self.training:
            return samples
        if not torch.rand(1, generator=self.rng).item() < self.p:
            return samples
        samples = deepcopy(samples)
        for sample in samples:
            for condition_type in ("wav", "text", "joint_embed"):
                for condition in list(sample.attributes[condition_type]):
                    dropout_condition(sample, condition_type, condition)
        return samples
