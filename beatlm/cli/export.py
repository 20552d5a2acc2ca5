"""`beatlm export codec|mulan SRC OUT`: one self-contained file from a training experiment."""

import argparse

KINDS = {
    "codec": ("the Encodec codec of a solver=compression/... experiment", "out/codec.th"),
    "mulan": ("MuLaN, its token quantizer and its audio/text settings (solver=musiclm/mulan)", "out/mulan.th"),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="export a trained model to a single file",
                            description="Export the best weights of an experiment to one file that loads with "
                                        "no Dora folder present.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (help_text, example) in KINDS.items():
        p = kinds.add_parser(kind, help=help_text)
        p.add_argument("source", help="//sig/<SIG>, an XP folder, or a checkpoint file")
        p.add_argument("out", help=f"file to write, e.g. {example}")
        p.add_argument("--force", action="store_true", help="replace OUT if it exists")
        p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..utils import export
    path = getattr(export, f"export_{args.kind}")(args.source, args.out, overwrite=args.force)
    print(f"{args.kind} exported to {path}")
    return 0
