"""Checkpoint loading with `weights_only=True` and an explicit allow-list.

audiocraft checkpoints hold, besides tensors, the experiment's OmegaConf config (`xp.cfg`) and the
metrics history. torch >= 2.6 refuses those under `weights_only=True` unless their classes are
allow-listed. We allow exactly those classes, only for the duration of a load, instead of turning
safety off for the whole process (`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`).
"""

import collections
import logging
from pathlib import Path
import pickle
import re
import typing as tp

import omegaconf
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode, BooleanNode, BytesNode, EnumNode, FloatNode, IntegerNode, PathNode, StringNode
import torch

from .errors import BeatLMError, UnsafeCheckpointError

logger = logging.getLogger(__name__)



def _dict_for_defaultdict(default_factory: tp.Any = None) -> dict:
    # OmegaConf keeps a `defaultdict(dict)` resolver cache in every container's metadata, and torch's
    # weights-only unpickler cannot fill a defaultdict (only dict / OrderedDict / Counter). It is
    # rebuilt as a plain dict here, then `_fresh_configs` recreates the configs with proper metadata.
    return {}


# Everything an audiocraft / BeatLM checkpoint may hold besides tensors and plain containers.
SAFE_GLOBALS: tp.List[tp.Any] = [
    omegaconf.DictConfig, omegaconf.ListConfig, ContainerMetadata, Metadata,
    AnyNode, BooleanNode, BytesNode, EnumNode, FloatNode, IntegerNode, PathNode, StringNode,
    tp.Any, dict, list, tuple, set, int, float, str, bool, bytes, type(None), collections.OrderedDict,
    (_dict_for_defaultdict, "collections.defaultdict"),
]


def _fresh_configs(obj: tp.Any) -> tp.Any:
    """Recreate the OmegaConf configs at the top level of a loaded checkpoint (see `_dict_for_defaultdict`)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, omegaconf.DictConfig):
                obj[key] = omegaconf.OmegaConf.create(omegaconf.OmegaConf.to_container(value, resolve=False))
    return obj


def _refused(path: Path, exc: Exception) -> str:
    """What torch's weights-only unpickler refused, in a few words."""
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if match:
        return f"global {match.group(1)}"
    try:
        allowed = {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS if not isinstance(g, tuple)}
        unsafe = [name for name in torch.serialization.get_unsafe_globals_in_checkpoint(path) if name not in allowed]
    except Exception:  # not a torch zip file: a raw pickle
        unsafe = []
    return f"global {', '.join(unsafe)}" if unsafe else "pickle operations torch's safe loader rejects"


def load_checkpoint(path: tp.Union[str, Path], map_location: tp.Any = "cpu", mmap: bool = False) -> tp.Any:
    """Load a torch checkpoint with `weights_only=True`, allowing only `SAFE_GLOBALS`.

    Args:
        path: File to load.
        map_location: Passed to `torch.load`.
        mmap: Map the tensors' storage from the file instead of reading it (pages are read when touched).
    Raises:
        BeatLMError: the file is missing or is not a torch checkpoint.
        UnsafeCheckpointError: the file holds objects outside the allow-list (for instance a
            pickle that would run code); nothing from it was executed.
    """
    path = Path(path)
    if not path.is_file():
        raise BeatLMError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return _fresh_configs(torch.load(path, map_location=map_location, weights_only=True, mmap=mmap))
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it holds objects outside BeatLM's allow-list ({_refused(path, exc)}). "
            "Only load checkpoints from sources you trust; BeatLM never unpickles arbitrary objects.") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise BeatLMError(f"{path} is not a readable torch checkpoint ({exc})") from None
