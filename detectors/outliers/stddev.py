"""Outside mean +- k standard deviations of the baseline."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..drift._validation import Interval, Options
from ._base import OutlierDetector

__all__ = ["StdDevOutlier"]


class StdDevOutlier(OutlierDetector):
    """Flags values outside ``mean_ +- k * std_`` of the baseline, per feature.

    The reference system's third rule.

    Parameters
    ----------
    k
        Width of the band in standard deviations.
    ddof
        ``1`` for the sample standard deviation, ``0`` for the population one.

    Attributes
    ----------
    mean_, std_ : ndarray of shape (n_features,)
    offset_ : ndarray of shape (n_features,)
        ``-k * std_``.

    Notes
    -----
    ``outlier_score = |x - mean_|`` in the feature's units, compared with
    ``threshold_ = k * std_``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = StdDevOutlier().fit(rng.normal(size=(1000, 2)))
    >>> det.predict(np.array([[0.1, 4.0], [-3.5, 0.0]]))
    array([[ 1, -1],
           [-1,  1]])
    """

    name: ClassVar[str] = "stddev"
    per_feature: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval("float", 0.0, None, "neither")],
        "ddof": [Options((0, 1))],
    }

    def __init__(self, k: float = 3.0, ddof: int = 1) -> None:
        self.k = k
        self.ddof = ddof

    def _fit(self, X: np.ndarray) -> None:
        self.mean_ = np.nanmean(X, axis=0)
        self.std_ = np.nanstd(X, axis=0, ddof=self.ddof)
        self.offset_ = -self.k * self.std_

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        return np.abs(X - self.mean_)
