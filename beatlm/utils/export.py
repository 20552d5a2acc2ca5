"""Export a training checkpoint to one self-contained file (audiocraft's release format, plus metadata).

The file holds the best weights, the experiment config as YAML (`xp.cfg`) and a `beatlm` block
describing the model, so later stages and the Python API load it with no Dora folder present.
"""

from pathlib import Path
import typing as tp

import audiocraft
from omegaconf import OmegaConf

from .. import __version__
from .checkpoint import load_checkpoint
from .errors import BeatLMError
from .files import save_atomic


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


def _training_checkpoint(source: tp.Union[str, Path], out_file: Path, overwrite: bool) -> tp.Tuple[Path, dict]:
    """Check the target, then load the training checkpoint behind `source` (not an export)."""
    if out_file.exists() and not overwrite:
        raise BeatLMError(f"{out_file} already exists; choose another path or pass --force to replace it")
    path = resolve_checkpoint(source)
    pkg = load_checkpoint(path)
    if isinstance(pkg, dict) and pkg.get("exported"):
        raise BeatLMError(f"{path} is already an exported file; copy it instead of exporting it again")
    return path, pkg


def _write_export(out_file: Path, best_state: tp.Any, cfg: tp.Any, meta: dict, overwrite: bool) -> Path:
    export = {"best_state": best_state, "xp.cfg": OmegaConf.to_yaml(cfg), "version": audiocraft.__version__,
              "exported": True, "beatlm": {"version": __version__, **meta}}
    return save_atomic(export, out_file, overwrite=overwrite)


def export_codec(source: tp.Union[str, Path], out_file: tp.Union[str, Path], overwrite: bool = False) -> Path:
    """Export the codec trained by a `compression` experiment.

    Args:
        source: `//sig/<SIG>`, an XP folder or a checkpoint file.
        out_file: File to write (written atomically).
        overwrite: Replace `out_file` if it exists.
    Returns:
        The path written.
    """
    from ..models.builders import get_compression_model
    from ..models.loaders import codec_package
    out_file = Path(out_file)
    path, pkg = _training_checkpoint(source, out_file, overwrite)
    cfg, best_state = codec_package(pkg, path)
    model = get_compression_model(cfg)
    model.load_state_dict(best_state)
    meta = {"kind": "codec", "source": str(path), "sample_rate": int(model.sample_rate),
            "channels": int(model.channels), "frame_rate": float(model.frame_rate),
            "num_codebooks": int(model.num_codebooks), "cardinality": int(model.cardinality)}
    return _write_export(out_file, best_state, cfg, meta, overwrite)


def export_mulan(source: tp.Union[str, Path], out_file: tp.Union[str, Path], overwrite: bool = False) -> Path:
    """Export MuLaN (best weights), its fitted token quantizer and its audio/text settings.

    Args:
        source: `//sig/<SIG>`, an XP folder or a checkpoint file of a `solver=musiclm/mulan` experiment.
        out_file: File to write (written atomically).
        overwrite: Replace `out_file` if it exists.
    Returns:
        The path written.
    """
    from ..models.loaders import build_mulan, mulan_package
    out_file = Path(out_file)
    path, pkg = _training_checkpoint(source, out_file, overwrite)
    cfg, states = mulan_package(pkg, path)
    model = build_mulan(cfg, states)  # checks that the weights load into the configured model
    m, t = cfg.mulan, cfg.mulan.text
    meta = {"kind": "mulan", "source": str(path), "sample_rate": int(model.sample_rate), "window": float(m.window),
            "dim": int(model.dim), "levels": int(m.quantizer.levels), "bins": int(m.quantizer.bins),
            "frontend": OmegaConf.to_container(m.frontend), "text_tower": str(t.tower),
            "text_max_tokens": int(t.max_tokens),
            "text_encoder": str(t.pretrained.name_or_path) if t.tower == "pretrained" else "clip-bpe"}
    return _write_export(out_file, states, cfg, meta, overwrite)


def _part_signatures(cfg: tp.Any) -> tp.Dict[str, tp.Optional[str]]:
    """Content signatures of the codec, MuLaN and semantic tokenizer a stage was trained on (None if gone)."""
    from ..data.token_cache import codec_info, mulan_info
    from ..models.loaders import load_compression_model, load_mulan_model
    from ..modules.semantic_tokenizer import SemanticTokenizer
    out: tp.Dict[str, tp.Optional[str]] = {"codec": None, "mulan": None, "semantic_tokenizer": None}
    try:
        out["codec"] = codec_info(load_compression_model(cfg.compression_model_checkpoint))["signature"]
        mulan = load_mulan_model(cfg.mulan_checkpoint)
        out["mulan"] = mulan_info(mulan)["signature"]
        out["semantic_tokenizer"] = SemanticTokenizer.load(cfg.semantic_tokenizer_checkpoint, mulan=mulan).signature()
    except BeatLMError:  # moved or deleted since training: the bundle check then cannot compare
        pass
    return out


def export_stage(source: tp.Union[str, Path], out_file: tp.Union[str, Path], overwrite: bool = False) -> Path:
    """Export a MusicLM stage LM (semantic, coarse or fine): best weights, what it models, what it stands on.

    Args:
        source: `//sig/<SIG>`, an XP folder or a checkpoint file of a `solver=musiclm/<stage>` experiment.
        out_file: File to write (written atomically).
        overwrite: Replace `out_file` if it exists.
    Returns:
        The path written.
    """
    out_file = Path(out_file)
    path, pkg = _training_checkpoint(source, out_file, overwrite)
    if not isinstance(pkg, dict) or "stage_spec" not in pkg:
        solver = pkg["xp.cfg"].get("solver") if isinstance(pkg, dict) and "xp.cfg" in pkg else None
        raise BeatLMError(f"{path} is not a stage checkpoint (solver '{solver}', expected "
                          "solver=musiclm/semantic|coarse|fine)")
    cfg, spec = pkg["xp.cfg"], dict(pkg["stage_spec"])
    state = pkg["best_state"].get("model") or pkg["model"]
    meta = {"kind": "stage", "source": str(path), "stage": spec["stage"], "spec": spec,
            "window": float(cfg.dataset.segment_duration), "trained_on": _part_signatures(cfg)}
    return _write_export(out_file, state, cfg, meta, overwrite)
