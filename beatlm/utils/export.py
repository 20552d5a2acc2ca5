"""Export a training checkpoint to one self-contained file (audiocraft's release format, plus metadata).

The file holds the best weights, the experiment config as YAML (`xp.cfg`) and a `beatlm` block
describing the model, so later stages and the Python API load it with no Dora folder present.
"""

from pathlib import Path
import typing as tp

import audiocraft
from omegaconf import OmegaConf
import torch

from .. import __version__
from .checkpoint import load_checkpoint
from .errors import BeatLMError
from .files import atomic_path


def resolve_checkpoint(source: tp.Union[str, Path]) -> Path:
    """The checkpoint file behind `//sig/<SIG>`, an XP folder or a checkpoint path."""
    from audiocraft.utils.checkpoint import resolve_checkpoint_path

    from .. import bends
    bends.apply()
    path = resolve_checkpoint_path(str(source), use_fsdp=False)
    if path is None:
        raise BeatLMError(f"no checkpoint found for {source}: give //sig/<SIG>, an XP folder "
                          "(<dora dir>/xps/<SIG>) or a checkpoint file; has that experiment saved an epoch yet?")
    return path


def export_codec(source: tp.Union[str, Path], out_file: tp.Union[str, Path], overwrite: bool = False) -> Path:
    """Export the codec trained by a `compression` experiment.

    Args:
        source: `//sig/<SIG>`, an XP folder or a checkpoint file.
        out_file: File to write (written atomically).
        overwrite: Replace `out_file` if it exists.
    Returns:
        The path written.
    """
    out_file = Path(out_file)
    if out_file.exists() and not overwrite:
        raise BeatLMError(f"{out_file} already exists; choose another path or pass --force to replace it")
    from ..models.builders import get_compression_model
    from ..models.loaders import codec_package
    path = resolve_checkpoint(source)
    pkg = load_checkpoint(path)
    if isinstance(pkg, dict) and pkg.get("exported"):
        raise BeatLMError(f"{path} is already an exported file; copy it instead of exporting it again")
    cfg, best_state = codec_package(pkg, path)
    model = get_compression_model(cfg)
    model.load_state_dict(best_state)
    export = {
        "best_state": best_state,
        "xp.cfg": OmegaConf.to_yaml(cfg),
        "version": audiocraft.__version__,
        "exported": True,
        "beatlm": {
            "version": __version__,
            "kind": "codec",
            "source": str(path),
            "sample_rate": int(model.sample_rate),
            "channels": int(model.channels),
            "frame_rate": float(model.frame_rate),
            "num_codebooks": int(model.num_codebooks),
            "cardinality": int(model.cardinality),
        },
    }
    try:
        with atomic_path(out_file, overwrite=overwrite) as tmp:
            torch.save(export, tmp)
    except FileExistsError:
        raise BeatLMError(f"{out_file} already exists; choose another path or pass --force to replace it") from None
    return out_file

