"""Base class of the per-request outlier detectors.

Sign conventions (as in scikit-learn's ``IsolationForest``):

- ``score_samples(X)``: raw score, **lower = more abnormal**;
- ``decision_function(X) = score_samples(X) - offset_``: negative for outliers;
- ``predict(X)``: ``-1`` for outliers, ``1`` for inliers;
- ``outlier_score(X) = -score_samples(X)``: **higher = more abnormal**, compared with
  ``threshold_ = -offset_`` (an outlier has ``outlier_score > threshold_``).

Per-feature detectors (``per_feature = True``) return ``(n, d)`` arrays, one score per
value; the others return one score per row, ``(n,)``. Missing values (NaN) get NaN scores
and are predicted inliers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from ..drift._validation import check_fitted, validate_params

__all__ = ["OutlierDetector"]


class OutlierDetector(BaseEstimator):  # type: ignore[misc]
    """Fit on a baseline sample ``(n, d)``, then score micro-batches ``(m, d)``.

    Subclasses set ``name`` and ``per_feature`` and implement ``_fit(X)`` plus either
    ``_outlier(X)`` (higher = more abnormal; ``score_samples`` is its negation) or
    ``_score(X)`` (scikit-learn sign). ``_fit`` must set ``offset_``.
    """

    name: ClassVar[str] = ""
    per_feature: ClassVar[bool] = True
    kinds: ClassVar[tuple[str, ...]] = ("numeric",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    # -- input checks -------------------------------------------------------------------
    def _as_2d(self, X: Any) -> np.ndarray:
        if self.kinds == ("categorical",):
            arr = np.asarray(X, dtype=object)
        else:
            arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects a 2-D array (n_samples, n_features). "
                f"Got shape {arr.shape}; reshape a single feature with X.reshape(-1, 1)."
            )
        return arr

    def _check_X(self, X: Any) -> np.ndarray:
        check_fitted(self, "offset_")
        arr = self._as_2d(X)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return arr

    # -- public API ---------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: Any = None) -> OutlierDetector:
        """Learn the baseline from ``X`` of shape ``(n_samples, n_features)``; returns self."""
        validate_params(self)
        arr = self._as_2d(X)
        if arr.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 baseline rows. Got {arr.shape[0]}."
            )
        self.n_features_in_ = arr.shape[1]
        self._fit(arr)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Raw scores; **lower = more abnormal**. Shape ``(n, d)`` or ``(n,)``."""
        arr = self._check_X(X)
        return self._rowwise(arr, self._score)

    def outlier_score(self, X: np.ndarray) -> np.ndarray:
        """``-score_samples(X)``: **higher = more abnormal**; compare with ``threshold_``."""
        arr = self._check_X(X)
        return self._rowwise(arr, self._outlier)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``-1`` for outliers, ``1`` for inliers (NaN scores are inliers)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    @property
    def threshold_(self) -> float | np.ndarray:
        """Threshold on :meth:`outlier_score` (``-offset_``), scalar or per feature."""
        check_fitted(self, "offset_")
        return -self.offset_

    # -- plumbing -----------------------------------------------------------------------
    def _rowwise(self, X: np.ndarray, fn: Any) -> np.ndarray:
        """Apply ``fn``; multivariate detectors score complete rows only."""
        if self.per_feature or X.dtype == object:
            return fn(X)
        ok = np.isfinite(X).all(axis=1)
        if ok.all():
            return fn(X)
        out = np.full(X.shape[0], np.nan)
        if ok.any():
            out[ok] = fn(X[ok])
        return out

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self._outlier(X)

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        return -self._score(X)

    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def complete_rows(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` without NaN/inf."""
    ok = np.isfinite(X).all(axis=1)
    return X if ok.all() else X[ok]
