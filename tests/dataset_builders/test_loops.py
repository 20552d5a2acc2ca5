import numpy as np

from beatlm.dataset_builders.loops import render_loop


def test_render_loop_is_deterministic_and_bounded():
    a = render_loop(90, 2.0, 16000, seed=3)
    assert a.shape == (32000,) and a.dtype == np.float32
    assert np.array_equal(a, render_loop(90, 2.0, 16000, seed=3))
    assert not np.array_equal(a, render_loop(90, 2.0, 16000, seed=4))
    assert 0.5 < np.abs(a).max() <= 0.8 + 1e-6
