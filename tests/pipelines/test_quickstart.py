"""`beatlm quickstart`: recipe scaling, resuming rules, and one whole tiny run end to end."""

import json
import os
from pathlib import Path

from omegaconf import OmegaConf
import pytest

from beatlm.cli.main import main
from beatlm.pipelines.quickstart import Quickstart, dora_args, load_recipe, scale_recipe, scale_updates
from beatlm.utils.errors import BeatLMError


def test_scale_updates_keeps_epochs_then_shrinks_to_one_epoch():
    assert scale_updates(8, 100, 1.0, 2) == (8, 100)
    assert scale_updates(8, 100, 2.0, 2) == (8, 200)
    assert scale_updates(8, 100, 0.5, 2) == (4, 100)
    assert scale_updates(8, 100, 0.01, 2) == (1, 8)
    assert scale_updates(8, 100, 1e-6, 2) == (1, 2)  # never below the minimum


def test_scale_recipe_scales_corpus_and_updates():
    recipe = load_recipe("micro")
    same = scale_recipe(recipe, None)
    assert same.corpus.num_clips == recipe.corpus.num_clips
    assert same.coarse.epochs == recipe.coarse.epochs
    assert same.coarse.updates_per_epoch == recipe.coarse.updates_per_epoch
    half = scale_recipe(recipe, recipe.budget_minutes / 2)
    assert half.corpus.num_clips == round(recipe.corpus.num_clips / 2)
    assert half.mulan.epochs * half.mulan.updates_per_epoch == pytest.approx(
        recipe.mulan.epochs * recipe.mulan.updates_per_epoch / 2, abs=recipe.mulan.epochs)
    assert half.eval.minutes == pytest.approx(recipe.eval.minutes / 2)
    tiny = scale_recipe(recipe, 0.001)
    assert tiny.corpus.num_clips == recipe.min_clips
    assert tiny.codec.epochs * tiny.codec.updates_per_epoch == recipe.min_updates
    assert recipe.corpus.num_clips == load_recipe("micro").corpus.num_clips  # the input is not changed


def test_bad_recipe_and_budget_are_one_line_errors(tmp_path):
    with pytest.raises(BeatLMError, match="no recipe nope"):
        load_recipe("nope")
    with pytest.raises(BeatLMError, match="must be positive"):
        scale_recipe(load_recipe("micro"), 0)
    assert main(["quickstart", "--out", str(tmp_path / "q"), "--budget-minutes", "-1"]) == 2


def test_dora_args_of_a_stage_name_its_tokenizers(tmp_path):
    recipe = scale_recipe(load_recipe("micro"), None)
    pipeline = Quickstart(tmp_path, recipe)
    args = dora_args(recipe, "coarse", pipeline.checkpoints)
    assert "solver=musiclm/coarse" in args and "model_scale=micro" in args
    assert f"optim.epochs={recipe.coarse.epochs}" in args
    assert f"compression_model_checkpoint={pipeline.checkpoints['codec']}" in args
    assert not any("checkpoint=" in a for a in dora_args(recipe, "codec", pipeline.checkpoints))


def test_a_folder_of_another_budget_or_content_is_refused(tmp_path):
    recipe = load_recipe("micro")
    Quickstart(tmp_path / "q", scale_recipe(recipe, 10)).check_recipe()
    Quickstart(tmp_path / "q", scale_recipe(recipe, 10)).check_recipe()  # same recipe: resumes
    with pytest.raises(BeatLMError, match="another recipe or budget"):
        Quickstart(tmp_path / "q", scale_recipe(recipe, 20)).check_recipe()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep me")
    with pytest.raises(BeatLMError, match="not empty"):
        Quickstart(tmp_path / "other", scale_recipe(recipe, 10)).check_recipe()


def test_signature_leaves_the_dora_folder_and_environment_alone(tmp_path):
    from beatlm import train
    recipe = scale_recipe(load_recipe("micro"), None)
    pipeline = Quickstart(tmp_path / "q", recipe)
    dset = tmp_path / "q" / "config" / "dset" / "beats" / f"{recipe.dset_name}.yaml"
    dset.parent.mkdir(parents=True)
    dset.write_text("# @package __global__\ndatasource:\n  max_sample_rate: 32000\n  max_channels: 1\n"
                    "  train: x\n  valid: x\n  evaluate: x\n  generate: x\n")
    before = (train.main.dora.dir, os.environ["AUDIOCRAFT_DORA_DIR"], os.environ["BEATLM_CONFIG_DIR"])
    sig = pipeline.signature(dora_args(recipe, "codec", pipeline.checkpoints))
    assert len(sig) == 8
    assert (train.main.dora.dir, os.environ["AUDIOCRAFT_DORA_DIR"], os.environ["BEATLM_CONFIG_DIR"]) == before


def test_dry_run_lists_every_phase(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path / "q"), "--budget-minutes", "9", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for phase in ("corpus", "codec", "mulan", "semantic_tokenizer", "semantic", "coarse", "fine", "bundle",
                  "prompts", "eval"):
        assert f"] {phase}:" in out
    assert not (tmp_path / "q").exists()


def tiny_recipe(path: Path) -> Path:
    """The micro recipe with small batches and short evaluations, for a run of a few minutes."""
    recipe = load_recipe("micro")
    small = {
        "codec": ["scaled.codec.batch_size=2", "scaled.codec.segment_duration=0.5", "scaled.codec.valid_samples=2",
                  "dataset.evaluate.num_samples=2", "dataset.generate.num_samples=1"],
        "mulan": ["scaled.mulan.batch_size=8", "scaled.mulan.valid_samples=8", "generate.quantizer_samples=64",
                  "scaled.mulan.num_workers=0"],
        "semantic": ["scaled.lm.batch_size=2", "scaled.lm.valid_samples=2", "scaled.lm.segment_duration=2.0"],
        "coarse": ["scaled.lm.batch_size=2", "scaled.lm.valid_samples=2", "scaled.lm.segment_duration=2.0"],
        "fine": ["scaled.lm.batch_size=2", "scaled.lm.valid_samples=2", "scaled.lm.segment_duration=2.0"],
    }
    for name, overrides in small.items():
        recipe[name].overrides = list(recipe[name].overrides) + overrides
    recipe.corpus.duration = 4.0  # MuLaN pads its 10 s windows; the stages' crops are 2 s below
    recipe.semantic_tokenizer.max_clips = 4
    recipe.prompts.num = 2
    recipe.eval.duration = 1.0
    recipe.eval.seeds = 1
    OmegaConf.save(recipe, path)
    return path


@pytest.mark.slow
def test_quickstart_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "qs"
    args = ["quickstart", "--out", str(out), "--recipe", str(tiny_recipe(tmp_path / "tiny.yaml")),
            "--budget-minutes", "0.01"]
    assert main(args) == 0
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert set(manifest["parts"]) == {"codec", "mulan", "semantic_tokenizer", "semantic", "coarse", "fine"}
    report = json.loads((out / "report" / "report.json").read_text())
    assert report  # the evaluation ran on the bundle
    assert (out / "report" / "report.md").exists()
    capsys.readouterr()
    assert main(args) == 0  # everything is done: nothing runs again
    assert "10 of 10 phases already done" in capsys.readouterr().out
