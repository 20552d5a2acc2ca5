"""Demucs models from a local repo folder (or the Hugging Face hub), loaded without unpickling code.

A Demucs repo folder, as `demucs.pretrained.get_model(name, repo=DIR)` reads it, holds:

- `NAME.yaml`: a bag of models, `models: [SIG, ...]` with optional `weights` and `segment`;
- `SIG-CHECKSUM.th` (or `SIG.th`): one model, a torch pickle of `{klass, args, kwargs, state,
  training_args}`; CHECKSUM is the first hex digits of the file's sha256.

The official weights use the same layout (`htdemucs.yaml` + `955717e8-8726e21a.th`); their Hugging Face
copies store each model as `SIG.safetensors` with the class and arguments as JSON metadata, which is
read here too. Demucs's own loader calls `torch.load(weights_only=False)`, which runs whatever the
pickle says; BeatLM loads `.th` files through `beatlm.utils.checkpoint.load_checkpoint`
(`weights_only=True`) with the Demucs model classes and `fractions.Fraction` added to its allow-list,
and builds only those classes from `.safetensors` metadata.
"""

from fractions import Fraction
import hashlib
import io
import json
from pathlib import Path
import typing as tp

import torch

from ..utils.checkpoint import load_checkpoint
from ..utils.errors import BeatLMError
from ..utils.files import atomic_path

HF_NAMESPACE = "adefossez"  # where demucs 4.1.0 publishes its official bags


def model_classes() -> tp.Dict[str, type]:
    """The Demucs model classes a package may name, by qualified name."""
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs
    return {f"{k.__module__}.{k.__qualname__}": k for k in (Demucs, HDemucs, HTDemucs)}


def build_model(package: tp.Dict[str, tp.Any], origin: tp.Union[str, Path]) -> torch.nn.Module:
    """Instantiate an allowed Demucs class from a loaded package and load its weights."""
    from demucs.states import load_model
    klass = package.get("klass")
    if klass not in model_classes().values():
        raise BeatLMError(f"{origin} does not hold a Demucs model (class {klass!r})")
    if isinstance(package.get("state"), dict) and package["state"].get("__quantized"):
        raise BeatLMError(f"{origin} is a quantized (diffq) Demucs model, which BeatLM does not load")
    model = load_model({key: package[key] for key in ("klass", "args", "kwargs", "state")})
    return model.eval()


