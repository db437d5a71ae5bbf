"""Tukey's fences: beyond Q1 - k IQR or Q3 + k IQR of the baseline."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..drift._validation import Interval
from ._base import OutlierDetector

__all__ = ["IQROutlier"]


class IQROutlier(OutlierDetector):
    """Flags values outside Tukey's fences ``[Q1 - k IQR, Q3 + k IQR]``, per feature.

    Parameters
    ----------
    k
        Fence width in interquartile ranges (1.5: "outlier", 3: "far out").

    Attributes
    ----------
    q1_, q3_, iqr_ : ndarray of shape (n_features,)
        Baseline quartiles (linear interpolation, like ``numpy.percentile``) and ``q3_ - q1_``.
    offset_ : ndarray of shape (n_features,)
        ``-k * iqr_``.

    Notes
    -----
    ``outlier_score = max(q1_ - x, x - q3_)`` in the feature's units (distance beyond the
    nearest quartile), compared with ``threshold_ = k * iqr_``.

    Examples
    --------
    >>> import numpy as np
    >>> det = IQROutlier().fit(np.arange(1.0, 9.0).reshape(-1, 1))  # Q1 2.75, Q3 6.25
    >>> det.threshold_
    array([5.25])
    >>> det.predict(np.array([[11.0], [12.0]])).ravel()
    array([ 1, -1])
    """

    name: ClassVar[str] = "iqr"
    per_feature: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval("float", 0.0, None, "left")],
    }

    def __init__(self, k: float = 1.5) -> None:
        self.k = k

    def _fit(self, X: np.ndarray) -> None:
        self.q1_, self.q3_ = np.nanpercentile(X, [25.0, 75.0], axis=0)
        self.iqr_ = self.q3_ - self.q1_
        self.offset_ = -self.k * self.iqr_

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(self.q1_ - X, X - self.q3_)
