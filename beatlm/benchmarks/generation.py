"""`beatlm bench generation`: BeatLM against a MusicGen-style LM and audiolm-pytorch, same machine, same codec.

For each batch size, every system generates `seconds` of audio once after a short warm-up: wall
time, real-time factor (wall / seconds of audio per item), time per stage (decode included where
the system decodes) and the process's peak resident memory while it ran (`PeakRSS`: every system's
models are loaded in this process). Cold start (import + load + first audio) and the peak memory of
BeatLM alone are measured in a fresh process (`python -m beatlm.benchmarks.cold_start`). Ratios are
BeatLM's wall time over each baseline's.

- MusicGen-style: audiocraft's `LMModel` with the delay pattern over all codec codebooks, MuLaN
  conditioning prepended, as many parameters as BeatLM's three stages together (`baselines.py`).
- audiolm-pytorch: its Semantic/Coarse/Fine transformers of BeatLM's stage sizes, each decoded by
  its wrapper's own `generate`; the tokens are decoded by the same codec (timed as `decode`).
"""

import contextlib
import json
import os
from pathlib import Path
import subprocess
import sys
import time
import typing as tp

import torch

if tp.TYPE_CHECKING:
    from ..models.musiclm import MusicLM

PROMPT = "dark trap beat, 140 bpm, heavy 808 and eerie bells"


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (Linux; reset at exec and by `PeakRSS`), else getrusage.

    getrusage's `ru_maxrss` is not used on Linux: a child started by fork + exec inherits its parent's
    peak there, so a fresh process would report the benchmark's own peak.
    """
    try:
        with open("/proc/self/status") as handle:
            return int(next(line for line in handle if line.startswith("VmHWM:")).split()[1]) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRSS:
    """Peak resident memory (MB) of this process while the `with` block runs.

    Linux lets a process reset its peak (`5` into /proc/self/clear_refs), which measures the block
    exactly and costs nothing while it runs; elsewhere the lifetime peak is reported, an upper bound.
    """

    def __init__(self):
        self.peak_mb = 0.0

    def __enter__(self) -> "PeakRSS":
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass
        return self

    def __exit__(self, *exc: tp.Any) -> None:
        self.peak_mb = peak_rss_mb()


def _row(system: str, batch: int, seconds: float, wall: float, stages: tp.Dict[str, float],
         peak_mb: float) -> tp.Dict[str, tp.Any]:
    return {"system": system, "batch": batch, "seconds": seconds, "wall_s": wall, "rtf": wall / seconds,
            "stages_s": stages, "peak_rss_mb": peak_mb}


def bench_beatlm(model: "MusicLM", batch: int, seconds: float) -> tp.Dict[str, tp.Any]:
    """One timed BeatLM generation of `batch` prompts (one candidate each)."""
    model.set_generation_params(duration=seconds, num_candidates=1)
    with PeakRSS() as rss:
        start = time.perf_counter()
        model.generate([PROMPT] * batch)
        wall = time.perf_counter() - start
    stages = {k: v for k, v in model.last_generation.timings.items()}
    return _row("beatlm", batch, seconds, wall, stages, rss.peak_mb)


def bench_musicgen(lm: tp.Any, model: "MusicLM", batch: int, seconds: float) -> tp.Dict[str, tp.Any]:
    """One timed generation + decode of the MusicGen-style baseline."""
    from .baselines import musicgen_generate
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = musicgen_generate(lm, model.codec, model.mulan, [PROMPT] * batch, seconds)
        wall = time.perf_counter() - start
    return _row("musicgen_style", batch, seconds, wall, out["timings"], rss.peak_mb)


def bench_audiolm(stages: tp.Dict[str, tp.Any], model: "MusicLM", batch: int, seconds: float) -> tp.Dict[str, tp.Any]:
    """One timed audiolm-pytorch generation of the three stages, decoded by BeatLM's codec."""
    from .baselines import audiolm_generate
    with PeakRSS() as rss:
        start = time.perf_counter()
        cond = model.mulan.embed_text([PROMPT] * batch)[:, None]
        out = audiolm_generate(stages, batch, seconds, semantic_rate=model.specs["semantic"]["frame_rate"],
                               codec_rate=model.frame_rate, cond=cond)
        begin = time.perf_counter()
        codes = torch.cat([out["coarse"], out["fine"]], dim=-1).transpose(1, 2).clamp(min=0)
        with torch.no_grad():
            model.codec.decode(codes)
        timings = dict(out["timings"], decode=time.perf_counter() - begin)
        wall = time.perf_counter() - start
    return _row("audiolm_pytorch", batch, seconds, wall, timings, rss.peak_mb)


