"""Training throughput of every BeatLM solver at micro scale on 1 and on N processes (`beatlm bench training`).

Each solver trains through `dora run` as a user runs it (`dora run -d --ddp_workers N` for N processes,
gloo on CPU) in a Dora folder of its own, for 2 epochs of a few updates; the second epoch's train
stage is measured (the first pays for start-up, caches and allocator warm-up). With N processes the
global batch is the same and split over them, so the figures compare like for like:

- clips/s: training windows per second (codec: audio crops; MuLaN: (window, caption) pairs; stages:
  token crops), all processes together;
- audio s/s: seconds of audio those windows cover, per second;
- tokens/s (stages): modelled tokens scored per second, all processes together (the solvers' `tokens_per_s`).

The frozen parts the stages stand on default to the model shipped with BeatLM (its codec, MuLaN and
semantic tokenizer); the corpus defaults to a freshly rendered synthetic one.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import time
import typing as tp

from ..utils.errors import BeatLMError

SOLVERS = ("codec", "mulan", "semantic", "coarse", "fine")
# Per solver: the Dora arguments of its micro recipe, with the config keys of its batch and window.
RECIPES: tp.Dict[str, tp.List[str]] = {
    "codec": ["solver=compression/beats", "model_scale=micro", "dataset.train.shuffle=false"],
    "mulan": ["solver=musiclm/mulan", "model_scale=micro", "mulan.window=5"],
    "semantic": ["solver=musiclm/semantic", "model_scale=micro"],
    "coarse": ["solver=musiclm/coarse", "model_scale=micro"],
    "fine": ["solver=musiclm/fine", "model_scale=micro"],
}


def _splits(egs: Path) -> tp.List[str]:
    return [f"datasource.train={egs / 'train'}", f"datasource.valid={egs / 'valid'}",
            f"datasource.evaluate={egs / 'valid'}", f"datasource.generate={egs / 'valid'}"]


def solver_args(solver: str, egs: Path, parts: tp.Mapping[str, Path], batch: int, updates: int,
                segment: float) -> tp.List[str]:
    """Dora arguments of a throughput run of `solver` (2 epochs of `updates`, evaluation and samples only once)."""
    args = RECIPES[solver] + _splits(egs) + [
        "optim.epochs=2", f"optim.updates_per_epoch={updates}", f"dataset.batch_size={batch}",
        "dataset.num_workers=0", "logging.log_updates=0"]
    if solver == "codec":
        return args + [f"dataset.segment_duration={segment}", "scaled.codec.every=100", "dataset.valid.num_samples=4",
                       "dataset.evaluate.num_samples=2", "dataset.generate.num_samples=2",
                       "dataset.generate.segment_duration=1"]
    if solver == "mulan":
        return args + ["scaled.mulan.every=100", "dataset.valid.num_samples=8", "generate.quantizer_samples=64"]
    return args + [f"dataset.segment_duration={segment}", "scaled.lm.every=100", "dataset.valid.num_samples=4",
                   "dataset.evaluate.num_samples=4", "dataset.generate.num_samples=1",
                   f"compression_model_checkpoint={parts['codec']}", f"mulan_checkpoint={parts['mulan']}",
                   f"semantic_tokenizer_checkpoint={parts['semantic']}"]


def default_parts() -> tp.Dict[str, Path]:
    """The codec, MuLaN and semantic tokenizer of the model shipped with BeatLM."""
    from ..models.loaders import default_bundle
    root = default_bundle()
    parts = {"codec": root / "codec.th", "mulan": root / "mulan.th", "semantic": root / "semantic_tokenizer.th"}
    missing = [str(p) for p in parts.values() if not p.is_file()]
    if missing:
        raise BeatLMError(f"the shipped model lacks {', '.join(missing)}: pass --parts DIR with codec.th, mulan.th "
                          "and semantic_tokenizer.th")
    return parts


def run_once(solver: str, processes: int, args: tp.Sequence[str], dora_dir: Path,
             log: tp.Callable[[str], None]) -> tp.Dict[str, float]:
    """Train once through `dora run` on `processes` processes; the second epoch's train metrics and wall time."""
    env = dict(os.environ, AUDIOCRAFT_DORA_DIR=str(dora_dir), HF_HUB_OFFLINE="1")
    ddp = ["-d", "--ddp_workers", str(processes)] if processes > 1 else []
    full = [*args, f"num_threads={max(1, (os.cpu_count() or 1) // processes)}", f"label=bench_{processes}"]
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "dora", "-P", "beatlm", "run", *ddp, "--", *full],
                          capture_output=True, text=True, env=env)
    wall = time.time() - start
    if proc.returncode != 0:
        raise BeatLMError(f"{solver} on {processes} process(es) failed:\n{proc.stderr[-3000:]}")
    from .. import train
    history = json.loads((dora_dir / "xps" / train.main.get_xp(full).sig / "history.json").read_text())
    metrics = dict(history[-1]["train"])
    metrics["wall_s"] = wall
    log(f"{solver} x{processes}: {metrics.get('duration', 0):.2f} s per epoch of training, {wall:.0f} s in all")
    return metrics


