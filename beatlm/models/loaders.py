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

if tp.TYPE_CHECKING:
    from audiocraft.models.lm import LMModel

    from .mulan import MuLaNModel

CODEC_FILENAMES = ("codec.th", "compression_state_dict.bin")
MULAN_FILENAMES = ("mulan.th",)


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


def default_bundle() -> Path:
    """Where the default model ships inside the package (`beatlm/assets/default_model`)."""
    from ..assets import ASSETS_DIR
    return ASSETS_DIR / "default_model"


def resolve_bundle(name_or_path: tp.Optional[tp.Union[str, Path]]) -> Path:
    """The folder of a model bundle: a local folder, a Hugging Face hub id (downloaded), or None for the default."""
    if name_or_path is None:
        folder = default_bundle()
        if not (folder / "manifest.json").is_file():
            raise BeatLMError("no default model is installed with this BeatLM; pass a bundle folder "
                              "(--model DIR, written by `beatlm export bundle`)")
        return folder
    name = str(name_or_path)
    path = Path(name)
    if path.is_dir():
        return path
    if path.exists():
        raise BeatLMError(f"{name} is a file; a model is a bundle folder (written by `beatlm export bundle`)")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download
        try:
            return Path(snapshot_download(repo_id=name, cache_dir=os.environ.get("AUDIOCRAFT_CACHE_DIR")))
        except Exception as exc:  # the hub raises many types (offline, missing repo)
            raise BeatLMError(f"'{name}' is not a local folder, and the Hugging Face hub did not provide it "
                              f"({type(exc).__name__}). Pass a bundle folder, or go online.") from None
    raise BeatLMError(f"model {name} does not exist (expected a bundle folder written by `beatlm export bundle`)")


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


def mulan_package(pkg: tp.Any, path: Path) -> tp.Tuple[DictConfig, dict]:
    """(config, {'mulan': weights, 'quantizer': state}) from an export or training checkpoint of MuLaN."""
    if not isinstance(pkg, dict) or "xp.cfg" not in pkg:
        raise BeatLMError(f"{path} is not a MuLaN checkpoint (no experiment config inside)")
    cfg = OmegaConf.create(pkg["xp.cfg"]) if pkg.get("exported") else pkg["xp.cfg"]
    if cfg.get("solver") != "mulan":
        raise BeatLMError(f"{path} was trained by solver '{cfg.get('solver')}', not MuLaN (solver=musiclm/mulan)")
    states = pkg["best_state"] if pkg.get("exported") else {
        "mulan": pkg["best_state"].get("model") or pkg["model"], "quantizer": pkg["quantizer"]}
    if not bool(states["quantizer"]["fitted"]):
        raise BeatLMError(f"{path}: the MuLaN token quantizer is not fitted yet; it is fitted in the `generate` "
                          "stage (at the last epoch, and every generate.every epochs): let training reach it")
    return cfg, states


def load_mulan_model(name_or_path: tp.Union[str, Path], device: str = "cpu") -> "MuLaNModel":
    """Load MuLaN and its token quantizer: an export of `beatlm export mulan`, a checkpoint, `//sig/`, a hub id.

    Args:
        name_or_path: Where MuLaN is.
        device: Torch device for the model.
    Returns:
        The model in eval mode.
    """
    path = resolve_model_file(name_or_path, MULAN_FILENAMES)
    cfg, states = mulan_package(load_checkpoint(path), path)
    return build_mulan(cfg, states, device)


def build_mulan(cfg: DictConfig, states: dict, device: str = "cpu") -> "MuLaNModel":
    """MuLaN built from an experiment config and loaded with `states` (see `mulan_package`), in eval mode."""
    from .builders import get_mulan_model
    model = get_mulan_model(cfg.mulan)
    model.mulan.load_state_dict(states["mulan"])
    model.quantizer.load_state_dict(states["quantizer"])
    return model.to(device).eval()


def load_stage_lm(path: tp.Union[str, Path], mulan: "MuLaNModel",
                  device: str = "cpu") -> tp.Tuple["LMModel", tp.Dict[str, tp.Any]]:
    """Load a stage LM exported by `beatlm export stage` (or `export_stage`).

    Args:
        path: The exported file.
        mulan: The MuLaN (fitted quantizer) the stage was trained with; shared, not copied.
        device: Torch device.
    Returns:
        The LM in eval mode, and the export's `beatlm` block (`stage`, `spec`, `window`, `trained_on`).
    """
    from .builders import get_stage_lm
    pkg = load_checkpoint(path)
    meta = pkg.get("beatlm", {}) if isinstance(pkg, dict) else {}
    if not pkg.get("exported") or meta.get("kind") != "stage":
        raise BeatLMError(f"{path} is not an exported stage LM (write one with `beatlm export stage`)")
    cfg = OmegaConf.create(pkg["xp.cfg"])
    lm = get_stage_lm(cfg, meta["spec"], mulan, device=device)
    try:
        lm.load_state_dict(pkg["best_state"])
    except RuntimeError as exc:
        raise BeatLMError(f"{path}: the stage weights do not fit the model its config and MuLaN describe "
                          f"({str(exc).splitlines()[0]})") from None
    return lm.eval(), meta
