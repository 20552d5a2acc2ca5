"""The quickstart pipeline: a whole BeatLM model from nothing, phase by phase, resumable.

Each phase runs the command a researcher would run by hand (`beatlm corpus render`, `dora run`,
`beatlm export`, `beatlm fit`, `beatlm corpus prompts`, `beatlm eval`) in a child process, with the
experiments and the dset file kept inside the output folder. A phase is done when its output file
exists; an interrupted phase resumes (the corpus from its missing clips, a Dora run from its last
checkpoint) when the same command is run again.
"""

import dataclasses
import datetime
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
import typing as tp

from omegaconf import DictConfig, OmegaConf

from ..utils.errors import BeatLMError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "config" / "quickstart"
STAGES = ("semantic", "coarse", "fine")
SOLVER_PHASES = ("codec", "mulan") + STAGES


@dataclasses.dataclass
class Phase:
    """One step of the pipeline: its name, what it writes, and how long the recipe expects it to take."""
    name: str
    output: Path
    minutes: float
    describe: str


def load_recipe(recipe: tp.Union[str, Path]) -> DictConfig:
    """A recipe by name (a file of `config/quickstart/`) or path."""
    path = Path(recipe)
    if not path.suffix:
        path = RECIPES_DIR / f"{recipe}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise BeatLMError(f"no recipe {recipe}: give a YAML file or one of: {known}")
    return OmegaConf.load(path)


def scale_updates(epochs: int, updates_per_epoch: int, factor: float, min_updates: int) -> tp.Tuple[int, int]:
    """Epochs and updates per epoch for `factor` times the recipe's total number of updates.

    Epochs keep the recipe's length (so evaluations and checkpoints fall at the same places) while there
    are enough updates; below one epoch's worth the run becomes one shorter epoch.
    """
    total = max(min_updates, round(epochs * updates_per_epoch * factor))
    new_epochs = max(1, min(epochs, round(total / updates_per_epoch)))
    return new_epochs, max(1, round(total / new_epochs))


def scale_recipe(recipe: DictConfig, budget_minutes: tp.Optional[float]) -> DictConfig:
    """The recipe with its corpus size, updates and phase minutes scaled to `budget_minutes`."""
    recipe = recipe.copy()
    budget = float(budget_minutes if budget_minutes is not None else recipe.budget_minutes)
    if budget <= 0:
        raise BeatLMError(f"--budget-minutes must be positive (got {budget:g})")
    factor = budget / float(recipe.budget_minutes)
    recipe.budget_minutes = budget
    recipe.corpus.num_clips = max(int(recipe.min_clips), round(recipe.corpus.num_clips * factor))
    recipe.semantic_tokenizer.max_clips = min(recipe.semantic_tokenizer.max_clips, recipe.corpus.num_clips)
    for name in SOLVER_PHASES:
        phase = recipe[name]
        phase.epochs, phase.updates_per_epoch = scale_updates(
            phase.epochs, phase.updates_per_epoch, factor, int(recipe.min_updates))
    for name in ("corpus", "semantic_tokenizer", "prompts", "eval") + SOLVER_PHASES:
        recipe[name].minutes = float(recipe[name].minutes) * factor
    return recipe


def dora_args(recipe: DictConfig, name: str, checkpoints: tp.Mapping[str, Path]) -> tp.List[str]:
    """The `dora run` arguments of a solver phase (also what identifies its experiment)."""
    phase = recipe[name]
    args = [f"solver={phase.solver}", f"model_scale={recipe.model_scale}", f"dset=beats/{recipe.dset_name}",
            f"optim.epochs={phase.epochs}", f"optim.updates_per_epoch={phase.updates_per_epoch}"]
    args += list(phase.get("overrides") or [])
    if name in STAGES:
        args += [f"compression_model_checkpoint={checkpoints['codec']}", f"mulan_checkpoint={checkpoints['mulan']}",
                 f"semantic_tokenizer_checkpoint={checkpoints['semantic_tokenizer']}"]
    return args


