"""`beatlm fit semantic-tokenizer`: k-means semantic tokens over frame features of the clips of manifests."""

import argparse
from pathlib import Path
import time
import typing as tp

from omegaconf import DictConfig, OmegaConf

from ..utils.errors import BeatLMError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SCALES = ("micro", "small", "full")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fit", help="fit a non-neural model on a corpus",
                            description="Fit a model that is not trained by a Dora solver.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    tok = kinds.add_parser(
        "semantic-tokenizer", help="k-means semantic tokens (MusicLM, 25 per second) over frame features",
        description="Compute frame features (25 per second) of every clip of the manifests, thin them evenly to "
                    "--max-frames, and fit k-means (MiniBatchKMeans, deterministic for --seed). Defaults come "
                    "from config/model/semantic_tokenizer/default.yaml and the scale's semantic_tokenizer block.")
    tok.add_argument("--manifest", action="append", required=True,
                     help="folder holding data.jsonl.gz, or the file; repeat to pool several")
    tok.add_argument("--source", choices=("librosa", "mulan", "pretrained"), default=None,
                     help="frame features (default: the config's)")
    tok.add_argument("--mulan", default=None, help="MuLaN export, folder or //sig/<SIG> (source mulan)")
    tok.add_argument("--encoder", default=None, help="local Hugging Face model folder (source pretrained)")
    tok.add_argument("--layer", type=int, default=None, help="layer of the mulan / pretrained model to take")
    tok.add_argument("--shifts", type=int, default=None,
                     help="mulan: runs per 0.32 s patch at sub-patch offsets (default: config)")
    tok.add_argument("--scale", choices=SCALES, default=None, help="take --clusters from this model_scale")
    tok.add_argument("--clusters", type=int, default=None, help="vocabulary size (overrides --scale)")
    tok.add_argument("--max-frames", type=int, default=None, help="frames k-means is fitted on (default: config)")
    tok.add_argument("--max-clips", type=int, default=None, help="use the first N clips of the manifests only")
    tok.add_argument("--seed", type=int, default=None, help="k-means seed (default: config)")
    tok.add_argument("--out", required=True, help="file to write, e.g. out/semantic_tokenizer.th")
    tok.add_argument("--force", action="store_true", help="replace OUT if it exists")
    tok.set_defaults(run=run_semantic_tokenizer)


def tokenizer_config(args: argparse.Namespace) -> DictConfig:
    """The `semantic_tokenizer` config: the default file, the scale's block, then the command-line values."""
    cfg = OmegaConf.load(CONFIG_DIR / "model" / "semantic_tokenizer" / "default.yaml").semantic_tokenizer
    if args.scale:
        scale = OmegaConf.load(CONFIG_DIR / "model_scale" / f"{args.scale}.yaml").get("semantic_tokenizer") or {}
        cfg = OmegaConf.merge(cfg, scale)
    overrides: tp.Dict[str, tp.Any] = {"source": args.source, "clusters": args.clusters,
                                       "max_frames": args.max_frames, "seed": args.seed}
    cfg = OmegaConf.merge(cfg, {k: v for k, v in overrides.items() if v is not None})
    for key, path in (("mulan", args.mulan), ("pretrained", args.encoder)):
        if path is not None:
            cfg[key].path = path
        if args.layer is not None:
            cfg[key].layer = args.layer
    if args.shifts is not None:
        cfg.mulan.shifts = args.shifts
    if OmegaConf.is_missing(cfg, "clusters"):
        raise BeatLMError("give the number of clusters: --clusters N, or --scale micro|small|full")
    if cfg.clusters < 2 or cfg.max_frames < cfg.clusters:
        raise BeatLMError(f"--clusters must be at least 2 and --max-frames at least --clusters "
                          f"(got {cfg.clusters} and {cfg.max_frames})")
    if cfg.source in ("mulan", "pretrained") and OmegaConf.is_missing(cfg[cfg.source], "path"):
        flag = "--mulan PATH" if cfg.source == "mulan" else "--encoder DIR"
        raise BeatLMError(f"source {cfg.source} needs {flag}")
    return cfg


def run_semantic_tokenizer(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..data.clips import iter_clips, manifest_entries
    from ..modules.semantic_features import get_feature_source
    from ..modules.semantic_tokenizer import SemanticTokenizer, collect_features
    if Path(args.out).exists() and not args.force:
        raise BeatLMError(f"{args.out} already exists; pass --force to replace it")
    if args.max_clips is not None and args.max_clips < 1:
        raise BeatLMError("--max-clips must be at least 1")
    cfg = tokenizer_config(args)
    entries = manifest_entries(args.manifest, args.max_clips)
    frames = sum(int(entry.duration * cfg.frame_rate) for entry in entries)
    if frames < cfg.clusters:
        raise BeatLMError(f"the {len(entries)} clips give about {frames} frames, fewer than the {cfg.clusters} "
                          "clusters asked for: add clips or lower --clusters")
    source = get_feature_source(cfg)
    start = time.time()
    clips = tqdm(iter_clips(entries), total=len(entries), desc=f"{source.name} features", unit="clip")
    features = collect_features(source, clips, cfg.max_frames)
    feature_seconds = time.time() - start
    start = time.time()
    tokenizer = SemanticTokenizer(source).fit(features, clusters=cfg.clusters, seed=cfg.seed)
    tokenizer.fit_info.update(clips=len(entries), feature_seconds=round(feature_seconds, 2),
                              kmeans_seconds=round(time.time() - start, 2))
    path = tokenizer.save(args.out, overwrite=args.force)
    print(f"semantic tokenizer ({source.name}, {tokenizer.cardinality} tokens at {tokenizer.frame_rate:g}/s, "
          f"{features.shape[0]} frames of {len(entries)} clips; features {feature_seconds:.1f} s, k-means "
          f"{tokenizer.fit_info['kmeans_seconds']:.1f} s) written to {path}, signature {tokenizer.signature()}")
    return 0
