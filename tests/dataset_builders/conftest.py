"""Fixtures of the beat-corpus tests: one tiny corpus rendered once per session."""

from pathlib import Path

import pytest

from beatlm.assets import DRUMS_CC0_DIR

TINY = {"num_clips": 6, "duration": 4.0, "sample_rate": 32000, "seed": 3}


@pytest.fixture(scope="session")
def tiny():
    """The render parameters of `tiny_corpus` (a copy: tests may change it)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def render_config():
    """A RenderConfig for short clips with the default soundfont and the bundled samples."""
    from beatlm.dataset_builders.synth import instruments, render
    return render.RenderConfig(sample_rate=32000, duration=4.0, seed=3, soundfont=instruments.default_soundfont(),
                               samples=DRUMS_CC0_DIR)


@pytest.fixture(scope="session")
def bank():
    from beatlm.dataset_builders.synth import instruments
    return instruments.SampleBank(DRUMS_CC0_DIR, 32000)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A 6-clip corpus of 4 s clips (rendered once; tests must not modify it)."""
    from beatlm.dataset_builders.synth import corpus
    out = tmp_path_factory.mktemp("corpus") / "beats"
    corpus.render_corpus(out, workers=1, progress=False, **TINY)
    return out
