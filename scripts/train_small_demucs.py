#!/usr/bin/env python3
"""Train a small two-stem HTDemucs (vocals / no_vocals) offline, save it as a local Demucs repo, evaluate it.

    .venv/bin/python scripts/train_small_demucs.py --out models/demucs_small            # the full recipe
    .venv/bin/python scripts/train_small_demucs.py --out /tmp/dm --smoke                 # a < 1 minute check

Data: beats rendered by `beatlm.dataset_builders.synth` (or `--beats DIR`, any folder of WAVs such as a
`beatlm corpus render` output) mixed with espeak-ng speech and chants (`beatlm.dataset_builders.vocal_mixes`),
made afresh for every batch. One beat in ten and one voice variant in five are held out: the evaluation
mixes held-out beats with phrases in held-out voices.

Output: `OUT/NAME.yaml` + `OUT/SIG-CHECKSUM.th`, the layout `beatlm data separate --model NAME --repo OUT`
and `demucs.pretrained.get_model(NAME, repo=OUT)` read, and `OUT/eval.json`: on held-out 8 s mixes at the
beats' rate, through the same streaming separator as `beatlm data separate`, the SI-SDR of the accompaniment
before and after separation and the silero-vad speech ratio of the mix, of the accompaniment and of the clean
beat. The targets: SI-SDR improvement >= 6 dB, speech ratio after separation < 10%.

Training state is saved to `WORK/train_state.th` every `--save-every` steps (weights-only: tensors and plain
values); running the same command again resumes. Batches depend only on (seed, step), so a resumed run sees
the batches an uninterrupted one would.
"""

import argparse
import json
from pathlib import Path
import sys
import time
import typing as tp

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SMOKE = dict(num_beats=10, beat_seconds=4.0, phrases=12, eval_phrases=6, steps=3, batch=2, segment=1.0, channels=8,
             depth=2, nfft=512, t_layers=0, eval_mixes=2, eval_seconds=3.0, save_every=2)
MODEL_KEYS = ("samplerate", "segment", "channels", "depth", "nfft", "t_layers")


