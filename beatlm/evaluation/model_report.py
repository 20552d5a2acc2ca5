"""`evaluate_model`: generate for every prompt with a model bundle, measure, and write a report folder.

    report = evaluate_model('models/beatlm-micro', 'prompts.jsonl', 'report/', duration=10, seeds=2)

The folder gets `report.md`, `report.json` (the returned dict), PNG plots and the generated samples
(`samples/*.wav`), every file written atomically. What is measured is described in `report.md` itself
(and in the README section "Evaluating a model").
"""

import datetime
import json
from pathlib import Path
import time
import typing as tp

import numpy as np
import torch

from ..utils.errors import BeatLMError
from . import measures
from .prompts import Prompt, read_prompts

SPECTROGRAM_SAMPLES = 4
REFERENCE_LIMIT = 200


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BeatLMError(f"--out {out_dir} is a file; give a folder for the report")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise BeatLMError(f"report folder {out_dir} is not empty; choose another --out or pass --overwrite")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatLMError(f"cannot create report folder {out_dir}: {exc.strerror}") from None


def _check_inputs(prompts_path: tp.Union[str, Path], duration: float, seeds: int,
                  reference: tp.Optional[tp.Union[str, Path]], codec_audio: tp.Optional[tp.Union[str, Path]]
                  ) -> tp.Tuple[tp.List[Prompt], tp.List[tp.Any], Path]:
    """Everything the user gives, checked before any model is loaded: (prompts, reference entries, codec folder)."""
    from ..assets import DRUMS_CC0_DIR
    from ..metrics.codec import audio_files
    from ..models.musiclm import MAX_DURATION
    if not isinstance(duration, (int, float)) or not 0 < duration <= MAX_DURATION:
        raise BeatLMError(f"duration must be in (0, {MAX_DURATION:g}] seconds, got {duration}")
    if int(seeds) < 1:
        raise BeatLMError(f"seeds must be at least 1, got {seeds}")
    prompts = read_prompts(prompts_path)
    entries: tp.List[tp.Any] = []
    if reference is not None:
        from ..data.clips import manifest_entries
        entries = manifest_entries([reference], limit=REFERENCE_LIMIT)
    codec_dir = Path(codec_audio) if codec_audio is not None else DRUMS_CC0_DIR
    audio_files(codec_dir)
    return prompts, entries, codec_dir


def _write_wav(path: Path, wav: torch.Tensor, sample_rate: int, overwrite: bool) -> None:
    import soundfile as sf

    from ..utils.files import atomic_path
    data = wav.detach().float().cpu().clamp(-1, 1).numpy().T
    with atomic_path(path, overwrite=overwrite) as tmp:
        sf.write(str(tmp), data, sample_rate, format="WAV", subtype="PCM_16")


def _reference_embeddings(model: tp.Any, entries: tp.Sequence[tp.Any], progress: bool) -> np.ndarray:
    from tqdm import tqdm

    from ..data.clips import iter_clips
    rows = []
    with torch.no_grad():
        for wav, sr in tqdm(iter_clips(entries), total=len(entries), desc="reference clips", unit="clip",
                            disable=not progress):
            rows.append(model.mulan.embed_audio(wav, sr)[0].cpu().numpy())
    return np.stack(rows)


def _frechet(generated: np.ndarray, reference: tp.Optional[np.ndarray],
             source: tp.Optional[tp.Union[str, Path]]) -> tp.Dict[str, tp.Any]:
    from ..metrics.embedding import frechet_distance
    if reference is None:
        return {"value": None, "reference": None,
                "note": "skipped: no reference set given (--reference <corpus>/egs/test)"}
    if len(generated) < 2:
        return {"value": None, "reference": str(source), "note": "skipped: needs at least 2 generated samples"}
    value, details = frechet_distance(generated, reference)
    return {"value": value, "reference": str(source), "reference_clips": len(reference), **details,
            "note": "MuLaN audio-embedding space: comparable only between runs with this MuLaN and this reference "
                    "set, not with published FAD_VGG figures"}


def _diversity(embeddings: np.ndarray, seeds: int, prompts: int) -> tp.Dict[str, tp.Any]:
    from ..metrics.embedding import mean_pairwise_cosine_distance
    if seeds < 2:
        return {"value": None, "note": "skipped: needs --seeds 2 or more"}
    per_prompt = [mean_pairwise_cosine_distance(embeddings[i * seeds:(i + 1) * seeds]) for i in range(prompts)]
    return {"value": float(np.mean(per_prompt)), "per_prompt": per_prompt, "seeds": seeds,
            "note": "mean pairwise cosine distance of MuLaN audio embeddings of each prompt's samples"}


