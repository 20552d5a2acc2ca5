"""`beatlm eval mulan`: retrieval and zero-shot metrics of an exported MuLaN on held-out manifests."""

import argparse
import json
from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate a trained model",
                            description="Evaluate a trained model on held-out data.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    mulan = kinds.add_parser(
        "mulan", help="MuLaN text-to-audio retrieval and zero-shot style accuracy",
        description="Embed every clip (whole, over windows) and its sidecar description; report text-to-audio "
                    "recall@1/5/10, median rank and zero-shot style accuracy (prompting each MusicInfo genre), "
                    "each beside its chance level.")
    mulan.add_argument("--model", required=True, help="MuLaN export, //sig/<SIG> or XP folder")
    mulan.add_argument("--manifest", action="append", required=True,
                       help="folder holding data.jsonl.gz (clips with MusicInfo sidecars); repeat to pool several")
    mulan.add_argument("--template", default="a {} beat", help="zero-shot prompt per style (default: %(default)s)")
    mulan.add_argument("--batch-size", type=int, default=16, help="clips per batch (default: %(default)s)")
    mulan.add_argument("--limit", type=int, default=None, help="evaluate on the first N clips only")
    mulan.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    mulan.set_defaults(run=run_mulan)


def _music_loader(manifests: tp.Sequence[str], sample_rate: int, batch_size: int, limit: tp.Optional[int]):
    from audiocraft.data.audio_dataset import load_audio_meta
    from audiocraft.data.music_dataset import MusicDataset
    import torch

    from ..data.checks import manifest_file
    meta = [m for path in manifests for m in load_audio_meta(manifest_file(path))]
    meta = meta[:limit] if limit else meta
    if not meta:
        raise BeatLMError("the manifests list no clip")
    dataset = MusicDataset(meta, segment_duration=None, shuffle=False, num_samples=len(meta), sample_rate=sample_rate,
                           channels=1, return_info=True, info_fields_required=False)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=dataset.collater)


def run_mulan(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..metrics.mulan import embed_pairs, mulan_metrics
    from ..models.loaders import load_mulan_model
    if args.batch_size < 1 or (args.limit is not None and args.limit < 2):
        raise BeatLMError("--batch-size must be at least 1 and --limit at least 2")
    model = load_mulan_model(args.model)
    loader = _music_loader(args.manifest, model.sample_rate, args.batch_size, args.limit)
    batches = tqdm(loader, desc="embedding clips", unit="batch")
    audio, text, genres = embed_pairs(model, batches, model.sample_rate)
    metrics = mulan_metrics(model, audio, text, genres, args.template)
    n = int(metrics["retrieval_pool"])
    print(f"clips: {n}")
    for k in (1, 5, 10):
        print(f"text->audio recall@{k:<2}  {metrics[f'recall@{k}']:.3f}   (chance {metrics[f'recall@{k}_chance']:.3f})")
    print(f"median rank            {metrics['median_rank']:.0f} of {n}   (chance {(n + 1) / 2:.0f})")
    if "zero_shot_accuracy" in metrics:
        print(f"zero-shot style        {metrics['zero_shot_accuracy']:.3f}   "
              f"(chance {metrics['zero_shot_chance']:.3f}, {int(metrics['zero_shot_classes'])} styles, "
              f"prompt '{args.template}')")
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0