class Quickstart:
    """Runs the phases of a scaled recipe into `out`.

    Args:
        out: Output folder; holds the corpus, the Dora experiments, the exported parts, the bundle
            (`model/`), the prompts and the evaluation report.
        recipe: The scaled recipe (see `scale_recipe`).
        python: Interpreter of the child processes.
    """

    def __init__(self, out: tp.Union[str, Path], recipe: DictConfig, python: str = sys.executable):
        self.out = Path(out).resolve()
        self.recipe = recipe
        self.python = python
        self.parts = self.out / "parts"
        self.env = dict(os.environ, AUDIOCRAFT_DORA_DIR=str(self.out / "dora"),
                        BEATLM_CONFIG_DIR=str(self.out / "config"))

    @property
    def checkpoints(self) -> tp.Dict[str, Path]:
        return {name: self.parts / f"{name}.th" for name in ("codec", "mulan", "semantic_tokenizer") + STAGES}

    def phases(self) -> tp.List[Phase]:
        """Every phase in order."""
        r, ck = self.recipe, self.checkpoints
        phases = [Phase("corpus", self.out / "corpus" / "egs" / "test" / "data.jsonl.gz", r.corpus.minutes,
                        f"render {r.corpus.num_clips} clips of {r.corpus.duration:g} s")]
        for name in ("codec", "mulan"):
            phases.append(Phase(name, ck[name], r[name].minutes,
                                f"{r[name].epochs} x {r[name].updates_per_epoch} updates"))
        phases.append(Phase("semantic_tokenizer", ck["semantic_tokenizer"], r.semantic_tokenizer.minutes,
                            f"k-means on {r.semantic_tokenizer.max_clips} clips"))
        for name in STAGES:
            phases.append(Phase(name, ck[name], r[name].minutes,
                                f"{r[name].epochs} x {r[name].updates_per_epoch} updates"))
        phases.append(Phase("bundle", self.out / "model" / "manifest.json", 0.1, "assemble the model bundle"))
        phases.append(Phase("prompts", self.out / "prompts.jsonl", r.prompts.minutes,
                            f"{r.prompts.num} held-out prompts"))
        phases.append(Phase("eval", self.out / "report" / "report.json", r.eval.minutes,
                            f"{r.eval.seeds} samples of {r.eval.duration:g} s per prompt"))
        return phases

    def check_recipe(self) -> None:
        """Record the recipe on the first run; refuse to resume a folder started with another one."""
        path = self.out / "recipe.yaml"
        text = OmegaConf.to_yaml(self.recipe)
        if path.exists():
            if path.read_text() != text:
                raise BeatLMError(f"{self.out} holds a quickstart run of another recipe or budget (see {path}); "
                                  "resume it with the same --recipe and --budget-minutes, or choose another --out")
            return
        if self.out.exists() and any(self.out.iterdir()):
            raise BeatLMError(f"{self.out} is not empty and holds no quickstart run; choose another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, log: tp.Callable[[str], None] = print) -> Path:
        """Run every phase not yet done; returns the bundle folder."""
        self.check_recipe()
        phases = self.phases()
        todo = [p for p in phases if not p.output.exists()]
        if len(todo) < len(phases):
            log(f"resuming {self.out}: {len(phases) - len(todo)} of {len(phases)} phases already done")
        pace = 1.0  # actual / expected time of the phases run so far, to correct the ETA
        spent = expected = 0.0
        for index, phase in enumerate(phases, 1):
            if phase.output.exists():
                continue
            remaining = sum(p.minutes for p in phases[index - 1:] if not p.output.exists()) * pace
            eta = datetime.datetime.now() + datetime.timedelta(minutes=remaining)
            log(f"\n[{index}/{len(phases)}] {phase.name}: {phase.describe} (about {phase.minutes * pace:.1f} min; "
                f"all done around {eta:%H:%M})")
            start = time.time()
            runner = getattr(self, f"_run_{phase.name}", None) or self._run_solver
            runner(phase)
            if not phase.output.exists():
                raise BeatLMError(f"phase {phase.name} ended without writing {phase.output}")
            took = (time.time() - start) / 60
            spent, expected = spent + took, expected + phase.minutes
            pace = max(spent / expected, 0.1) if expected > 0 else 1.0
            log(f"[{index}/{len(phases)}] {phase.name} done in {took:.1f} min -> {phase.output}")
        return self.out / "model"

    def _call(self, what: str, args: tp.Sequence[str]) -> None:
        proc = subprocess.run([self.python, *args], env=self.env)
        if proc.returncode == 130 or proc.returncode == -2:
            raise KeyboardInterrupt
        if proc.returncode != 0:
            raise BeatLMError(f"{what} failed (exit code {proc.returncode}; its output is above). Fix the cause "
                              f"and run the same quickstart command again to resume")

    def _beatlm(self, what: str, *args: str) -> None:
        self._call(what, ["-m", "beatlm", *args])

    def _run_corpus(self, phase: Phase) -> None:
        c = self.recipe.corpus
        self._beatlm("rendering the corpus", "corpus", "render", "--out", str(self.out / "corpus"),
                     "--num-clips", str(c.num_clips), "--duration", str(c.duration),
                     "--sample-rate", str(c.sample_rate), "--seed", str(c.seed), "--workers", str(c.workers),
                     "--dset-name", self.recipe.dset_name, "--config-dir", str(self.out / "config"))

    def _run_solver(self, phase: Phase) -> None:
        args = dora_args(self.recipe, phase.name, self.checkpoints)
        self._call(f"training {phase.name}", ["-m", "dora", "-P", "beatlm", "run", *args])
        kind = "stage" if phase.name in STAGES else phase.name
        self._beatlm(f"exporting {phase.name}", "export", kind, f"//sig/{self.signature(args)}",
                     str(phase.output), "--force")

    def signature(self, args: tp.Sequence[str]) -> str:
        """The Dora signature of the experiment `dora run ARGS` trains, in this run's folders."""
        from .. import train
        saved = {key: os.environ.get(key) for key in ("AUDIOCRAFT_DORA_DIR", "BEATLM_CONFIG_DIR")}
        saved_dir = train.main.dora.dir
        os.environ.update({key: self.env[key] for key in saved})
        try:
            train.main.dora.dir = Path(self.env["AUDIOCRAFT_DORA_DIR"])
            return train.main.get_xp(list(args)).sig
        finally:
            train.main.dora.dir = saved_dir
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _run_semantic_tokenizer(self, phase: Phase) -> None:
        self._beatlm("fitting the semantic tokenizer", "fit", "semantic-tokenizer",
                     "--manifest", str(self.out / "corpus" / "egs" / "train"),
                     "--mulan", str(self.checkpoints["mulan"]), "--scale", self.recipe.model_scale,
                     "--max-clips", str(self.recipe.semantic_tokenizer.max_clips),
                     "--out", str(phase.output), "--force")

    def _run_bundle(self, phase: Phase) -> None:
        args = ["export", "bundle", "--out", str(phase.output.parent), "--name", f"beatlm-{self.recipe.model_scale}",
                "--force"]
        for name, path in self.checkpoints.items():
            args += [f"--{name.replace('_', '-')}", str(path)]
        self._beatlm("assembling the bundle", *args)

    def _run_prompts(self, phase: Phase) -> None:
        p = self.recipe.prompts
        self._beatlm("writing the held-out prompts", "corpus", "prompts", "--num", str(p.num), "--seed", str(p.seed),
                     "--out", str(phase.output), "--overwrite")

    def _run_eval(self, phase: Phase) -> None:
        e = self.recipe.eval
        report = phase.output.parent
        if report.exists():  # an interrupted evaluation starts over
            shutil.rmtree(report)
        self._beatlm("evaluating the model", "eval", "--model", str(self.out / "model"),
                     "--prompts", str(self.out / "prompts.jsonl"), "--out", str(report),
                     "--duration", str(e.duration), "--seeds", str(e.seeds),
                     "--reference", str(self.out / "corpus" / "egs" / "test"))
