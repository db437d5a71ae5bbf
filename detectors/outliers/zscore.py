"""Absolute z-score against the baseline (optionally robust: median and MAD)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..drift._validation import Interval, Options
from ._base import OutlierDetector

__all__ = ["ZScoreOutlier"]

_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> sigma


class ZScoreOutlier(OutlierDetector):
    """Flags values whose absolute z-score exceeds ``threshold``, per feature.

    Parameters
    ----------
    threshold
        Limit on ``|z|``.
    robust
        Use the median and the scaled median absolute deviation instead of the mean and
        the standard deviation (resists outliers in the baseline).

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_features,)
        Mean and sample standard deviation (or median and 1.4826 * MAD). A zero scale
        (constant feature) is replaced by 1.
    offset_ : float
        ``-threshold``.

    Notes
    -----
    ``outlier_score = |x - center_| / scale_`` (unitless).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = ZScoreOutlier().fit(rng.normal(size=(1000, 2)))
    >>> det.outlier_score(np.array([[0.0, 4.0]])).round(1)
    array([[0. , 4.1]])
    >>> det.threshold_
    3.0
    """

    name: ClassVar[str] = "zscore"
    per_feature: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, None, "neither")],
        "robust": [Options((True, False))],
    }

    def __init__(self, threshold: float = 3.0, robust: bool = False) -> None:
        self.threshold = threshold
        self.robust = robust

    def _fit(self, X: np.ndarray) -> None:
        if self.robust:
            center = np.nanmedian(X, axis=0)
            scale = _MAD_TO_SD * np.nanmedian(np.abs(X - center), axis=0)
        else:
            center = np.nanmean(X, axis=0)
            scale = np.nanstd(X, axis=0, ddof=1)
        self.center_ = center
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self._inv_scale = 1.0 / self.scale_
        self.offset_ = -float(self.threshold)

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        out = X - self.center_
        np.abs(out, out=out)
        out *= self._inv_scale
        return out
