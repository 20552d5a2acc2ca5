"""The solver registry: BeatLM names first, audiocraft's as fallback, clear error otherwise."""

from omegaconf import OmegaConf
import pytest

from beatlm.solvers import builders
from beatlm.utils.errors import BeatLMError


class _Recorder:
    def __init__(self, cfg):
        self.cfg = cfg


def test_beatlm_name_resolves_to_registered_class(monkeypatch):
    monkeypatch.setitem(builders._SOLVERS, "test/recorder", f"{__name__}:_Recorder")
    solver = builders.get_solver(OmegaConf.create({"solver": "test/recorder"}))
    assert type(solver).__name__ == "_Recorder" and solver.cfg.solver == "test/recorder"
    assert "test/recorder" in builders.known_solvers()


@pytest.mark.parametrize("name,module,klass", [
    ("musicgen", "audiocraft.solvers.musicgen", "MusicGenSolver"),
    ("lm", "audiocraft.solvers.musicgen", "MusicGenSolver"),
])
def test_audiocraft_name_falls_back_to_audiocraft(name, module, klass, monkeypatch):
    import importlib
    ac_class = getattr(importlib.import_module(module), klass)
    built = []
    monkeypatch.setattr(ac_class, "__init__", lambda self, cfg: built.append(cfg))
    solver = builders.get_solver(OmegaConf.create({"solver": name}))
    assert type(solver) is ac_class and len(built) == 1


def test_compression_is_audiocrafts_solver_with_beatlms_model_builder(monkeypatch):
    from audiocraft.solvers.compression import CompressionSolver as AudiocraftCompressionSolver

    from beatlm.solvers.compression import CompressionSolver
    built = []
    monkeypatch.setattr(AudiocraftCompressionSolver, "__init__", lambda self, cfg: built.append(cfg))
    solver = builders.get_solver(OmegaConf.create({"solver": "compression"}))
    assert type(solver) is CompressionSolver and isinstance(solver, AudiocraftCompressionSolver) and len(built) == 1
    # everything but the model builder is audiocraft's
    assert [name for name in vars(CompressionSolver) if not name.startswith("_")] == ["build_model"]


def test_unknown_name_is_a_clear_error():
    with pytest.raises(BeatLMError, match="unknown solver 'nope'.*compression"):
        builders.get_solver(OmegaConf.create({"solver": "nope"}))
