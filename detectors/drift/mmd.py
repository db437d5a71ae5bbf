"""Maximum mean discrepancy (MMD) with an RBF kernel and a permutation p-value."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ._base import DriftResult, MultivariateDriftDetector
from ._validation import Interval, Options, random_state_constraint

__all__ = ["MMDDrift", "rbf_kernel_matrix"]


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0, out=d)


def rbf_kernel_matrix(z: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-||z_i - z_j||^2 / (2 sigma^2))`` for all pairs (diagonal exactly 1).

    Examples
    --------
    >>> rbf_kernel_matrix(np.array([[0.0], [1.0]]), 1.0).round(4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]])
    """
    k = _sq_dists(z, z)
    np.fill_diagonal(k, 0.0)
    k *= -1.0 / (2.0 * sigma * sigma)
    return np.exp(k, out=k)


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)


class MMDDrift(MultivariateDriftDetector):
    """Multivariate two-sample test: unbiased MMD^2 with a permutation p-value.

    Parameters
    ----------
    alpha
        Significance level: drift when ``p_value < alpha``.
    n_permutations
        Number of random permutations of the pooled subsample.
    max_samples
        Rows drawn (without replacement) from the reference at fit and from each window
        at test; the kernel matrix is ``(2 max_samples)^2``.
    standardize
        Scale every feature by the reference mean and standard deviation first, so that no
        feature dominates the distance.
    random_state
        Seed for the subsamples and permutations. An int (default 0) makes ``test``
        deterministic: the same window always gives the same result (needed for replays).

    Attributes
    ----------
    sigma_ : float
        RBF bandwidth: the median pairwise distance within the reference subsample
        (median heuristic).
    reference_sample_ : ndarray
        The (standardised) reference subsample.

    Notes
    -----
    ``MMD^2_u = mean_{i!=j} k(x_i, x_j) + mean_{i!=j} k(y_i, y_j) - 2 mean k(x_i, y_j)``
    with ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))`` (Gretton et al. 2012). All
    permutation statistics come from one matrix product ``K @ A`` with ``A`` the
    permutations' indicator columns. p-value ``(1 + #{perm >= observed}) / (1 + P)``.
    Effect size: ``sqrt(max(MMD^2_u, 0))``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = MMDDrift(max_samples=200).fit(rng.normal(size=(2000, 3)))
    >>> det.test(rng.normal(size=(500, 3))).drift
    False
    >>> det.test(rng.normal(0.5, 1.0, size=(500, 3))).drift
    True
    """

    name: ClassVar[str] = "mmd"
    default_min_effect_size: ClassVar[float] = 0.1
    _fitted_attr: ClassVar[str] = "sigma_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval("float", 0.0, 1.0, "neither")],
        "n_permutations": [Interval("int", 1, None)],
        "max_samples": [Interval("int", 2, None)],
        "standardize": [Options((True, False))],
        "random_state": random_state_constraint(),
    }

    def __init__(
        self,
        alpha: float = 0.05,
        n_permutations: int = 100,
        max_samples: int = 300,
        standardize: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.alpha = alpha
        self.n_permutations = n_permutations
        self.max_samples = max_samples
        self.standardize = standardize
        self.random_state = random_state

    def _fit(self, reference: np.ndarray) -> None:
        if self.standardize:
            self.mean_ = reference.mean(axis=0)
            sd = reference.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
        else:
            self.mean_ = np.zeros(reference.shape[1])
            self.scale_ = np.ones(reference.shape[1])
        rng = _rng(self.random_state)
        x = self._subsample(reference, rng)
        self.reference_sample_ = (x - self.mean_) / self.scale_
        d = _sq_dists(self.reference_sample_, self.reference_sample_)
        iu = np.triu_indices(d.shape[0], k=1)
        med = float(np.sqrt(np.median(d[iu])))
        self.sigma_ = med if med > 0 else 1.0

    def _subsample(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if x.shape[0] <= self.max_samples:
            return x
        return x[np.sort(rng.choice(x.shape[0], self.max_samples, replace=False))]

    def _test(self, current: np.ndarray) -> DriftResult:
        rng = _rng(self.random_state)
        y = (self._subsample(current, rng) - self.mean_) / self.scale_
        x = self.reference_sample_
        n, m = x.shape[0], y.shape[0]
        big_n = n + m
        k = rbf_kernel_matrix(np.vstack([x, y]), self.sigma_)
        row = k.sum(axis=1)
        total = float(row.sum())

        def mmd2(s_xx: np.ndarray, s_x1: np.ndarray) -> np.ndarray:
            s_xy = s_x1 - s_xx
            s_yy = total - 2.0 * s_x1 + s_xx
            return (s_xx - n) / (n * (n - 1)) + (s_yy - m) / (m * (m - 1)) - 2.0 * s_xy / (n * m)

        a0 = np.zeros(big_n)
        a0[:n] = 1.0
        observed = float(mmd2(np.array([a0 @ k @ a0]), np.array([a0 @ row]))[0])
        perms = np.argsort(rng.random((self.n_permutations, big_n)), axis=1)[:, :n]
        a = np.zeros((big_n, self.n_permutations))
        a[perms, np.arange(self.n_permutations)[:, None]] = 1.0
        ka = k @ a
        null = mmd2((a * ka).sum(axis=0), row @ a)
        p = (1.0 + float((null >= observed).sum())) / (1.0 + self.n_permutations)
        return DriftResult(
            statistic=observed,
            p_value=p,
            threshold=float(self.alpha),
            drift=bool(p < self.alpha),
            effect_size=math.sqrt(max(observed, 0.0)),
        )