def _cuda_check(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BeatLMError("device cuda, but no CUDA device is available here; use cpu")


def evaluate_model(model_dir: tp.Optional[tp.Union[str, Path]], prompts_path: tp.Union[str, Path],
                   out_dir: tp.Union[str, Path], *, duration: float = 10.0, seeds: int = 2,
                   reference: tp.Optional[tp.Union[str, Path]] = None,
                   codec_audio: tp.Optional[tp.Union[str, Path]] = None, device: str = "cpu",
                   progress: bool = True, seed: int = 0, overwrite: bool = False, candidates: int = 1
                   ) -> tp.Dict[str, tp.Any]:
    """Generate `seeds` samples per prompt and measure them; write report.md, report.json, plots and samples.

    Args:
        model_dir: Model bundle folder (or hub id); None for the default model shipped with BeatLM.
        prompts_path: `.txt` (one prompt a line) or `.jsonl` (`prompt`, optional `bpm`, `key`, `style`).
        out_dir: Report folder; must be empty or new unless `overwrite`.
        duration: Seconds of audio per sample.
        seeds: Samples per prompt, sample j of prompt i generated with seed `seed + i * seeds + j`.
        reference: Manifest folder (`<corpus>/egs/test`) for the Fréchet distance; None skips it.
        codec_audio: Folder of real audio for codec reconstruction (default: the bundled CC0 drums).
        device: 'cpu', 'cuda' or 'auto'.
        progress: Show a progress bar over prompts.
        seed: Base seed.
        overwrite: Write into a non-empty `out_dir`, replacing files of the same names.
        candidates: MuLaN re-ranking candidates per sample (1: none; more inflates MuLaN consistency).
    Returns:
        The report (also written to `report.json`).
    Raises:
        BeatLMError: a missing or empty prompts file, a bad reference or codec folder, a non-empty `out_dir`
            without `overwrite`, a bad bundle, or impossible numbers.
    """
    from tqdm import tqdm

    from ..metrics.codec import codec_metrics
    from ..metrics.embedding import derangement, paired_cosine
    from ..metrics.vocals import speech_ratio
    from ..models.musiclm import MusicLM, resolve_device
    from .report_files import to_json, write_report
    started = time.perf_counter()
    seeds = int(seeds)
    prompts, entries, codec_dir = _check_inputs(prompts_path, duration, seeds, reference, codec_audio)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    device = resolve_device(device)
    _cuda_check(device)
    model = MusicLM.get_pretrained(None if model_dir is None else str(model_dir), device=device)
    model.set_generation_params(duration=float(duration), num_candidates=candidates)
    model.check_prompts([p.text for p in prompts])
    sr = model.sample_rate

    samples: tp.List[tp.Dict[str, tp.Any]] = []
    audio_embeddings, previews = [], []
    timings = {"generate": 0.0, "measure": 0.0}
    for i, prompt in enumerate(tqdm(prompts, desc="evaluating prompts", unit="prompt", disable=not progress)):
        for j in range(seeds):
            sample_seed = int(seed) + i * seeds + j
            begin = time.perf_counter()
            torch.manual_seed(sample_seed)
            wav = model.generate([prompt.text])[0].cpu()
            timings["generate"] += time.perf_counter() - begin
            begin = time.perf_counter()
            name = f"samples/{i:03d}-s{sample_seed}.wav"
            _write_wav(out_dir / name, wav, sr, overwrite)
            mono = wav.mean(dim=0).numpy()
            row = {"prompt_index": i, "prompt": prompt.text, "style": prompt.style, "bpm_asked": prompt.bpm,
                   "key_asked": prompt.key, "seed": sample_seed, "file": name,
                   **measures.measure_sample(mono, sr, prompt), "speech_ratio": speech_ratio(wav, sr)[0]}
            with torch.no_grad():
                audio_embeddings.append(model.mulan.embed_audio(wav[None], sr)[0].cpu().numpy())
            if len(previews) < SPECTROGRAM_SAMPLES:
                previews.append((f"{prompt.text} (seed {sample_seed})", mono))
            samples.append(row)
            timings["measure"] += time.perf_counter() - begin

    audio = np.stack(audio_embeddings)
    with torch.no_grad():
        text = model.mulan.embed_text([p.text for p in prompts]).cpu().numpy()
    owner = [s["prompt_index"] for s in samples]
    matched = paired_cosine(audio, text[owner])
    shuffle = derangement(len(prompts))
    shuffled = paired_cosine(audio, text[[shuffle[k] for k in owner]]) if len(prompts) >= 2 else None
    for k, row in enumerate(samples):
        row["mulan"] = float(matched[k])
        row["mulan_shuffled"] = None if shuffled is None else float(shuffled[k])

    begin = time.perf_counter()
    ref = _reference_embeddings(model, entries, progress) if entries else None
    metrics = measures.summarise(samples)
    metrics["mulan"]["shuffle"] = "prompt i's samples against prompt i+1's text (a fixed derangement)"
    metrics["frechet"] = _frechet(audio, ref, reference)
    metrics["diversity"] = _diversity(audio, seeds, len(prompts))
    metrics["codec"] = codec_metrics(model.codec, codec_dir)
    timings["set_metrics"] = time.perf_counter() - begin
    timings["total"] = time.perf_counter() - started

    report = {
        "model": {"name": model.name, "hash": model.model_hash,
                  "source": None if model_dir is None else str(model_dir)},
        "settings": {"prompts_file": str(prompts_path), "prompts": len(prompts), "seeds": seeds, "seed": int(seed),
                     "duration": float(duration), "device": device, "sample_rate": sr,
                     "generation": model.generation_params},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "targets": measures.targets(metrics), "metrics": metrics, "by_style": measures.by_style(samples),
        "samples": samples, "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    write_report(report, out_dir, previews, sr, overwrite=overwrite)
    return json.loads(to_json(report))
