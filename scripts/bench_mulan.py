#!/usr/bin/env python3
"""Benchmark MuLaN training steps: seconds per update and peak resident memory, per text tower.

    .venv/bin/python scripts/bench_mulan.py [--scale micro] [--batch-size 64] [--steps 5]

Each tower runs in its own process (so that peak RSS is its own), on random 10 s windows and real
corpus-like captions; the data loader is not included (see the solver logs for end-to-end speed).
"""

import argparse
import json
import resource
import subprocess
import sys
import time


def bench(scale: str, tower: str, batch_size: int, steps: int) -> dict:
    import torch

    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    cfg = train.main.get_xp(["solver=musiclm/mulan", f"model_scale={scale}", f"mulan.text.tower={tower}"]).cfg
    train.init_seed_and_system(cfg)
    model = get_mulan_model(cfg.mulan).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    sr, window = model.sample_rate, cfg.mulan.window
    texts = [f"a {s} beat at {90 + i} bpm with heavy drums and a dark melody"
             for i, s in enumerate(["trap", "drill", "lo-fi", "boom bap"] * (batch_size // 4 + 1))][:batch_size]
    wav = torch.randn(batch_size, int(window * sr)) * 0.1
    times = []
    for _ in range(steps + 1):  # the first step warms up (and fills the frozen tower's cache)
        start = time.perf_counter()
        loss = model.loss(wav, texts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"scale": scale, "tower": tower, "batch_size": batch_size, "threads": torch.get_num_threads(),
            "s_per_update": sum(times[1:]) / steps, "trainable_params": trainable,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="micro")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--tower", choices=["transformer", "pretrained"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tower:  # child process
        print(json.dumps(bench(args.scale, args.tower, args.batch_size, args.steps)))
        return 0
    print(f"{'tower':<12} {'scale':<6} {'batch':>5} {'s/update':>9} {'peak RSS':>9} {'trainable':>10}")
    for tower in ("transformer", "pretrained"):
        out = subprocess.run([sys.executable, __file__, "--tower", tower, "--scale", args.scale, "--batch-size",
                              str(args.batch_size), "--steps", str(args.steps)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:], file=sys.stderr)
            return out.returncode
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['tower']:<12} {r['scale']:<6} {r['batch_size']:>5} {r['s_per_update']:>9.2f} "
              f"{r['peak_rss_gb']:>7.2f}GB {r['trainable_params'] / 1e6:>9.2f}M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
