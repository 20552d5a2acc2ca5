"""`beatlm generate "prompt"`: beats from text, one audio file and one JSON sidecar per sample.

    beatlm generate "dark trap beat, 140 bpm, heavy 808" --duration 10 --candidates 4 --seed 1 --out beats/

Each prompt is generated with seed S + its index (S from --seed, random if not given), all its
--num-samples x --candidates samples in one batch; of each sample's candidates the one MuLaN finds
closest to the prompt is kept. The sidecar records everything needed to make the file again.
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import random
import re
import sys
import typing as tp

from ..utils.errors import BeatLMError

FORMATS = ("wav", "mp3", "flac")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="generate beats from text prompts",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompts", nargs="*", metavar="PROMPT", help="text prompt(s) describing the beat")
    parser.add_argument("--prompts-file", type=Path, help="file with one prompt per line ('#' lines skipped)")
    parser.add_argument("--model", help="model bundle folder (beatlm export bundle) or hub id; "
                                        "default: the model shipped with BeatLM")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of audio (default: %(default)s)")
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
    parser.add_argument("--format", choices=FORMATS, default="wav", help="audio format (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("beats"), help="output folder (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def read_prompts(args: argparse.Namespace) -> tp.List[str]:
    """The prompts of the command line and of --prompts-file, in order (at least one, none empty)."""
    prompts = list(args.prompts)
    if args.prompts_file is not None:
        try:
            lines = args.prompts_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BeatLMError(f"cannot read prompts file {args.prompts_file}: {exc}") from None
        prompts += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise BeatLMError('no prompt given: beatlm generate "boom bap beat with dusty piano, 90 bpm"')
    for i, prompt in enumerate(prompts):
        if not prompt.strip():
            raise BeatLMError(f"prompt {i + 1} is empty: describe the beat, e.g. 'trap beat, 140 bpm'")
    return prompts


def slug(text: str, length: int = 40) -> str:
    """A file-name-safe short form of a prompt ('beat' when nothing ASCII is left, e.g. an emoji prompt)."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:length].rstrip("-") or "beat"


def check_args(args: argparse.Namespace) -> None:
    """Refuse impossible numbers before anything is loaded."""
    from ..models.musiclm import MAX_DURATION
    if not 0 < args.duration <= MAX_DURATION:
        raise BeatLMError(f"--duration must be in (0, {MAX_DURATION:g}] seconds, got {args.duration:g}")
    if args.num_samples < 1 or args.candidates < 1:
        raise BeatLMError("--num-samples and --candidates must be at least 1")
    if len(args.temperature) not in (1, 3) or any(not t > 0 for t in args.temperature):
        raise BeatLMError("--temperature takes one positive value or three (semantic coarse fine)")
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        raise BeatLMError(f"--device must be auto, cpu or cuda[:N], got {args.device}")


def planned_outputs(args: argparse.Namespace, prompts: tp.Sequence[str], seed: int) -> tp.List[tp.List[Path]]:
    """Audio paths per prompt and sample; refuses existing ones (without --overwrite) and unwritable folders."""
    plan = [[args.out / f"{i:03d}-{slug(prompt)}-s{seed + i}-{j}.{args.format}" for j in range(args.num_samples)]
            for i, prompt in enumerate(prompts)]
    if not args.overwrite:
        existing = [p for paths in plan for p in paths if p.exists() or p.with_suffix(".json").exists()]
        if existing:
            raise BeatLMError(f"{existing[0]} already exists ({len(existing)} of the outputs do); choose another "
                              "--out or --seed, or pass --overwrite")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatLMError(f"cannot create output folder {args.out}: {exc.strerror}") from None
    if not os.access(args.out, os.W_OK):
        raise BeatLMError(f"output folder {args.out} is not writable")
    return plan


def write_sample(path: Path, wav: tp.Any, sample_rate: int, fmt: str, sidecar: tp.Dict[str, tp.Any],
                 overwrite: bool) -> None:
    """Write audio then its JSON sidecar, each atomically (an interrupted run leaves no partial file)."""
    from audiocraft.data.audio import audio_write

    from ..utils.files import atomic_path
    with atomic_path(path, overwrite=overwrite) as tmp:
        audio_write(tmp, wav.cpu(), sample_rate, format=fmt, strategy="loudness", loudness_compressor=True,
                    add_suffix=False)
    with atomic_path(path.with_suffix(".json"), overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import __version__
    from ..models.musiclm import MusicLM, resolve_device
    check_args(args)
    prompts = read_prompts(args)
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
