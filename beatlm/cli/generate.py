"""`beatlm generate "prompt"`: beats from text, one audio file and one JSON sidecar per sample.

    beatlm generate "dark trap beat, 140 bpm, heavy 808" --duration 10 --candidates 4 --seed 1 --out beats/

Each prompt is generated with seed S + its index (S from --seed, random if not given), all its
--num-samples x --candidates samples in one batch; of each sample's candidates the one MuLaN finds
closest to the prompt is kept. The sidecar records everything needed to make the file again.

Bad input (an empty or too long prompt, a duration outside [0.5, 300] s, an unknown format, an
output file that exists without --overwrite, an unwritable --out, a missing or mismatched model
part) stops the run with one line and exit code 2 before anything is written; files are written
atomically.
"""

import argparse
import datetime
import json
import math
import os
from pathlib import Path
import random
import re
import shutil
import subprocess
import sys
import typing as tp

from ..utils.errors import BeatLMError

FORMATS = ("wav", "mp3", "flac")
MAX_SEED = 2 ** 63 - 1  # torch.manual_seed takes 64-bit seeds; prompt i uses seed S + i


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="generate beats from text prompts",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompts", nargs="*", metavar="PROMPT", help="text prompt(s) describing the beat")
    parser.add_argument("--prompts-file", type=Path,
                        help="file with one prompt per line ('#' lines skipped), or a .jsonl file of objects with "
                             'a "prompt" (e.g. from `beatlm corpus prompts`)')
    parser.add_argument("--model", help="model bundle folder (beatlm export bundle) or hub id; "
                                        "default: the model shipped with BeatLM")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of audio, 0.5 to 300 (default: %(default)s)")
    parser.add_argument("--num-samples", type=int, default=1, help="samples per prompt (default: %(default)s)")
    parser.add_argument("--candidates", type=int, default=1,
                        help="candidates per sample, the best by MuLaN kept (default: %(default)s)")
    parser.add_argument("--seed", type=int, help="random seed; the same seed gives the same audio (default: random)")
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0, 0.95, 0.4], metavar="T",
                        help="one temperature, or three: semantic coarse fine (default: 1.0 0.95 0.4)")
    parser.add_argument("--top-k", type=int, default=250, help="top-k sampling (default: %(default)s)")
    parser.add_argument("--top-p", type=float, default=0.0, help="top-p sampling, 0 = off (default: %(default)s)")
    parser.add_argument("--cfg-coef", type=float, default=3.0,
                        help="classifier-free guidance coefficient (default: %(default)s)")
    parser.add_argument("--format", type=str.lower, default="wav", metavar="{wav,mp3,flac}",
                        help="audio format (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("beats"), help="output folder (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that exist (without it, an existing file stops the run before "
                             "anything is generated)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def read_prompts_file(path: Path) -> tp.List[str]:
    """Prompts of a file: one per line ('#' lines skipped), or the "prompt" of each line of a .jsonl file
    (as `beatlm corpus prompts` writes)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BeatLMError(f"cannot read prompts file {path}: {exc}") from None
    if path.suffix.lower() != ".jsonl":
        return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = None
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise BeatLMError(f'{path} line {number} is not a JSON object with a "prompt" string')
        prompts.append(item["prompt"].strip())
    return prompts


def read_prompts(args: argparse.Namespace) -> tp.List[str]:
    """The prompts of the command line and of --prompts-file, in order (at least one, none empty)."""
    prompts = list(args.prompts)
    if args.prompts_file is not None:
        prompts += read_prompts_file(args.prompts_file)
    if not prompts:
        raise BeatLMError('no prompt given: beatlm generate "boom bap beat with dusty piano, 90 bpm"')
    from ..models.musiclm import is_blank
    for i, prompt in enumerate(prompts):
        if is_blank(prompt):
            raise BeatLMError(f"prompt {i + 1} is empty: describe the beat, e.g. 'trap beat, 140 bpm'")
    return prompts


def slug(text: str, length: int = 40) -> str:
    """A file-name-safe short form of a prompt ('beat' when nothing ASCII is left, e.g. an emoji prompt)."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:length].rstrip("-") or "beat"


def check_args(args: argparse.Namespace, num_prompts: int = 1) -> None:
    """Refuse impossible options before anything is loaded."""
    from ..models.musiclm import MAX_DURATION, MIN_DURATION
    if args.format not in FORMATS:
        raise BeatLMError(f"unknown --format {args.format}: choose {', '.join(FORMATS)}")
    if not MIN_DURATION <= args.duration <= MAX_DURATION:
        raise BeatLMError(f"--duration must be in [{MIN_DURATION:g}, {MAX_DURATION:g}] seconds, got {args.duration:g}")
    if args.num_samples < 1 or args.candidates < 1:
        raise BeatLMError("--num-samples and --candidates must be at least 1")
    if len(args.temperature) not in (1, 3) or any(not 0 < t < math.inf for t in args.temperature):
        raise BeatLMError("--temperature takes one positive value or three (semantic coarse fine)")
    if args.top_k < 0 or not 0 <= args.top_p <= 1 or not math.isfinite(args.cfg_coef):
        raise BeatLMError("--top-k must be >= 0, --top-p in [0, 1] and --cfg-coef a finite number")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED - (num_prompts - 1):
        raise BeatLMError(f"--seed must be between 0 and {MAX_SEED - (num_prompts - 1)}, got {args.seed}")
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        raise BeatLMError(f"--device must be auto, cpu or cuda[:N], got {args.device}")
    if shutil.which("ffmpeg") is None:  # audiocraft's audio_write pipes every format through it
        raise BeatLMError("ffmpeg is not installed, and beatlm generate writes audio with it: install it (e.g. "
                          "apt-get install ffmpeg; `beatlm doctor` checks)")


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that cannot be created or written to, without creating it."""
    if out.exists() and not out.is_dir():
        raise BeatLMError(f"cannot create output folder {out}: a file is in the way")
    base = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not base.is_dir():
        raise BeatLMError(f"cannot create output folder {out}: {base} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise BeatLMError(f"output folder {out} is not writable" if base == out.absolute() else
                          f"cannot create output folder {out}: {base} is not writable")


def planned_outputs(args: argparse.Namespace, prompts: tp.Sequence[str], seed: int) -> tp.List[tp.List[Path]]:
    """Audio paths per prompt and sample; refuses existing ones (without --overwrite) and unwritable folders."""
    check_output_folder(args.out)
    plan = [[args.out / f"{i:03d}-{slug(prompt)}-s{seed + i}-{j}.{args.format}" for j in range(args.num_samples)]
            for i, prompt in enumerate(prompts)]
    files = [f for paths in plan for p in paths for f in (p, p.with_suffix(".json"))]
    folders = [f for f in files if f.is_dir()]
    if folders:
        raise BeatLMError(f"{folders[0]} is a folder; choose another --out or --seed")
    existing = [f for f in files if f.exists()]
    if existing and not args.overwrite:
        raise BeatLMError(f"{existing[0]} already exists ({len(existing)} of the output files do); choose another "
                          "--out or --seed, or pass --overwrite")
    return plan


def make_output_folder(out: Path) -> None:
    """Create the output folder (once every input has been checked)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatLMError(f"cannot create output folder {out}: {exc.strerror}") from None


def write_sample(path: Path, wav: tp.Any, sample_rate: int, fmt: str, sidecar: tp.Dict[str, tp.Any],
                 overwrite: bool) -> None:
    """Write audio then its JSON sidecar, each atomically (an interrupted run leaves no partial file)."""
    from audiocraft.data.audio import audio_write

    from ..utils.files import atomic_path
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            audio_write(tmp, wav.cpu(), sample_rate, format=fmt, strategy="loudness", loudness_compressor=True,
                        add_suffix=False)
        with atomic_path(path.with_suffix(".json"), overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except FileExistsError as exc:  # written by another process since the check
        raise BeatLMError(f"{exc.args[0]} already exists; choose another --out or pass --overwrite") from None
    except (OSError, subprocess.CalledProcessError) as exc:  # a full disk, ffmpeg failing
        raise BeatLMError(f"cannot write {path}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import __version__
    from ..models.musiclm import MusicLM, resolve_device
    prompts = read_prompts(args)
    check_args(args, len(prompts))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 31)
    plan = planned_outputs(args, prompts, seed)
    device = resolve_device(args.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BeatLMError("--device cuda, but no CUDA device is available here; use --device cpu")
    model = MusicLM.get_pretrained(args.model, device=device)
    temperature = args.temperature * 3 if len(args.temperature) == 1 else args.temperature
    model.set_generation_params(duration=args.duration, temperature=temperature, top_k=args.top_k, top_p=args.top_p,
                                cfg_coef=args.cfg_coef, num_candidates=args.candidates)
    model.check_prompts(prompts)
    make_output_folder(args.out)
    params = dict(model.generation_params)
    for i, (prompt, paths) in enumerate(zip(prompts, plan)):
        torch.manual_seed(seed + i)
        if not args.quiet:
            print(f"[{i + 1}/{len(prompts)}] {prompt}", file=sys.stderr)
        wav = model.generate([prompt] * args.num_samples, progress=not args.quiet)
        info = model.last_generation
        for j, path in enumerate(paths):
            sidecar = {
                "prompt": prompt, "seed": seed + i, "sample": j, "num_samples": args.num_samples,
                "mulan_score": info.scores[j][info.chosen[j]] if info.scores[j] else None,
                "candidate_scores": info.scores[j], "chosen_candidate": info.chosen[j],
                "params": params, "model": {"name": model.name, "hash": model.model_hash, "source": args.model},
                "timings_s": {name: round(value, 4) for name, value in info.timings.items()},
                "sample_rate": model.sample_rate, "channels": model.audio_channels,
                "duration_s": wav.shape[-1] / model.sample_rate, "format": args.format, "device": device,
                "beatlm_version": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            write_sample(path, wav[j], model.sample_rate, args.format, sidecar, args.overwrite)
            print(path)
    return 0
