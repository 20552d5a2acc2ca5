"""Fréchet distance, diversity and cycle-consistency helpers over embeddings."""

import numpy as np
import pytest

from beatlm.metrics import embedding


@pytest.fixture
def points():
    return np.random.default_rng(0).standard_normal((300, 8))


@pytest.mark.parametrize("shrinkage", [False, True])
def test_frechet_is_zero_for_identical_sets_and_grows_with_a_shift(points, shrinkage):
    same, details = embedding.frechet_distance(points, points.copy(), shrinkage=shrinkage)
    assert same == pytest.approx(0.0, abs=1e-6)
    assert details["covariance"] == ("ledoit-wolf shrinkage" if shrinkage else "sample")
    distances = [embedding.frechet_distance(points + shift, points, shrinkage=shrinkage)[0]
                 for shift in (0.25, 0.5, 1.0)]
    assert distances[0] < distances[1] < distances[2]
    # a pure translation by `shift` in every one of 8 dimensions: |delta|^2 = 8 shift^2
    assert distances[2] == pytest.approx(8.0, rel=1e-6)


def test_frechet_sees_a_change_of_spread(points):
    wider, _ = embedding.frechet_distance(points * 2.0, points, shrinkage=False)
    assert wider == pytest.approx(8.0, rel=0.05)  # Tr(S + 4S - 2 * 2S) = Tr(S), S ~ identity


def test_frechet_chooses_shrinkage_for_small_sets(points):
    _, small = embedding.frechet_distance(points[:5], points[5:10])
    assert small["covariance"] == "ledoit-wolf shrinkage" and small["n_a"] == 5
    _, large = embedding.frechet_distance(points[:100], points[100:200])
    assert large["covariance"] == "sample"
    with pytest.raises(ValueError):
        embedding.frechet_distance(points[:1], points)


def test_diversity(points):
    same = np.repeat(points[:1], 3, axis=0)
    assert embedding.mean_pairwise_cosine_distance(same) == pytest.approx(0.0, abs=1e-9)
    assert embedding.mean_pairwise_cosine_distance(same * [[1.0], [2.0], [5.0]]) == pytest.approx(0.0, abs=1e-9)
    opposite = np.stack([points[0], -points[0]])
    assert embedding.mean_pairwise_cosine_distance(opposite) == pytest.approx(2.0)
    assert 0.5 < embedding.mean_pairwise_cosine_distance(points[:50]) < 1.5  # random directions: about 1


def test_paired_cosine_and_derangement(points):
    assert np.allclose(embedding.paired_cosine(points[:4], 3 * points[:4]), 1.0)
    for n in (2, 3, 7):
        order = embedding.derangement(n)
        assert sorted(order) == list(range(n)) and all(i != j for i, j in enumerate(order))
    assert embedding.derangement(7) == embedding.derangement(7)  # fixed, not random
