"""Load models from an exported file, a bundle folder, a Dora experiment, or a Hugging Face hub name.

Every file goes through `beatlm.utils.checkpoint.load_checkpoint` (`weights_only=True` with an
allow-list), whatever its origin.
"""

import os
from pathlib import Path
import typing as tp

from audiocraft.models.encodec import CompressionModel
from omegaconf import DictConfig, OmegaConf

from ..utils.checkpoint import load_checkpoint
from ..utils.errors import BeatLMError
from .builders import get_compression_model

CODEC_FILENAMES = ("codec.th", "compression_state_dict.bin")


def _hub_download(repo_id: str, filenames: tp.Sequence[str]) -> Path:
    from huggingface_hub import hf_hub_download
    errors = []
    for filename in filenames:
        try:
            return Path(hf_hub_download(repo_id=repo_id, filename=filename,
                                        cache_dir=os.environ.get("AUDIOCRAFT_CACHE_DIR")))
        except Exception as exc:  # the hub raises many types (offline, missing repo, missing file)
            errors.append(f"{filename}: {type(exc).__name__}")
    raise BeatLMError(f"'{repo_id}' is not a local file or folder, and the Hugging Face hub did not provide it "
                      f"({'; '.join(errors)}). Pass a path to an exported file, or go online.")


def resolve_model_file(name_or_path: tp.Union[str, Path], filenames: tp.Sequence[str]) -> Path:
    """Find the file for a model: a file, a folder holding one of `filenames`, `//sig/`, or a hub id."""
    name = str(name_or_path)
    path = Path(name)
    if path.is_file():
        return path
    if path.is_dir():
        for filename in filenames:
            if (path / filename).is_file():
                return path / filename
        from ..utils.export import resolve_checkpoint
        return resolve_checkpoint(path)  # a Dora XP folder
    if name.startswith("//sig/"):
        from ..utils.export import resolve_checkpoint
        return resolve_checkpoint(name)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return _hub_download(name, filenames)
    raise BeatLMError(f"{name} does not exist (expected an exported file, a folder, //sig/<SIG> or a hub id)")


def codec_package(pkg: tp.Any, path: Path) -> tp.Tuple[DictConfig, dict]:
    """(config, weights) of a codec from a loaded export or training checkpoint of `solver=compression`."""
    if not isinstance(pkg, dict) or "xp.cfg" not in pkg:
        raise BeatLMError(f"{path} is not a codec checkpoint (no experiment config inside)")
    if pkg.get("exported"):
        cfg, state = OmegaConf.create(pkg["xp.cfg"]), pkg["best_state"]
    else:
        cfg, state = pkg["xp.cfg"], pkg["best_state"].get("model") or pkg["model"]
    if cfg.get("solver") != "compression":
        raise BeatLMError(f"{path} was trained by solver '{cfg.get('solver')}', not a codec (solver=compression/...)")
    return cfg, state


def load_compression_model(name_or_path: tp.Union[str, Path], device: str = "cpu") -> CompressionModel:
    """Load a codec: an export of `beatlm export codec`, a training checkpoint, `//sig/<SIG>`, or a hub id.

    Args:
        name_or_path: Where the codec is.
        device: Torch device for the model.
    Returns:
        The codec in eval mode.
    """
    path = resolve_model_file(name_or_path, CODEC_FILENAMES)
    cfg, state = codec_package(load_checkpoint(path), path)
    model = get_compression_model(cfg, device=device)
    model.load_state_dict(state)
    return model.eval()
