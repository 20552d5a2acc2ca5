"""Config composition: every concrete solver x model_scale composes, yields a signature, builds its model."""

from pathlib import Path

from omegaconf import OmegaConf
import pytest

CONFIG = Path(__file__).resolve().parents[1] / "config"
# `default.yaml` files are the abstract bases of their group (audiocraft's convention).
SOLVERS = sorted(str(p.relative_to(CONFIG / "solver").with_suffix("")) for p in (CONFIG / "solver").rglob("*.yaml")
                 if p.name != "default.yaml")
SCALES = sorted(p.stem for p in (CONFIG / "model_scale").glob("*.yaml"))
# The models a stage solver stands on have no default (`???`): any path composes.
STAGE_PARTS = ["compression_model_checkpoint=codec.th", "mulan_checkpoint=mulan.th",
               "semantic_tokenizer_checkpoint=semantic.th"]


def test_groups_found():
    assert "compression/beats" in SOLVERS
    assert {"micro", "small", "full", "none"} <= set(SCALES)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("solver", SOLVERS)
def test_solver_scale_composes(solver, scale, dora_dir):
    from beatlm import train
    parts = STAGE_PARTS if solver in ("musiclm/semantic", "musiclm/coarse", "musiclm/fine") else []
    xp = train.main.get_xp([f"solver={solver}", f"model_scale={scale}", *parts])
    assert len(xp.sig) == 8 and int(xp.sig, 16) >= 0
    assert xp.folder.parent == dora_dir / "xps"
    # Nothing left mandatory except the data, which `dset=` provides.
    cfg = OmegaConf.to_container(xp.cfg, resolve=True, throw_on_missing=True)
    assert cfg["solver"] and cfg["dora"]["git_save"] is False


def test_signatures_differ_by_scale(dora_dir):
    from beatlm import train
    sigs = {train.main.get_xp(["solver=compression/beats", f"model_scale={s}"]).sig for s in SCALES}
    assert len(sigs) == len(SCALES)


def test_excluded_keys_keep_signature(dora_dir):
    from beatlm import train
    base = ["solver=compression/beats", "model_scale=micro"]
    sig = train.main.get_xp(base).sig
    assert train.main.get_xp(base + ["dataset.num_workers=7", "device=cpu", "num_threads=1"]).sig == sig
    assert train.main.get_xp(base + ["optim.lr=1e-3"]).sig != sig


@pytest.mark.parametrize("scale", ["micro", "small", "full"])
def test_codec_scales_are_50hz_32khz(scale, dora_dir):
    from beatlm import train
    from beatlm.models.builders import get_compression_model
    cfg = train.main.get_xp(["solver=compression/beats", f"model_scale={scale}"]).cfg
    model = get_compression_model(cfg)
    assert model.sample_rate == 32000 and model.channels == 1
    assert model.frame_rate == 50
    assert model.num_codebooks == 4
    if scale == "full":  # MusicGen's codec layout: 4 x 2048 at 50 Hz
        assert model.cardinality == 2048


def test_user_config_dir_on_search_path(dora_dir, tiny_egs, datasource_args):
    from beatlm import train
    from beatlm.utils.paths import user_config_dir
    dset = user_config_dir() / "dset" / "audio" / "tiny_test.yaml"
    dset.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# @package __global__", "datasource:"] + [
        "  " + arg.split(".", 1)[1].replace("=", ": ", 1) for arg in datasource_args(tiny_egs)]
    dset.write_text("\n".join(lines) + "\n")
    xp = train.main.get_xp(["solver=compression/beats", "dset=audio/tiny_test"])
    assert xp.cfg.datasource.train == str(tiny_egs / "train")

