"""Cold start of BeatLM in this fresh process: import, load a bundle, generate once; prints one JSON line.

    python -m beatlm.benchmarks.cold_start --model DIR --seconds 10

`peak_rss_mb` is the process's peak resident memory (VmHWM), i.e. everything BeatLM needed to get there.
"""

import argparse
import json
import time

START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import torch

    from beatlm.benchmarks.generation import peak_rss_mb
    from beatlm.models.musiclm import MusicLM
    imported = time.perf_counter()
    model = MusicLM.get_pretrained(args.model, device="cpu")
    loaded = time.perf_counter()
    model.set_generation_params(duration=args.seconds)
    torch.manual_seed(0)
    model.generate(["dark trap beat, 140 bpm, heavy 808 and eerie bells"])
    done = time.perf_counter()
    peak_mb = peak_rss_mb()
    print(json.dumps({"seconds": args.seconds, "import_s": imported - START, "load_s": loaded - imported,
                      "generate_s": done - loaded, "total_s": done - START, "peak_rss_mb": peak_mb,
                      "stages_s": model.last_generation.timings}))


if __name__ == "__main__":
    main()
