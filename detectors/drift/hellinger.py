"""Hellinger distance between binned distributions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._hist import HistogramDriftDetector
from ._validation import Interval

__all__ = ["HellingerDrift"]


class HellingerDrift(HistogramDriftDetector):
    """Hellinger distance between the reference's and the window's histograms.

    Parameters
    ----------
    threshold
        Drift when the distance is at or above this value.
    n_bins
        Number of quantile bins of the reference (numeric features).

    Notes
    -----
    ``H = sqrt(1 - sum_i sqrt(p_i q_i)) = ||sqrt(p) - sqrt(q)||_2 / sqrt(2)``, in
    ``[0, 1]``, finite with empty bins (no smoothing). The effect size is ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = HellingerDrift().fit(rng.normal(size=5000))
    >>> det.test(rng.normal(size=1000)).drift
    False
    >>> round(det.test(rng.normal(1.0, 1.0, size=1000)).statistic, 2)
    0.34
    """

    name: ClassVar[str] = "hellinger"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, 1.0, "right")],
        "n_bins": [Interval("int", 1, None)],
    }

    def __init__(self, threshold: float = 0.1, n_bins: int = 10) -> None:
        self.threshold = threshold
        self.n_bins = n_bins

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        bc = float(np.dot(np.sqrt(p_ref), np.sqrt(p_cur)))
        h = float(np.sqrt(max(1.0 - bc, 0.0)))
        return h, h, self.threshold
