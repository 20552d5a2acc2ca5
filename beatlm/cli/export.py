"""`beatlm export codec SRC OUT`: one self-contained file from a training experiment."""

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="export a trained model to a single file",
                            description="Export the best weights of an experiment to one file that loads with "
                                        "no Dora folder present.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    codec = kinds.add_parser("codec", help="the Encodec codec of a solver=compression/... experiment")
    codec.add_argument("source", help="//sig/<SIG>, an XP folder, or a checkpoint file")
    codec.add_argument("out", help="file to write, e.g. out/codec.th")
    codec.add_argument("--force", action="store_true", help="replace OUT if it exists")
    codec.set_defaults(run=run_codec)


def run_codec(args: argparse.Namespace) -> int:
    from ..utils.export import export_codec
    path = export_codec(args.source, args.out, overwrite=args.force)
    print(f"codec exported to {path}")
    return 0
