"""`beatlm data manifest`: audiocraft manifests split by source video, a stats summary and a dset YAML."""

import argparse
from pathlib import Path


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "manifest", help="audiocraft manifests split by source video, stats, and a dset YAML for dset=audio/NAME",
        description="Write OUT/{train,valid,test}/data.jsonl.gz for the clips under DIR, every clip in the split of "
                    "its source video (sidecar `source_id`, URL, or the track it was cut from), so no video is in two "
                    "splits; the split of a source is a hash of its id (deterministic, stable as the data grows). "
                    "Clips flagged for residual vocals are left out unless --include-flagged. Also writes "
                    "OUT/splits.json (source -> split), OUT/stats.json, and $BEATLM_CONFIG_DIR/dset/audio/NAME.yaml "
                    "so that `dora run ... dset=audio/NAME` trains on the clips.")
    parser.add_argument("dir", type=Path, help="folder of clips with sidecars (from `beatlm data segment`)")
    parser.add_argument("--out", type=Path, default=None, help="folder of the manifests (default: DIR/../egs_NAME)")
    parser.add_argument("--splits", default="0.9,0.05,0.05",
                        help="fractions of train,valid,test (default: %(default)s)")
    parser.add_argument("--include-flagged", action="store_true", help="keep clips flagged for residual vocals")
    parser.add_argument("--dset-name", default=None, help="write dset/audio/NAME.yaml (default: DIR's folder name)")
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="where the dset YAML goes (default: $BEATLM_CONFIG_DIR or ~/.config/beatlm)")
    parser.add_argument("--no-dset", action="store_true", help="do not write a dset YAML")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.splits import build_manifests, format_stats, parse_splits
    from ...utils.paths import user_config_dir
    fractions = parse_splits(args.splits)
    name = args.dset_name or args.dir.resolve().name
    out = args.out or args.dir.resolve().parent / f"egs_{name}"
    config_dir = None if args.no_dset else (args.config_dir or user_config_dir())
    summary = build_manifests(args.dir, out, fractions, include_flagged=args.include_flagged,
                              config_dir=config_dir, dset_name=name)
    print(summary.format())
    print(format_stats(summary.extra["stats"]))
    print(f"manifests: {out}")
    if config_dir is not None:
        print(f"train with: dora run solver=compression/beats model_scale=micro dset=audio/{name}")
    return 0
