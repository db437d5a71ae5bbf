"""Wasserstein distance between binned distributions (the reference system's)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._hist import HistogramDriftDetector
from ._validation import Interval

__all__ = ["WassersteinHistDrift"]


class WassersteinHistDrift(HistogramDriftDetector):
    """1-Wasserstein distance between the reference's and the window's histograms.

    Each slot is placed at a point: interior bins at their midpoints, the underflow slot
    at the reference minimum and the overflow slot at the reference maximum (values
    beyond the reference range count at its ends).

    Parameters
    ----------
    threshold
        Drift when the distance divided by the reference standard deviation (population)
        is at or above this value. ``DriftResult.threshold`` reports it in the units of
        the statistic (``threshold * scale_``).
    n_bins
        Number of quantile bins of the reference.

    Attributes
    ----------
    positions_ : ndarray
        The point of each slot.
    scale_ : float
        Reference standard deviation (1.0 for a constant reference).

    Notes
    -----
    ``W = sum_i |P_i - Q_i| (x_{i+1} - x_i)`` over slot positions ``x`` with cumulative
    probabilities ``P``, ``Q``; equal to
    ``scipy.stats.wasserstein_distance(x, x, p, q)``. Effect size: ``W / scale_``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = WassersteinHistDrift().fit(rng.normal(size=5000))
    >>> det.test(rng.normal(size=1000)).drift
    False
    >>> round(det.test(rng.normal(1.0, 1.0, size=1000)).effect_size, 1)
    1.2
    """

    name: ClassVar[str] = "wasserstein_hist"
    kinds: ClassVar[tuple[str, ...]] = ("numeric",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, None, "neither")],
        "n_bins": [Interval("int", 1, None)],
    }

    def __init__(self, threshold: float = 0.2, n_bins: int = 10) -> None:
        self.threshold = threshold
        self.n_bins = n_bins

    def _fit(self, reference: np.ndarray) -> None:
        super()._fit(reference)
        e = self.bin_edges_
        self.positions_ = np.concatenate([[e[0]], (e[:-1] + e[1:]) / 2.0, [e[-1]]])
        self._gaps = np.diff(self.positions_)
        sd = float(np.std(reference))
        self.scale_ = sd if sd > 0 else 1.0

    def _result_threshold(self) -> float:
        return float(self.threshold * self.scale_)

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        cdf_gap = np.abs(np.cumsum(p_ref - p_cur)[:-1])
        w = float(np.dot(cdf_gap, self._gaps))
        return w, w / self.scale_, self.threshold * self.scale_
