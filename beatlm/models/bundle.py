"""A model bundle: one folder holding everything `MusicLM.get_pretrained` needs, and nothing else.

    DIR/manifest.json            format, version, name, per part: file, sha256, content signature
    DIR/codec.th, mulan.th       exports of `beatlm export codec|mulan`
    DIR/semantic_tokenizer.th    a fitted semantic tokenizer
    DIR/semantic.th, coarse.th, fine.th   exports of `beatlm export stage`

`export_bundle` assembles a bundle from exports or training experiments and checks that the parts
fit together (token vocabularies, frame rates, codebook split, and the content signatures of the
codec, MuLaN and tokenizer each stage was trained on); `load_bundle` checks the manifest and every
file's sha256, then the same fit. A bundle is written to a temporary folder and renamed into place,
so an interrupted export leaves nothing half-written.
"""

import datetime
import hashlib
import json
import logging
import os
from pathlib import Path
import shutil
import tempfile
import typing as tp

from .. import __version__
from ..utils.errors import BeatLMError
from ..utils.files import umask

logger = logging.getLogger(__name__)

FORMAT = "beatlm.bundle"
VERSION = 1
MANIFEST_NAME = "manifest.json"
STAGES = ("semantic", "coarse", "fine")
PARTS = {"codec": "codec.th", "mulan": "mulan.th", "semantic_tokenizer": "semantic_tokenizer.th",
         "semantic": "semantic.th", "coarse": "coarse.th", "fine": "fine.th"}