def _verify_checksum(path: Path) -> None:
    if "-" not in path.stem:
        return
    expected = path.stem.rsplit("-", 1)[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(expected):
        raise BeatLMError(f"{path} is damaged: its sha256 starts with {digest[:len(expected)]}, its name says "
                          f"{expected}. Copy the file again.")


def load_th(path: Path) -> torch.nn.Module:
    """A Demucs `.th` package through BeatLM's weights-only loader (checksum in the name verified first)."""
    _verify_checksum(path)
    with torch.serialization.safe_globals([*model_classes().values(), Fraction]):
        package = load_checkpoint(path)
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise BeatLMError(f"{path} is not a Demucs model package (expected klass, args, kwargs, state)")
    return build_model(package, path)


def _decode(value: tp.Any) -> tp.Any:
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(value["numerator"], value["denominator"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def load_safetensors(path: Path) -> torch.nn.Module:
    """A Demucs model stored as safetensors with JSON metadata (the Hugging Face layout of demucs 4.1)."""
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt") as file:
            meta = file.metadata() or {}
            state = {key: file.get_tensor(key) for key in file.keys()}
    except (SafetensorError, OSError) as exc:
        raise BeatLMError(f"{path} is not a readable safetensors file ({exc})") from None
    if "structure" in meta:
        raise BeatLMError(f"{path} is a quantized (diffq) Demucs model, which BeatLM does not load")
    klass = model_classes().get(meta.get("klass", ""))
    if klass is None:
        raise BeatLMError(f"{path} does not hold a Demucs model (class {meta.get('klass')!r})")
    package = {"klass": klass, "args": _decode(json.loads(meta.get("args", "[]"))),
               "kwargs": _decode(json.loads(meta.get("kwargs", "{}"))), "state": state}
    return build_model(package, path)


def _model_file(repo: Path, sig: str) -> tp.Optional[Path]:
    pickles = [path for path in [repo / f"{sig}.th", *sorted(repo.glob(f"{sig}-*.th"))] if path.is_file()]
    if len(pickles) > 1:
        raise BeatLMError(f"{repo} holds several files for model {sig} ({', '.join(p.name for p in pickles)}): "
                          "keep one")
    if pickles:
        return pickles[0]
    tensors = repo / f"{sig}.safetensors"
    return tensors if tensors.is_file() else None


def _load_file(path: Path) -> torch.nn.Module:
    return load_safetensors(path) if path.suffix == ".safetensors" else load_th(path)


def _bag(models: tp.List[torch.nn.Module], bag: tp.Dict[str, tp.Any]) -> torch.nn.Module:
    from demucs.apply import BagOfModels
    try:
        return BagOfModels(models, bag.get("weights"), bag.get("segment")).eval()
    except AssertionError:
        raise BeatLMError("the models of this bag disagree on sources, sample rate or channels") from None


def repo_names(repo: Path) -> tp.List[str]:
    """Model names a repo folder offers: its bags (`NAME.yaml`) and single models (`SIG[-CHECKSUM].th`)."""
    names = {p.stem for p in repo.glob("*.yaml")}
    names |= {p.stem.rsplit("-", 1)[0] for p in repo.glob("*.th")}
    return sorted(names)


def load_from_repo(name: str, repo: tp.Union[str, Path]) -> torch.nn.Module:
    """Model or bag `name` from the local repo folder `repo` (the layout of demucs's `--repo`).

    Raises:
        BeatLMError: no such folder or model, a damaged or unsafe file.
    """
    import yaml
    repo = Path(repo)
    if not repo.is_dir():
        raise BeatLMError(f"Demucs repo {repo} is not a folder: give the folder holding {name}.yaml and its .th files")
    bag_file = repo / f"{name}.yaml"
    if bag_file.is_file():
        try:
            bag = yaml.safe_load(bag_file.read_text()) or {}
            signatures = list(bag["models"])
        except (yaml.YAMLError, KeyError, TypeError):
            raise BeatLMError(f"{bag_file} is not a Demucs bag (expected `models: [SIG, ...]`)") from None
        models = []
        for sig in signatures:
            path = _model_file(repo, str(sig))
            if path is None:
                raise BeatLMError(f"{bag_file} names model {sig}, but {repo} has no {sig}.th, {sig}-*.th or "
                                  f"{sig}.safetensors")
            models.append(_load_file(path))
        return _bag(models, bag)
    path = _model_file(repo, name)
    if path is None:
        offered = ", ".join(repo_names(repo)) or "nothing"
        raise BeatLMError(f"no Demucs model {name!r} in {repo} (it offers: {offered})")
    return _load_file(path)


def hf_repo_id(name: str) -> str:
    """The Hugging Face repository demucs 4.1.0 publishes model `name` in (`[namespace/]name`)."""
    namespace, _, short = name.rpartition("/")
    if short == "htdemucs":
        repo = "HTDemucs"
    elif short.startswith("htdemucs_"):
        repo = "HTDemucs-" + short[len("htdemucs_"):]
    else:
        repo = "Demucs-" + short
    return f"{namespace or HF_NAMESPACE}/{repo}"


def load_from_hub(name: str) -> torch.nn.Module:
    """Official bag `name` from the Hugging Face hub (or its local cache), safetensors only.

    Raises:
        BeatLMError: not cached and the hub cannot be reached (offline), or no such model.
    """
    import yaml
    try:
        from huggingface_hub import hf_hub_download
        repo_id, short = hf_repo_id(name), name.rpartition("/")[2]
        bag = yaml.safe_load(Path(hf_hub_download(repo_id, f"{short}.yaml", etag_timeout=5)).read_text())
        files = [Path(hf_hub_download(repo_id, f"{sig}.safetensors", etag_timeout=5)) for sig in bag["models"]]
    except Exception as exc:  # offline, unknown model, hub error: all end the same way for the user
        raise BeatLMError(
            f"Demucs model {name!r} is not on this machine and could not be downloaded ({type(exc).__name__}). "
            f"Offline, pass --repo DIR: a folder holding {name}.yaml and its .th files (the official weights "
            "copied from a machine with internet, or a small model from scripts/train_small_demucs.py), or use "
            "--model beatlm_vocals, the small model shipped with BeatLM") from None
    return _bag([load_safetensors(path) for path in files], bag)


def default_repo(name: str) -> tp.Optional[Path]:
    """The repo folder shipped with BeatLM that holds model `name` (`beatlm_vocals`), else None (the hub)."""
    from ..assets import SMALL_DEMUCS_DIR, SMALL_DEMUCS_NAME
    return SMALL_DEMUCS_DIR if name == SMALL_DEMUCS_NAME else None


def load_demucs(name: str, repo: tp.Optional[tp.Union[str, Path]] = None) -> torch.nn.Module:
    """Model or bag `name` from `repo`, else from the shipped models, else from the Hugging Face hub; in eval mode."""
    repo = repo if repo is not None else default_repo(name)
    return load_from_repo(name, repo) if repo is not None else load_from_hub(name)


def model_package(model: torch.nn.Module, training_args: tp.Optional[tp.Dict[str, tp.Any]] = None
                  ) -> tp.Dict[str, tp.Any]:
    """The `{klass, args, kwargs, state, training_args}` package Demucs repos store (float32 weights)."""
    args, kwargs = model._init_args_kwargs  # set by demucs's @capture_init
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return {"klass": type(model), "args": list(args), "kwargs": dict(kwargs), "state": state,
            "training_args": dict(training_args or {})}


def save_to_repo(model: torch.nn.Module, repo: tp.Union[str, Path], name: str,
                 training_args: tp.Optional[tp.Dict[str, tp.Any]] = None) -> Path:
    """Save `model` into the repo folder as `SIG-CHECKSUM.th` plus the bag `NAME.yaml` naming it.

    Both demucs (`get_model(name, repo=...)`) and `load_from_repo` read the result. Writes are atomic and
    the bag is written last, so a killed save leaves the previous model in use; files of the previous
    save of `name` are then removed.

    Returns:
        The path of the bag YAML.
    """
    import yaml
    repo = Path(repo)
    repo.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(model_package(model, training_args), buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    sig = digest[8:16]
    weights = repo / f"{sig}-{digest[:8]}.th"
    bag_file = repo / f"{name}.yaml"
    previous: tp.List[str] = []
    if bag_file.is_file():
        previous = [str(s) for s in (yaml.safe_load(bag_file.read_text()) or {}).get("models", [])]
    with atomic_path(weights, overwrite=True) as tmp:
        tmp.write_bytes(data)
    with atomic_path(bag_file, overwrite=True) as tmp:
        tmp.write_text(yaml.safe_dump({"models": [sig]}))
    for old in previous:
        if old != sig:
            for path in repo.glob(f"{old}-*.th"):
                path.unlink(missing_ok=True)
    return bag_file