def run_benchmark(workdir: Path, solvers: tp.Sequence[str] = SOLVERS, processes: tp.Sequence[int] = (1, 2),
                  updates: int = 5, batches: tp.Optional[tp.Mapping[str, int]] = None,
                  parts: tp.Optional[tp.Mapping[str, Path]] = None, corpus: tp.Optional[Path] = None,
                  clips: int = 16, clip_seconds: float = 6.0,
                  log: tp.Callable[[str], None] = print) -> tp.List[tp.Dict[str, tp.Any]]:
    """Train each solver on each number of processes and return one row of figures per run.

    Args:
        workdir: Holds the rendered corpus (unless `corpus`) and the Dora folder of the runs.
        solvers: Among `SOLVERS`.
        processes: Numbers of processes (the global batch must split over each).
        updates: Updates per epoch (the second epoch is measured).
        batches: Global batch per solver (default: codec 4, MuLaN 16, stages 16).
        parts: codec / mulan / semantic files the stages stand on (default: the shipped model's).
        corpus: A folder with `egs/train` and `egs/valid` manifests over clips with MusicInfo sidecars.
        clips: Clips rendered when no corpus is given.
        clip_seconds: Their duration (the stages crop 5 s windows, MuLaN 5 s, the codec 0.5 s).
        log: Where progress lines go.
    """
    batches = dict({"codec": 4, "mulan": 16, "semantic": 16, "coarse": 16, "fine": 16}, **(batches or {}))
    unknown = set(solvers) - set(SOLVERS)
    if unknown:
        raise BeatLMError(f"unknown solver(s) {', '.join(sorted(unknown))} (known: {', '.join(SOLVERS)})")
    for solver in solvers:
        bad = [n for n in processes if n < 1 or batches[solver] % n]
        if bad:
            raise BeatLMError(f"the {solver} batch of {batches[solver]} does not split over {bad} processes")
    workdir = Path(workdir)
    if corpus is None:
        from ..dataset_builders.synth.corpus import render_corpus
        corpus = workdir / "corpus"
        log(f"rendering {clips} clips of {clip_seconds:g} s into {corpus}")
        render_corpus(corpus, num_clips=clips, duration=clip_seconds, sample_rate=32000, seed=0, progress=False)
    egs = Path(corpus) / "egs"
    needs_parts = any(s in ("semantic", "coarse", "fine") for s in solvers)
    parts = dict(parts) if parts is not None else (default_parts() if needs_parts else {})
    rows = []
    for solver in solvers:
        segment = 0.5 if solver == "codec" else 5.0
        args = solver_args(solver, egs, parts, batches[solver], updates, segment)
        base = None
        for n in processes:
            metrics = run_once(solver, n, args, workdir / "dora", log)
            seconds = max(float(metrics.get("duration", 0.0)), 1e-9)
            window = 5.0 if solver == "mulan" else segment
            row = {"solver": solver, "processes": n, "batch": batches[solver], "updates": updates,
                   "train_s": seconds, "clips_per_s": batches[solver] * updates / seconds,
                   "audio_s_per_s": batches[solver] * updates * window / seconds,
                   "tokens_per_s": metrics.get("tokens_per_s"), "wall_s": metrics["wall_s"]}
            base = base or row["clips_per_s"]
            row["speedup"] = row["clips_per_s"] / base
            rows.append(row)
            log(table([row]).splitlines()[-1])
    return rows


def table(rows: tp.Sequence[tp.Mapping[str, tp.Any]]) -> str:
    """The rows as a fixed-width table."""
    head = f"{'solver':<9}{'procs':>6}{'batch':>6}{'train s':>9}{'clips/s':>9}{'audio s/s':>11}{'tokens/s':>10}" \
           f"{'speed-up':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        tokens = f"{r['tokens_per_s']:.0f}" if r["tokens_per_s"] is not None else "-"
        lines.append(f"{r['solver']:<9}{r['processes']:>6}{r['batch']:>6}{r['train_s']:>9.2f}{r['clips_per_s']:>9.1f}"
                     f"{r['audio_s_per_s']:>11.1f}{tokens:>10}{r['speedup']:>9.2f}x")
    return "\n".join(lines)
