"""Set-level metrics in an embedding space (here MuLaN's): Fréchet distance, diversity, cycle consistency.

The Fréchet distance is the FAD formula of Kilgour et al. (2019) on MuLaN audio embeddings instead of
VGGish ones: it is not comparable to published FAD_VGG figures, only between runs on the same MuLaN
and the same reference set.
"""

import typing as tp

import numpy as np


def covariance(x: np.ndarray, shrinkage: bool) -> np.ndarray:
    """Covariance [D, D] of rows [N, D]: the sample covariance, or Ledoit-Wolf's shrunk one (for N near or under D)."""
    x = np.asarray(x, dtype=np.float64)
    if shrinkage:
        from sklearn.covariance import ledoit_wolf
        return ledoit_wolf(x)[0]
    return np.cov(x, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray, shrinkage: tp.Optional[bool] = None
                     ) -> tp.Tuple[float, tp.Dict[str, tp.Any]]:
    """Fréchet distance between Gaussians fitted to two sets of embeddings [Na, D] and [Nb, D].

    d = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), with scipy's matrix square root.

    Args:
        a: First set (e.g. generated samples).
        b: Second set (e.g. the reference clips).
        shrinkage: Estimate both covariances with Ledoit-Wolf shrinkage; None chooses it when either set has
            no more rows than dimensions (the sample covariance is then singular and the distance unreliable).
    Returns:
        (distance, details: the covariance estimator and the set sizes).
    """
    import scipy.linalg
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two sets of at least 2 embeddings of one size, got {a.shape} and {b.shape}")
    if shrinkage is None:
        shrinkage = min(len(a), len(b)) <= a.shape[1]
    sa, sb = covariance(a, shrinkage), covariance(b, shrinkage)
    root, _ = scipy.linalg.sqrtm(sa @ sb, disp=False)
    if not np.isfinite(root).all():  # a singular product: offset the diagonals slightly
        offset = np.eye(len(sa)) * 1e-6
        root = scipy.linalg.sqrtm((sa + offset) @ (sb + offset))
    root = np.real(root)
    diff = a.mean(axis=0) - b.mean(axis=0)
    distance = float(diff @ diff + np.trace(sa) + np.trace(sb) - 2.0 * np.trace(root))
    details = {"covariance": "ledoit-wolf shrinkage" if shrinkage else "sample", "n_a": len(a), "n_b": len(b),
               "dim": int(a.shape[1])}
    return max(distance, 0.0), details


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def mean_pairwise_cosine_distance(x: np.ndarray) -> float:
    """Mean of 1 - cos over every pair of rows of [N, D] (N >= 2): 0 when all rows point the same way."""
    x = _unit(x)
    if len(x) < 2:
        raise ValueError("need at least 2 embeddings")
    sims = x @ x.T
    upper = np.triu_indices(len(x), k=1)
    return float(np.mean(1.0 - sims[upper]))


def paired_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of row i of `a` with row i of `b` ([N, D] each) -> [N]."""
    return np.sum(_unit(a) * _unit(b), axis=-1)


def derangement(n: int) -> tp.List[int]:
    """A fixed permutation of range(n) moving every index (i -> i + 1 mod n); identity when n < 2."""
    return [(i + 1) % n for i in range(n)] if n >= 2 else list(range(n))