def sha256_file(path: tp.Union[str, Path]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place_part(kind: str, source: tp.Union[str, Path], dest: Path) -> None:
    """Copy an exported part to `dest`, or export it there from a training experiment."""
    from ..utils import export
    from ..utils.checkpoint import load_checkpoint
    path = Path(str(source))
    if kind == "semantic_tokenizer":
        if not path.is_file():
            raise BeatLMError(f"semantic tokenizer {source} does not exist")
        shutil.copyfile(path, dest)
        return
    if path.is_file():
        pkg = load_checkpoint(path)
        if isinstance(pkg, dict) and pkg.get("exported"):
            shutil.copyfile(path, dest)
            return
    getattr(export, f"export_{'stage' if kind in STAGES else kind}")(source, dest)


def _loaded(folder: Path, device: str) -> tp.Dict[str, tp.Any]:
    from ..modules.semantic_tokenizer import SemanticTokenizer
    from .loaders import load_compression_model, load_mulan_model, load_stage_lm
    parts: tp.Dict[str, tp.Any] = {"codec": load_compression_model(folder / PARTS["codec"], device=device)}
    parts["mulan"] = load_mulan_model(folder / PARTS["mulan"], device=device)
    parts["semantic_tokenizer"] = SemanticTokenizer.load(folder / PARTS["semantic_tokenizer"],
                                                         mulan=parts["mulan"]).to(device)
    parts["lms"], parts["metas"] = {}, {}
    for stage in STAGES:
        parts["lms"][stage], parts["metas"][stage] = load_stage_lm(folder / PARTS[stage], parts["mulan"], device)
    return parts


def signatures(parts: tp.Mapping[str, tp.Any]) -> tp.Dict[str, str]:
    """Content signatures of the loaded codec, MuLaN and semantic tokenizer (as the token cache keys them)."""
    from ..data.token_cache import codec_info, mulan_info
    return {"codec": codec_info(parts["codec"])["signature"], "mulan": mulan_info(parts["mulan"])["signature"],
            "semantic_tokenizer": str(parts["semantic_tokenizer"].signature())}


def check_parts(parts: tp.Mapping[str, tp.Any], where: str,
                found: tp.Optional[tp.Mapping[str, str]] = None) -> tp.Dict[str, str]:
    """Raise a BeatLMError naming the parts that do not fit the others; return the parts' signatures.

    Args:
        parts: Loaded parts (see `load_bundle`).
        where: Named in the error.
        found: The codec / MuLaN / tokenizer signatures if already known (a manifest whose files passed
            their sha256 check); computed from the weights otherwise.
    """
    codec, tokenizer, metas = parts["codec"], parts["semantic_tokenizer"], parts["metas"]
    specs = {stage: metas[stage]["spec"] for stage in STAGES}
    for stage in STAGES:
        if metas[stage].get("stage") != stage:
            raise BeatLMError(f"{where}: the {stage} part is a {metas[stage].get('stage')} stage")
    problems = []
    sem, coarse, fine = specs["semantic"], specs["coarse"], specs["fine"]
    if (sem["card"], sem["frame_rate"]) != (tokenizer.cardinality, tokenizer.frame_rate):
        problems.append(f"semantic stage models {sem['card']} tokens at {sem['frame_rate']} Hz, the semantic "
                        f"tokenizer makes {tokenizer.cardinality} at {tokenizer.frame_rate} Hz")
    for name, spec in (("coarse", coarse), ("fine", fine)):
        if (spec["card"], spec["frame_rate"]) != (codec.cardinality, codec.frame_rate):
            problems.append(f"{name} stage models {spec['card']} codes at {spec['frame_rate']} Hz, the codec has "
                            f"{codec.cardinality} at {codec.frame_rate} Hz")
    if coarse["n_q"] + fine["n_q"] != codec.num_codebooks:
        problems.append(f"coarse ({coarse['n_q']}) + fine ({fine['n_q']}) codebooks != the codec's "
                        f"{codec.num_codebooks}")
    if coarse["aligned"]["cardinality"] != tokenizer.cardinality or fine["aligned"]["num_streams"] != coarse["n_q"]:
        problems.append("the stages' conditioning tokens do not match the previous stages")
    found = dict(found) if found is not None else signatures(parts)
    for stage in STAGES:
        for kind, trained in (metas[stage].get("trained_on") or {}).items():
            if trained is None:
                logger.warning("%s: cannot check which %s the %s stage was trained on (its files were gone at "
                               "export)", where, kind, stage)
            elif trained != found[kind]:
                problems.append(f"the {stage} stage was trained on another {kind} ({trained}, this one is "
                                f"{found[kind]})")
    if problems:
        raise BeatLMError(f"{where}: mismatched parts: {'; '.join(problems)}")
    return found


def export_bundle(out: tp.Union[str, Path], codec: str, mulan: str, semantic_tokenizer: str, semantic: str,
                  coarse: str, fine: str, name: tp.Optional[str] = None, overwrite: bool = False) -> Path:
    """Assemble a bundle folder from exported files or training experiments (`//sig/<SIG>`, XP folders).

    Args:
        out: Folder to create.
        codec, mulan, semantic_tokenizer, semantic, coarse, fine: Where each part is.
        name: Model id written in the manifest (default: the folder name).
        overwrite: Replace `out` if it exists.
    Returns:
        The bundle folder.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise BeatLMError(f"{out} already exists; choose another path or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = {"codec": codec, "mulan": mulan, "semantic_tokenizer": semantic_tokenizer, "semantic": semantic,
               "coarse": coarse, "fine": fine}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for kind, source in sources.items():
            _place_part(kind, source, tmp / PARTS[kind])
        parts = _loaded(tmp, "cpu")
        found = check_parts(parts, "bundle")
        windows = {stage: float(parts["metas"][stage]["window"]) for stage in STAGES}
        manifest = {
            "format": FORMAT, "version": VERSION, "name": name or out.name, "beatlm_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "sample_rate": int(parts["codec"].sample_rate), "channels": int(parts["codec"].channels),
            "windows": windows, "specs": {stage: parts["metas"][stage]["spec"] for stage in STAGES},
            "parts": {kind: {"file": PARTS[kind], "sha256": sha256_file(tmp / PARTS[kind]),
                             "signature": found.get(kind)} for kind in PARTS}}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it owner-only
        for kind in PARTS:
            os.chmod(tmp / PARTS[kind], 0o666 & ~umask())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_manifest(folder: tp.Union[str, Path]) -> tp.Dict[str, tp.Any]:
    """A bundle's manifest, after checking its format and the presence and sha256 of every part."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise BeatLMError(f"{folder} is not a model bundle (no {MANIFEST_NAME}); write one with `beatlm export bundle`")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BeatLMError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BeatLMError(f"{path} is not a BeatLM bundle manifest")
    if manifest.get("version") != VERSION:
        raise BeatLMError(f"{path}: bundle format {manifest.get('version')} is not supported (this BeatLM reads "
                          f"version {VERSION})")
    missing = [key for key, kind in (("name", str), ("windows", dict), ("specs", dict))
               if not isinstance(manifest.get(key), kind)]
    if missing:
        raise BeatLMError(f"{path} lacks a valid {', '.join(missing)}; export the bundle again with "
                          "`beatlm export bundle`")
    parts = manifest.get("parts")
    for kind in PARTS:
        _check_part(folder, kind, parts.get(kind) if isinstance(parts, dict) else None)
    return manifest


def _check_part(folder: Path, kind: str, entry: tp.Any) -> None:
    """Refuse a part the manifest does not list, names another file for, or whose file is absent or changed."""
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise BeatLMError(f"{folder}: the bundle's {kind} part is missing from its manifest")
    if entry.get("file") != PARTS[kind]:
        raise BeatLMError(f"{folder}: the manifest names {entry.get('file')!r} as the {kind} part; a bundle's {kind} "
                          f"part is {PARTS[kind]} (the file that is loaded)")
    if not (folder / PARTS[kind]).is_file():
        raise BeatLMError(f"{folder}: the bundle's {kind} part is missing ({PARTS[kind]})")
    if sha256_file(folder / PARTS[kind]) != entry["sha256"]:
        raise BeatLMError(f"{folder}: the {kind} part ({PARTS[kind]}) does not match its sha256 in the "
                          "manifest (changed or corrupted)")


def _check_manifest_copy(manifest: tp.Mapping[str, tp.Any], metas: tp.Mapping[str, tp.Any], where: str) -> None:
    """Refuse a manifest whose record of the stages (spec, window) differs from what the stage files hold."""
    for stage in STAGES:
        spec = json.loads(json.dumps(metas[stage]["spec"]))
        if manifest["specs"].get(stage) != spec or manifest["windows"].get(stage) != float(metas[stage]["window"]):
            raise BeatLMError(f"{where}: mismatched parts: the manifest's record of the {stage} stage (spec, window) "
                              f"differs from the {stage} part; export the bundle again")


def manifest_hash(folder: tp.Union[str, Path]) -> str:
    """Short sha256 of a bundle's manifest: it names every part's hash, so it identifies the whole model."""
    return sha256_file(Path(folder) / MANIFEST_NAME)[:16]


def load_bundle(folder: tp.Union[str, Path], device: str = "cpu") -> tp.Dict[str, tp.Any]:
    """Check and load a bundle: {'manifest', 'hash', 'codec', 'mulan', 'semantic_tokenizer', 'lms', 'metas'}."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    parts = _loaded(folder, device)
    recorded = {kind: manifest["parts"][kind].get("signature") for kind in ("codec", "mulan", "semantic_tokenizer")}
    check_parts(parts, str(folder), found=recorded if all(recorded.values()) else None)
    _check_manifest_copy(manifest, parts["metas"], str(folder))
    parts.update(manifest=manifest, hash=manifest_hash(folder))
    return parts
