"""1-Wasserstein distance on raw values with the reference sorted once."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import DriftDetector, DriftResult
from ._validation import Interval

__all__ = ["WassersteinDrift", "wasserstein_sorted"]


def wasserstein_sorted(u_sorted: np.ndarray, v_sorted: np.ndarray) -> float:
    """1-Wasserstein distance between two sorted samples (area between their ECDFs).

    The pooled sorted sample is built by merging (one search of ``v`` in ``u``) rather
    than by sorting both samples again.

    Examples
    --------
    >>> wasserstein_sorted(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0]))
    5.0
    """
    n, m = u_sorted.size, v_sorted.size
    at = np.searchsorted(u_sorted, v_sorted, side="right") + np.arange(m)
    from_u = np.ones(n + m, dtype=bool)
    from_u[at] = False
    pooled = np.empty(n + m, dtype=np.float64)
    pooled[from_u] = u_sorted
    pooled[at] = v_sorted
    cu = np.cumsum(from_u)[:-1]
    cv = np.arange(1, n + m) - cu
    return float(np.dot(np.abs(cu / n - cv / m), np.diff(pooled)))


class WassersteinDrift(DriftDetector):
    """1-Wasserstein (earth mover's) distance between the window's and reference's values.

    The statistic equals :func:`scipy.stats.wasserstein_distance` on the same data.

    Parameters
    ----------
    threshold
        Drift when the distance divided by the reference standard deviation is at or above
        this value. ``DriftResult.threshold`` reports it in the units of the statistic
        (``threshold * scale_``).

    Attributes
    ----------
    reference_ : ndarray
        The sorted reference sample.
    scale_ : float
        Reference standard deviation (population; 1.0 for a constant reference).

    Notes
    -----
    ``W = integral |F_ref(x) - F_cur(x)| dx``. The effect size, ``W / scale_``, is a
    Cohen-like normalised shift: a mean shift of ``s`` standard deviations gives ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=20000), rng.normal(0.5, 1.0, size=2000)
    >>> r = WassersteinDrift().fit(ref).test(cur)
    >>> r.drift, round(r.effect_size, 1)
    (True, 0.5)
    >>> from scipy.stats import wasserstein_distance
    >>> bool(np.isclose(r.statistic, wasserstein_distance(ref, cur), rtol=1e-10))
    True
    """

    name: ClassVar[str] = "wasserstein"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, None, "neither")],
    }

    def __init__(self, threshold: float = 0.2) -> None:
        self.threshold = threshold

    def _fit(self, reference: np.ndarray) -> None:
        self.reference_ = np.sort(reference)
        sd = float(np.std(reference))
        self.scale_ = sd if sd > 0 else 1.0

    def _result_threshold(self) -> float:
        return float(self.threshold * self.scale_)

    def _test(self, current: np.ndarray) -> DriftResult:
        w = wasserstein_sorted(self.reference_, np.sort(current))
        thr = self.threshold * self.scale_
        return DriftResult(
            statistic=w,
            p_value=None,
            threshold=float(thr),
            drift=bool(w >= thr),
            effect_size=w / self.scale_,
        )
