"""Squared Mahalanobis distance to the baseline mean, across numeric features."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import stats

from ..drift._validation import Interval, Options
from ._base import OutlierDetector, complete_rows

__all__ = ["MahalanobisOutlier"]


class MahalanobisOutlier(OutlierDetector):
    """Flags rows far from the baseline mean in the metric of the baseline covariance.

    Parameters
    ----------
    alpha
        Expected false-positive rate on baseline-like data.
    method
        ``"chi2"``: threshold ``chi2.ppf(1 - alpha, df=rank)`` (exact for Gaussian data);
        ``"empirical"``: the ``1 - alpha`` quantile of the baseline's own distances.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Baseline mean.
    precision_ : ndarray of shape (n_features, n_features)
        Pseudo-inverse of the baseline covariance (``numpy.cov``, ddof=1).
    rank_ : int
        Rank of the covariance (degrees of freedom of the chi2 threshold).
    offset_ : float
        ``-threshold_``.

    Notes
    -----
    ``outlier_score = (x - location_)^T precision_ (x - location_)`` (squared distance).
    The precision is stored factorised (``precision_ = W W^T`` from an eigendecomposition)
    so that scoring is one ``(m, d) @ (d, r)`` product. ``score_samples`` is the negated
    squared distance, like ``sklearn.covariance.EllipticEnvelope``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = MahalanobisOutlier().fit(rng.normal(size=(5000, 3)))
    >>> round(float(det.threshold_), 2)  # chi2.ppf(0.999, 3)
    16.27
    >>> det.predict(np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0]]))
    array([ 1, -1])
    """

    name: ClassVar[str] = "mahalanobis"
    per_feature: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval("float", 0.0, 1.0, "neither")],
        "method": [Options(("chi2", "empirical"))],
    }

    def __init__(self, alpha: float = 0.001, method: str = "chi2") -> None:
        self.alpha = alpha
        self.method = method

    def _fit(self, X: np.ndarray) -> None:
        X = complete_rows(X)
        if X.shape[0] < 2:
            raise ValueError("MahalanobisOutlier needs at least 2 complete baseline rows.")
        self.location_ = X.mean(axis=0)
        cov = np.atleast_2d(np.cov(X, rowvar=False))
        w, v = np.linalg.eigh(cov)
        tol = max(float(w.max()), 0.0) * cov.shape[0] * np.finfo(np.float64).eps
        keep = w > tol
        self._whiten = v[:, keep] / np.sqrt(w[keep])
        self.precision_ = self._whiten @ self._whiten.T
        self.rank_ = int(keep.sum())
        if self.method == "chi2":
            thr = float(stats.chi2.ppf(1.0 - self.alpha, df=max(self.rank_, 1)))
        else:
            thr = float(np.quantile(self._outlier(X), 1.0 - self.alpha))
        self.offset_ = -thr

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        z = (X - self.location_) @ self._whiten
        return np.einsum("ij,ij->i", z, z)
