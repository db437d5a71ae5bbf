"""Jensen-Shannon distance between binned distributions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._hist import HistogramDriftDetector
from ._validation import Interval

__all__ = ["JSDrift"]


def _xlogy_half(p: np.ndarray, m: np.ndarray) -> float:
    nz = p > 0
    return float(np.dot(p[nz], np.log(p[nz] / m[nz])))


class JSDrift(HistogramDriftDetector):
    """Jensen-Shannon distance between the reference's and the window's histograms.

    Parameters
    ----------
    threshold
        Drift when the distance is at or above this value.
    n_bins
        Number of quantile bins of the reference (numeric features).
    base
        Logarithm base; with the default ``2`` the distance lies in ``[0, 1]``.

    Notes
    -----
    ``JS = sqrt((KL(p || m) + KL(q || m)) / 2)`` with ``m = (p + q) / 2`` in log base
    ``base``; equal to ``scipy.spatial.distance.jensenshannon(p, q, base=base)``. It is
    the square root of the Jensen-Shannon divergence, finite with empty bins, so no
    smoothing is applied. The effect size is the distance itself.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = JSDrift().fit(rng.normal(size=5000))
    >>> det.test(rng.normal(size=1000)).drift
    False
    >>> round(det.test(rng.normal(1.0, 1.0, size=1000)).statistic, 2)
    0.4
    """

    name: ClassVar[str] = "js"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, 1.0, "right")],
        "n_bins": [Interval("int", 1, None)],
        "base": [Interval("float", 1.0, None, "neither")],
    }

    def __init__(self, threshold: float = 0.1, n_bins: int = 10, base: float = 2.0) -> None:
        self.threshold = threshold
        self.n_bins = n_bins
        self.base = base

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        m = (p_ref + p_cur) / 2.0
        js = (_xlogy_half(p_ref, m) + _xlogy_half(p_cur, m)) / (2.0 * np.log(self.base))
        d = float(np.sqrt(max(js, 0.0)))
        return d, d, self.threshold
