"""1-Wasserstein distance on raw values with the reference sorted once."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import DriftResult
from ._validation import Interval
from ._sorted import SortedWindowDetector
from ._window import SortedWindow, sorted_reference

__all__ = ["WassersteinDrift", "reference_areas", "wasserstein_areas", "wasserstein_sorted"]


def wasserstein_sorted(u_sorted: np.ndarray, v_sorted: np.ndarray) -> float:
    """1-Wasserstein distance between two sorted samples (area between their ECDFs).

    The pooled sorted sample is built by merging (one search of ``v`` in ``u``) rather
    than by sorting both samples again: ``O(n + m)``. :func:`wasserstein_areas` does it in
    ``O(m log n)`` when ``u`` is a reference prepared once.

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


def reference_areas(reference_sorted: np.ndarray) -> np.ndarray:
    """``A[j]``: the area under the reference ECDF ``F`` from its first point to point ``j``.

    ``A[j] = sum_{k<j} (k + 1) / n * (r[k+1] - r[k])``, accumulated in extended precision
    and rounded once, so that differences ``A[j] - A[i]`` are accurate to a few ulps of
    the data's range (never of ``n`` times it, as plain prefix sums of the values would).

    Examples
    --------
    >>> reference_areas(np.array([0.0, 1.0, 3.0, 4.0]))
    array([0.  , 0.25, 1.25, 2.  ])
    """
    n = reference_sorted.size
    steps = np.arange(1, n, dtype=np.longdouble) * np.diff(reference_sorted).astype(np.longdouble)
    areas = np.zeros(n, dtype=np.float64)
    areas[1:] = (np.cumsum(steps) / n).astype(np.float64)
    return areas


def wasserstein_areas(
    reference_sorted: np.ndarray,
    areas: np.ndarray,
    current_sorted: np.ndarray,
    right: np.ndarray | None = None,
) -> float:
    """1-Wasserstein distance in ``O(m log n)`` from the reference's ECDF areas.

    ``areas`` is :func:`reference_areas` of ``reference_sorted``; ``right``, if given, is
    ``searchsorted(reference_sorted, current_sorted, "right")``. Between two consecutive
    window points the window's ECDF is a constant ``t = k / m`` and the reference's
    ``F`` crosses it once, at ``r[ceil(t n) - 1]``, so ``integral |F - t|`` over the gap
    is two differences of the area function: only the ``m`` window points are visited.

    Examples
    --------
    >>> r = np.array([0.0, 1.0, 3.0])
    >>> wasserstein_areas(r, reference_areas(r), np.array([5.0, 6.0, 8.0]))
    5.0
    """
    r, c = reference_sorted, current_sorted
    n, m = r.size, c.size
    if right is None:
        right = np.searchsorted(r, c, side="right")
    # area under F up to each window point: A[j] + (j + 1) / n * (x - r[j]), j = right - 1;
    # 0 for the window points below the whole reference (a prefix: ``right`` is sorted)
    j = right - 1
    a_c = areas[j] + right / n * (c - r[j])
    a_c[: int(np.searchsorted(right, 0, side="right"))] = 0.0
    # before the first window point the window's ECDF is 0, after the last it is 1
    total = float(a_c[0])
    if c[-1] < r[-1]:
        total += float((r[-1] - c[-1]) - (areas[-1] - a_c[-1]))
    if m > 1:
        k = np.arange(1, m)
        cross = -((-k * n) // m) - 1  # index of the first reference point where F >= k / m
        lo, hi, a_lo, a_hi = c[:-1], c[1:], a_c[:-1], a_c[1:]
        # F's crossing point, clipped to the gap; the area function is continuous and
        # non-decreasing, so its value at the clipped point is its value clipped likewise
        q = np.clip(r[cross], lo, hi)
        a_q = np.clip(areas[cross], a_lo, a_hi)
        t = k / m
        gaps = t * (q - lo) - (a_q - a_lo) + (a_hi - a_q) - t * (hi - q)
        total += float(np.sum(gaps))
    return total


class WassersteinDrift(SortedWindowDetector):
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
        self.reference_ = sorted_reference(reference)
        self._areas = reference_areas(self.reference_)
        sd = float(np.std(reference))
        self.scale_ = sd if sd > 0 else 1.0

    def _result_threshold(self) -> float:
        return float(self.threshold * self.scale_)

    def _test_window(self, window: SortedWindow) -> DriftResult:
        cur = window.values
        if cur.size == 0:
            return self._empty_result()
        w = wasserstein_areas(self.reference_, self._areas, cur, window.right(self.reference_))
        thr = self.threshold * self.scale_
        return DriftResult(
            statistic=w,
            p_value=None,
            threshold=float(thr),
            drift=bool(w >= thr),
            effect_size=w / self.scale_,
        )
