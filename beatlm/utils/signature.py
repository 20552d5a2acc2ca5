"""Content signatures of models and settings: what a token cache is keyed on, so it is rebuilt when they change."""

import hashlib
import json
import typing as tp

import torch
from torch import nn


def state_signature(model: tp.Union[nn.Module, tp.Mapping[str, torch.Tensor]], extra: tp.Any = None,
                    length: int = 16) -> str:
    """Hex digest of a model's state (every tensor's name, dtype, shape and values) and of `extra` settings.

    Args:
        model: A module (its `state_dict()`, parameters and buffers) or a state dict.
        extra: JSON-serialisable settings that change what the model computes (e.g. a frame rate).
        length: Hex characters kept.
    """
    state = model.state_dict() if isinstance(model, nn.Module) else model
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            digest.update(f"{name}={tensor!r};".encode())
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    if extra is not None:
        digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:length]