def parse_args(argv: tp.Optional[tp.Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="Demucs repo folder to write the model into")
    p.add_argument("--name", default="beatlm_vocals", help="model name in the repo (default: %(default)s)")
    p.add_argument("--work", type=Path, default=None, help="rendered beats, phrases, train state (default: OUT.work)")
    p.add_argument("--beats", type=Path, default=None, help="folder of beat WAVs to use instead of rendering")
    p.add_argument("--num-beats", type=int, default=400, help="beats to render (default: %(default)s)")
    p.add_argument("--beat-seconds", type=float, default=8.0, help="seconds per rendered beat (default: %(default)s)")
    p.add_argument("--beat-rate", type=int, default=32000, help="rate of rendered beats (default: %(default)s)")
    p.add_argument("--phrases", type=int, default=600, help="training vocal phrases (default: %(default)s)")
    p.add_argument("--eval-phrases", type=int, default=80, help="held-out phrases (default: %(default)s)")
    p.add_argument("--samplerate", type=int, default=16000, help="model rate, Hz (default: %(default)s)")
    p.add_argument("--segment", type=float, default=3.0, help="training crop / model segment, s (default: %(default)s)")
    p.add_argument("--channels", type=int, default=16, help="HTDemucs channels (default: %(default)s)")
    p.add_argument("--depth", type=int, default=4, help="HTDemucs depth (default: %(default)s)")
    p.add_argument("--nfft", type=int, default=1024, help="HTDemucs FFT size (default: %(default)s)")
    p.add_argument("--t-layers", type=int, default=1, help="cross-domain transformer layers (default: %(default)s)")
    p.add_argument("--steps", type=int, default=5000, help="training steps (default: %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="mixes per step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--save-every", type=int, default=100, help="steps between train-state saves (default: %(default)s)")
    p.add_argument("--eval-mixes", type=int, default=40, help="held-out mixes evaluated (default: %(default)s)")
    p.add_argument("--eval-seconds", type=float, default=8.0, help="seconds per evaluation mix (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of beats, phrases and batches (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--workers", type=int, default=1, help="processes rendering beats (default: %(default)s)")
    p.add_argument("--smoke", action="store_true", help="a tiny setting that runs in well under a minute")
    args = p.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    args.work = args.work or args.out.with_name(args.out.name + ".work")
    return args


def load_beats(args: argparse.Namespace) -> tp.Tuple[tp.List[np.ndarray], tp.List[np.ndarray], int]:
    """(training beats at the model rate, held-out beats at their own rate, that rate)."""
    import librosa
    import soundfile as sf
    folder = args.beats
    if folder is None:
        from beatlm.dataset_builders.synth.corpus import render_corpus
        folder = args.work / "beats"
        render_corpus(folder, num_clips=args.num_beats, duration=args.beat_seconds, sample_rate=args.beat_rate,
                      seed=args.seed, workers=args.workers, progress=True)
    files = sorted(p for p in Path(folder).rglob("*.wav") if not p.name.startswith("."))
    if len(files) < 2:
        raise SystemExit(f"need at least 2 beat WAVs under {folder}")
    train, held, rate = [], [], None
    for i, path in enumerate(files):
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
        wav = wav.mean(axis=1)
        if i % 10 == 9 or i == len(files) - 1:  # one beat in ten is held out (and always one)
            rate = rate or sr
            held.append(librosa.resample(wav, orig_sr=sr, target_sr=rate) if sr != rate else wav)
        else:
            train.append(librosa.resample(wav, orig_sr=sr, target_sr=args.samplerate))
    return train, held, int(rate)


def make_batch(beats: tp.List[np.ndarray], pool: tp.Any, args: argparse.Namespace, step: int):
    """Mixes [B, 1, T] and targets [B, 2, 1, T] (vocals, no_vocals) for `step`, fixed by (seed, step)."""
    import torch

    from beatlm.dataset_builders.vocal_mixes import compose_vocals, mix
    rng = np.random.default_rng([args.seed, step])
    length = int(args.segment * args.samplerate)
    mixes, targets = [], []
    for _ in range(args.batch):
        beat = beats[int(rng.integers(len(beats)))]
        if len(beat) < length:
            beat = np.pad(beat, (0, length - len(beat)))
        start = int(rng.integers(0, len(beat) - length + 1))
        crop = beat[start:start + length] * float(rng.uniform(0.3, 1.0))
        vocals = compose_vocals(pool, length, rng, coverage=float(rng.uniform(0.2, 0.9)))
        if rng.random() < 0.1:  # some instrumentals: leave them alone
            vocals[:] = 0
        total, voice, backing = mix(crop, vocals, float(rng.uniform(-8.0, 6.0)))
        mixes.append(total[None])
        targets.append(np.stack([voice[None], backing[None]]))
    return torch.from_numpy(np.stack(mixes)).float(), torch.from_numpy(np.stack(targets)).float()


def build_model(args: argparse.Namespace):
    import warnings

    from demucs.htdemucs import HTDemucs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HTDemucs(sources=["vocals", "no_vocals"], audio_channels=1, samplerate=args.samplerate,
                        segment=args.segment, channels=args.channels, depth=args.depth, nfft=args.nfft,
                        t_layers=args.t_layers, t_heads=4 if args.channels * 2 ** (args.depth - 1) % 4 == 0 else 1)


def train(args: argparse.Namespace, beats: tp.List[np.ndarray], pool: tp.Any):
    import torch

    from beatlm.utils.checkpoint import load_checkpoint
    from beatlm.utils.files import save_atomic
    torch.manual_seed(args.seed)
    model = build_model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    config = {key: getattr(args, key) for key in MODEL_KEYS}
    state_path, step = args.work / "train_state.th", 0
    if state_path.is_file():
        state = load_checkpoint(state_path)
        if state["config"] != config:
            raise SystemExit(f"{state_path} was trained with {state['config']}, not {config}: delete it to restart")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optim"])
        step = int(state["step"])
        print(f"resuming at step {step}")
    model.train()
    start, recent = time.time(), []
    while step < args.steps:
        lr = args.lr * (0.1 + 0.9 * min(1.0, (args.steps - step) / max(1, 0.3 * args.steps)))  # decay over last 30%
        for group in optimizer.param_groups:
            group["lr"] = lr
        mixes, targets = make_batch(beats, pool, args, step)
        loss = torch.nn.functional.l1_loss(model(mixes), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        recent.append(loss.item())
        if step % 10 == 0 or step == args.steps:
            rate = (time.time() - start) / len(recent) if recent else 0.0
            print(f"step {step}/{args.steps} loss {np.mean(recent[-10:]):.4f} lr {lr:.2e} {rate:.2f} s/step",
                  flush=True)
        if step % args.save_every == 0 or step == args.steps:
            save_atomic({"step": step, "config": config, "model": model.state_dict(),
                         "optim": optimizer.state_dict()}, state_path, overwrite=True)
    return model.eval(), (time.time() - start) / max(1, len(recent))


def evaluate(model_dir: Path, name: str, held: tp.List[np.ndarray], rate: int, pool: tp.Any,
             args: argparse.Namespace) -> tp.Dict[str, tp.Any]:
    """SI-SDR and speech ratios on held-out mixes, through `beatlm data separate`'s own separator."""
    import torch

    from beatlm.dataset_builders.demucs_repo import load_from_repo
    from beatlm.dataset_builders.separation import Separator
    from beatlm.dataset_builders.vocal_mixes import compose_vocals, mix, si_sdr
    from beatlm.metrics.vocals import speech_ratio
    separator = Separator(load_from_repo(name, model_dir), device="cpu")
    rng = np.random.default_rng([args.seed, 10 ** 9])
    length = int(args.eval_seconds * rate)
    rows = []
    for i in range(args.eval_mixes):
        beat = held[i % len(held)]
        beat = np.pad(beat, (0, max(0, length - len(beat))))
        start = int(rng.integers(0, len(beat) - length + 1))
        crop = beat[start:start + length]
        total, _, backing = mix(crop, compose_vocals(pool, length, rng, coverage=0.7), float(rng.uniform(-3.0, 3.0)))
        acc = separator.accompaniment(torch.from_numpy(total[None].astype(np.float32)), rate)[0].numpy()
        speech = speech_ratio(torch.from_numpy(np.stack([total, acc, backing]).astype(np.float32))[:, None], rate)
        rows.append({"si_sdr_mix": si_sdr(total, backing), "si_sdr_separated": si_sdr(acc, backing),
                     "speech_mix": speech[0], "speech_separated": speech[1], "speech_clean_beat": speech[2]})
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    mean["si_sdr_improvement"] = mean["si_sdr_separated"] - mean["si_sdr_mix"]
    mean["targets_met"] = bool(mean["si_sdr_improvement"] >= 6.0 and mean["speech_separated"] < 0.10)
    return {"mean": mean, "mixes": len(rows), "seconds": args.eval_seconds, "sample_rate": rate, "per_mix": rows}


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    from beatlm.dataset_builders.demucs_repo import save_to_repo
    from beatlm.dataset_builders.vocal_mixes import HELDOUT_VARIANTS, TRAIN_VARIANTS, VocalPool
    if args.threads:
        torch.set_num_threads(args.threads)
    begin = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    beats, held, rate = load_beats(args)
    pool = VocalPool(args.work / "phrases_train", args.phrases, args.seed, TRAIN_VARIANTS, args.samplerate)
    held_pool = VocalPool(args.work / "phrases_heldout", args.eval_phrases, args.seed + 1, HELDOUT_VARIANTS, rate)
    print(f"{len(beats)} training beats, {len(held)} held-out beats at {rate} Hz, "
          f"{len(pool)} + {len(held_pool)} vocal phrases ({time.time() - begin:.0f} s)")
    model, seconds_per_step = train(args, beats, pool)
    config = {key: getattr(args, key) for key in MODEL_KEYS}
    training_args = {**config, "steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                     "beats": len(beats), "phrases": len(pool), "recipe": "scripts/train_small_demucs.py"}
    bag = save_to_repo(model, args.out, args.name, training_args)
    report = evaluate(args.out, args.name, held, rate, held_pool, args)
    report.update(model=args.name, training=training_args, seconds_per_step=round(seconds_per_step, 3),
                  wall_seconds=round(time.time() - begin, 1))
    (args.out / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    m = report["mean"]
    print(f"saved {bag} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters)")
    print(f"held-out: SI-SDR {m['si_sdr_mix']:.2f} -> {m['si_sdr_separated']:.2f} dB "
          f"(improvement {m['si_sdr_improvement']:.2f} dB, target >= 6); speech ratio mix {m['speech_mix']:.1%}, "
          f"separated {m['speech_separated']:.1%} (target < 10%), clean beat {m['speech_clean_beat']:.1%}")
    print(f"use it: beatlm data separate RAW --out DIR --model {args.name} --repo {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
