"""`beatlm export codec|mulan|stage SRC OUT`: one self-contained file from a training experiment;
`beatlm export bundle --codec ... --out DIR`: the folder of every part `MusicLM.get_pretrained` loads."""

import argparse

KINDS = {
    "codec": ("the Encodec codec of a solver=compression/... experiment", "out/codec.th"),
    "mulan": ("MuLaN, its token quantizer and its audio/text settings (solver=musiclm/mulan)", "out/mulan.th"),
    "stage": ("a stage LM (solver=musiclm/semantic|coarse|fine) and what it was trained on", "out/semantic.th"),
}
BUNDLE_PARTS = {
    "codec": "codec: an export (beatlm export codec), //sig/<SIG> or XP folder",
    "mulan": "MuLaN: an export (beatlm export mulan), //sig/<SIG> or XP folder",
    "semantic_tokenizer": "semantic tokenizer file (beatlm fit semantic-tokenizer)",
    "semantic": "semantic stage: an export (beatlm export stage), //sig/<SIG> or XP folder",
    "coarse": "coarse stage: an export, //sig/<SIG> or XP folder",
    "fine": "fine stage: an export, //sig/<SIG> or XP folder",
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
    p = kinds.add_parser("bundle", help="one folder with every part of a MusicLM (for --model / get_pretrained)",
                         description="Assemble a model bundle: copies or exports each part, checks that they fit "
                                     "together, and writes manifest.json with every file's sha256.")
    for part, help_text in BUNDLE_PARTS.items():
        p.add_argument(f"--{part.replace('_', '-')}", required=True, help=help_text)
    p.add_argument("--out", required=True, help="folder to write, e.g. models/beatlm-micro")
    p.add_argument("--name", help="model id in the manifest (default: the folder name)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=run_bundle)


def run(args: argparse.Namespace) -> int:
    from ..utils import export
    path = getattr(export, f"export_{args.kind}")(args.source, args.out, overwrite=args.force)
    print(f"{args.kind} exported to {path}")
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from ..models.bundle import export_bundle
    parts = {part: getattr(args, part) for part in BUNDLE_PARTS}
    path = export_bundle(args.out, name=args.name, overwrite=args.force, **parts)
    print(f"bundle written to {path}")
    return 0
