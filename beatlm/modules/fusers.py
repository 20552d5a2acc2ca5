"""A condition fuser that adds time-aligned conditions at the step predicting their frame.

audiocraft's `ConditionFuser` sums a sequence condition into the LM input position by position
(`sum`) or after stretching it to the input length (`input_interpolate`). Neither fits a codebook
pattern: with the delay pattern step `s` predicts frame `s` of codebook 0 and frame `s - k` of codebook
`k`, with MusicLM's flattening K steps share one frame, and in streaming generation the fuser sees one
step at a time (both methods would then sum the whole condition into that one step). `aligned`
conditions here are given on the LM's frame clock ([B, frames, dim], e.g. from
`TokenSequenceConditioner`); the fuser looks up, for every input position, the newest frame that
position predicts (from the pattern's layout: with the delay pattern, the frame of codebook 0, so the
first code of a frame is predicted with that frame's condition in view and the later codebooks see it
through attention) and adds that frame's vector, keeping track of the position while streaming.
Conditions fused by any other method go to audiocraft's fuser unchanged.
"""

import typing as tp

from audiocraft.modules.codebooks_patterns import CodebooksPatternProvider
from audiocraft.modules.conditioners import ConditionFuser, ConditionType
import torch


class AlignedConditionFuser(ConditionFuser):
    """`ConditionFuser` with an `aligned` method (see the module docstring).

    Args:
        fuse2cond: Fusing method -> condition names, e.g. `{"prepend": ["description"], "aligned": ["semantic"]}`.
        pattern_provider: The LM's codebook pattern provider.
        kwargs: Passed to `ConditionFuser`.
    """

    FUSING_METHODS = ConditionFuser.FUSING_METHODS + ["aligned"]

    def __init__(self, fuse2cond: tp.Dict[str, tp.List[str]], pattern_provider: CodebooksPatternProvider, **kwargs):
        fuse2cond = {method: list(names) for method, names in fuse2cond.items()}
        for method in ConditionFuser.FUSING_METHODS:
            fuse2cond.setdefault(method, [])  # LMModel reads fuse2cond['prepend'] and ['cross']
        super().__init__(fuse2cond, **kwargs)
        self.pattern_provider = pattern_provider
        self._frames = torch.zeros(0, dtype=torch.long)

    def frames_of_positions(self, positions: int) -> torch.Tensor:
        """Frame predicted at each of the first `positions` input positions [positions] (int64).

        Input position `s` predicts the codes at pattern step `s + 1`; its frame is the latest
        timestep there (an empty step repeats the previous frame).
        """
        timesteps = max(positions, 16)
        while len(self._frames) < positions:
            layout = self.pattern_provider.get_pattern(timesteps).layout
            frames, last = [], 0
            for step in layout[1:]:
                if step:
                    last = max(coord.t for coord in step)
                frames.append(last)
            self._frames = torch.tensor(frames, dtype=torch.long)
            timesteps *= 2
        return self._frames[:positions]

    def add_aligned(self, input: torch.Tensor, conditions: tp.Dict[str, ConditionType], start: int) -> torch.Tensor:
        """`input` [B, steps, dim] (input positions start, start + 1, ...) plus its `aligned` conditions' frames."""
        aligned = [name for name in conditions if self.cond2fuse.get(name) == "aligned"]
        if not aligned:
            return input
        frames = self.frames_of_positions(start + input.shape[1])[start:].to(input.device)
        for name in aligned:
            cond, _ = conditions[name]
            if cond.shape[1] == 0:
                continue
            inside = (frames < cond.shape[1]).to(cond.dtype)
            input = input + cond[:, frames.clamp(max=cond.shape[1] - 1)] * inside[None, :, None]
        return input

    def forward(self, input: torch.Tensor,
                conditions: tp.Dict[str, ConditionType]) -> tp.Tuple[torch.Tensor, tp.Optional[torch.Tensor]]:
        offsets = self._streaming_state.get("offsets")
        input = self.add_aligned(input, conditions, int(offsets[0]) if offsets is not None else 0)
        rest = {name: value for name, value in conditions.items() if self.cond2fuse.get(name) != "aligned"}
        return super().forward(input, rest)
