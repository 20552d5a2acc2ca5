"""`beatlm quickstart`: render the corpus, train every model at micro scale, bundle, evaluate.

Runs the recipe in config/quickstart/ (the same commands a researcher runs by hand), keeping
everything in --out. Stop it at any time and run the same command again to resume.
"""

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quickstart", help="train a whole model from nothing (corpus to evaluation report)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/quickstart", help="output folder (default: %(default)s)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="scale the corpus and the training to about this many minutes on 2 CPU cores "
                             "(default: the recipe's budget_minutes, 90 for micro)")
    parser.add_argument("--recipe", default="micro",
                        help="a recipe of config/quickstart/ or a YAML file (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print the scaled recipe and the phases, run nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from ..pipelines.quickstart import Quickstart, load_recipe, scale_recipe
    recipe = scale_recipe(load_recipe(args.recipe), args.budget_minutes)
    pipeline = Quickstart(args.out, recipe)
    if args.dry_run:
        print(OmegaConf.to_yaml(recipe))
        for index, phase in enumerate(pipeline.phases(), 1):
            state = "done" if phase.output.exists() else f"about {phase.minutes:.1f} min"
            print(f"[{index}] {phase.name}: {phase.describe} -> {phase.output} ({state})")
        return 0
    bundle = pipeline.run()
    report = Path(pipeline.out) / "report" / "report.md"
    print(f"\nmodel:  {bundle}\nreport: {report}\n"
          f"try it: beatlm generate \"dark trap beat, 140 bpm, heavy 808\" --model {bundle}")
    return 0