def cold_start(model_dir: str, seconds: float) -> tp.Dict[str, tp.Any]:
    """Import + load + first audio in a fresh process (`beatlm.benchmarks.cold_start`), and its peak memory."""
    cmd = [sys.executable, "-m", "beatlm.benchmarks.cold_start", "--model", str(model_dir), "--seconds", str(seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
    if proc.returncode != 0:
        raise RuntimeError(f"cold start run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stage_sizes(model: "MusicLM") -> tp.Dict[str, tp.Any]:
    """Width, depth, heads (of the semantic stage) and the parameters of each stage LM."""
    from .baselines import count_parameters
    lm = model.lms["semantic"]
    return {"dim": int(lm.dim), "depth": len(lm.transformer.layers),
            "heads": int(lm.transformer.layers[0].self_attn.num_heads),
            "params": {stage: count_parameters(m) for stage, m in model.lms.items()}}


def run_benchmark(model_dir: tp.Optional[str], seconds: float = 10.0, batches: tp.Sequence[int] = (1, 8),
                  audiolm: bool = True, cold: bool = True, repeats: int = 1,
                  log: tp.Callable[[str], None] = print) -> tp.Dict[str, tp.Any]:
    """Run every system at every batch size `repeats` times (the fastest run is kept, all are listed);
    returns the report (rows, cold start, ratios, sizes)."""
    from ..models.loaders import resolve_bundle
    from ..models.musiclm import MusicLM
    from .baselines import audiolm_stages, count_parameters, musicgen_style_lm
    folder = resolve_bundle(model_dir)
    model = MusicLM.get_pretrained(str(folder), device="cpu")
    sizes = stage_sizes(model)
    total = sum(sizes["params"].values())
    musicgen = musicgen_style_lm(model.codec, model.mulan, total)
    systems: tp.Dict[str, tp.Callable[[int, float], tp.Dict[str, tp.Any]]] = {
        "beatlm": lambda b, s: bench_beatlm(model, b, s),
        "musicgen_style": lambda b, s: bench_musicgen(musicgen, model, b, s)}
    params = {"beatlm": total, "musicgen_style": count_parameters(musicgen)}
    if audiolm:
        specs = model.specs
        stages = audiolm_stages(sizes["dim"], sizes["depth"], sizes["heads"], specs["semantic"]["card"],
                                specs["coarse"]["card"], specs["coarse"]["n_q"], specs["fine"]["n_q"],
                                cond_dim=model.mulan.dim)
        systems["audiolm_pytorch"] = lambda b, s: bench_audiolm(stages, model, b, s)
        params["audiolm_pytorch"] = sum(count_parameters(st.transformer) for st in stages.values())
    rows = []
    with _quiet_progress():
        for name, run in systems.items():
            torch.manual_seed(0)
            run(1, min(1.0, seconds))  # warm-up: first calls allocate and build caches
            for batch in batches:
                log(f"{name}: batch {batch}, {seconds:g} s of audio ...")
                runs = []
                for _ in range(repeats):
                    torch.manual_seed(0)
                    runs.append(run(batch, seconds))
                best = min(runs, key=lambda row: row["wall_s"])
                rows.append(dict(best, runs_s=[row["wall_s"] for row in runs]))
                log("  " + ", ".join(f"{row['wall_s']:.2f}" for row in runs) + " s")
    report = {"machine": {"threads": torch.get_num_threads(), "cpus": os.cpu_count()}, "model": str(folder),
              "model_hash": model.model_hash, "seconds": seconds, "params": params, "stage_sizes": sizes,
              "rows": rows, "ratios": ratios(rows)}
    if cold:
        log("cold start in a fresh process ...")
        report["cold_start"] = cold_start(str(folder), seconds)
    return report


def ratios(rows: tp.Sequence[tp.Mapping[str, tp.Any]]) -> tp.Dict[str, tp.Dict[str, float]]:
    """BeatLM wall time / each baseline's, per batch size ({'musicgen_style': {'1': 0.8, ...}, ...})."""
    ours = {row["batch"]: row["wall_s"] for row in rows if row["system"] == "beatlm"}
    out: tp.Dict[str, tp.Dict[str, float]] = {}
    for row in rows:
        if row["system"] != "beatlm" and row["batch"] in ours:
            out.setdefault(row["system"], {})[str(row["batch"])] = ours[row["batch"]] / row["wall_s"]
    return out


@contextlib.contextmanager
def _quiet_progress() -> tp.Iterator[None]:
    # audiolm-pytorch draws a tqdm bar per stage; the benchmark prints its own lines.
    from functools import partialmethod

    from tqdm import tqdm
    original = tqdm.__init__
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # type: ignore[method-assign]
    try:
        yield
    finally:
        tqdm.__init__ = original  # type: ignore[method-assign]


def table(report: tp.Mapping[str, tp.Any]) -> str:
    """The report as a Markdown table."""
    lines = ["| system | batch | wall (s) | RTF | stages (s) | peak RSS (MB) | BeatLM / this |",
             "|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        ratio = report["ratios"].get(row["system"], {}).get(str(row["batch"]))
        stages = ", ".join(f"{k} {v:.2f}" for k, v in row["stages_s"].items())
        lines.append(f"| {row['system']} | {row['batch']} | {row['wall_s']:.2f} | {row['rtf']:.3f} | {stages} | "
                     f"{row['peak_rss_mb']:.0f} | {'' if ratio is None else f'{ratio:.2f}'} |")
    cold = report.get("cold_start")
    if cold:
        lines.append("")
        lines.append(f"Cold start (fresh process, {cold['seconds']:g} s of audio at batch 1): import "
                     f"{cold['import_s']:.2f} s, load {cold['load_s']:.2f} s, first audio {cold['generate_s']:.2f} s, "
                     f"total {cold['total_s']:.2f} s; peak RSS {cold['peak_rss_mb']:.0f} MB.")
    return "\n".join(lines)


def write_json(report: tp.Mapping[str, tp.Any], path: tp.Union[str, Path]) -> None:
    """Write the report as JSON (atomically)."""
    from ..utils.files import atomic_path
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
