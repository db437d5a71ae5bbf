"""Outside the baseline range: above the baseline max or below the baseline min."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._base import OutlierDetector

__all__ = ["RangeOutlier"]


class RangeOutlier(OutlierDetector):
    """Flags values above the baseline maximum or below the baseline minimum, per feature.

    The reference system's first two rules.

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Baseline minimum and maximum (NaN ignored).
    offset_ : ndarray of shape (n_features,)
        Zeros: a value is an outlier as soon as it leaves ``[min_, max_]``.

    Notes
    -----
    ``outlier_score = max(x - max_, min_ - x)``, in the feature's units: how far the value
    lies beyond the nearest bound (negative inside the range). ``score_samples`` is its
    negation (lower = more abnormal).

    Examples
    --------
    >>> import numpy as np
    >>> det = RangeOutlier().fit(np.array([[0.0, 10.0], [1.0, 20.0]]))
    >>> det.outlier_score(np.array([[0.5, 25.0], [-2.0, 15.0]]))
    array([[-0.5,  5. ],
           [ 2. , -5. ]])
    >>> det.predict(np.array([[0.5, 25.0], [-2.0, 15.0]]))
    array([[ 1, -1],
           [-1,  1]])
    """

    name: ClassVar[str] = "range"
    per_feature: ClassVar[bool] = True

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray) -> None:
        self.min_ = np.nanmin(X, axis=0)
        self.max_ = np.nanmax(X, axis=0)
        self.offset_ = np.zeros(X.shape[1])

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(X - self.max_, self.min_ - X)
