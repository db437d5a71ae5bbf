"""Base classes and the result type shared by every drift detector.

A drift detector compares one window (``current``) with a baseline sample
(``reference``). Everything that depends on the reference alone (sorting, bin edges,
reference probabilities, kernel bandwidths) is done once in :meth:`DriftDetector.fit`;
:meth:`DriftDetector.test` only does the window's own work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ._validation import check_fitted, validate_params

__all__ = ["DriftDetector", "DriftResult", "MultivariateDriftDetector"]


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one drift test on one window.

    Attributes
    ----------
    statistic
        The test statistic or distance.
    p_value
        The p-value, or ``None`` for distance-only detectors.
    threshold
        For detectors with p-values: the significance level ``alpha`` (drift when
        ``p_value < threshold``). For distances: the threshold on ``statistic``
        (drift when ``statistic >= threshold``).
    drift
        The detector's own decision, before any multiple-testing correction.
    effect_size
        A scale-free effect size used by alert rules (KS D, JS distance, PSI,
        normalised Wasserstein, ...).
    """

    statistic: float
    p_value: float | None
    threshold: float
    drift: bool
    effect_size: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


class _Detector(BaseEstimator):  # type: ignore[misc]
    """Common plumbing: parameters validated in ``fit``, fitted-state checks."""

    name: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    _fitted_attr: ClassVar[str] = "n_reference_"

    def _check_fitted(self) -> None:
        check_fitted(self, self._fitted_attr)

    def _validate_params(self) -> None:
        validate_params(self)


def _is_categorical(values: np.ndarray) -> bool:
    return values.dtype.kind in "OUSb"


def _clean_1d(values: Any, categorical: bool, what: str, owner: str) -> np.ndarray:
    """1-D array without missing values (NaN/inf for numbers, None/NaN for categories)."""
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{owner} expects a 1-D '{what}' array. Got shape {arr.shape}.")
    if categorical:
        arr = arr.astype(object, copy=False)
        mask = pd.isna(arr)
        return arr[~mask] if mask.any() else arr
    if arr.dtype != np.float64:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{owner} expects numeric '{what}' values. Got dtype {arr.dtype}."
            ) from exc
    finite = np.isfinite(arr)
    return arr if finite.all() else arr[finite]


class DriftDetector(_Detector):
    """Univariate drift detector: ``fit(reference)`` then ``test(current)``.

    Subclasses set ``name`` (registry name), ``kinds`` (``("numeric",)``,
    ``("categorical",)`` or both), ``has_p_value`` and ``default_min_effect_size``, and
    implement ``_fit(reference)`` and ``_test(current) -> DriftResult`` on clean 1-D
    arrays (missing values dropped).
    """

    kinds: ClassVar[tuple[str, ...]] = ("numeric",)
    multivariate: ClassVar[bool] = False
    has_p_value: ClassVar[bool] = False
    #: smallest effect size an alert needs by default (see :mod:`..alerts`)
    default_min_effect_size: ClassVar[float] = 0.1

    def fit(self, reference: np.ndarray) -> DriftDetector:
        """Learn everything that depends on the reference sample only.

        Missing values (NaN, inf, None) are dropped. Returns ``self``.
        """
        self._validate_params()
        ref = np.asarray(reference)
        categorical = _is_categorical(ref) if ref.ndim else False
        if categorical and "categorical" not in self.kinds:
            raise ValueError(
                f"{type(self).__name__} works on numeric features only. "
                f"Got a reference of dtype {ref.dtype}."
            )
        if not categorical and "numeric" not in self.kinds:
            categorical = True  # a categorical-only detector takes numbers as labels
        ref = _clean_1d(ref, categorical, "reference", type(self).__name__)
        if ref.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 non-missing reference values. "
                f"Got {ref.size}."
            )
        self.categorical_ = categorical
        self._fit(ref)
        self.n_reference_ = int(ref.size)
        return self

    def test(self, current: np.ndarray) -> DriftResult:
        """Compare one window with the reference.

        Missing values are dropped. An empty window gives a result with NaN statistic
        and ``drift=False``.
        """
        self._check_fitted()
        cur = _clean_1d(current, self.categorical_, "current", type(self).__name__)
        if cur.size == 0:
            return self._empty_result()
        return self._test(cur)

    def _empty_result(self) -> DriftResult:
        return DriftResult(
            statistic=float("nan"),
            p_value=float("nan") if self.has_p_value else None,
            threshold=float(self._result_threshold()),
            drift=False,
            effect_size=float("nan"),
        )

    def _result_threshold(self) -> float:
        return float(getattr(self, "alpha", getattr(self, "threshold", np.nan)))

    def _fit(self, reference: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _test(self, current: np.ndarray) -> DriftResult:  # pragma: no cover - interface
        raise NotImplementedError


class MultivariateDriftDetector(_Detector):
    """Drift detector on several numeric features at once: 2-D ``(n, d)`` inputs.

    Rows with any missing value are dropped.
    """

    kinds: ClassVar[tuple[str, ...]] = ("numeric",)
    multivariate: ClassVar[bool] = True
    has_p_value: ClassVar[bool] = True
    default_min_effect_size: ClassVar[float] = 0.1

    def _clean(self, X: Any, what: str) -> np.ndarray:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects a 2-D '{what}' array. Got shape {arr.shape}."
            )
        bad = ~np.isfinite(arr).all(axis=1)
        return arr[~bad] if bad.any() else arr

    def fit(self, reference: np.ndarray) -> MultivariateDriftDetector:
        """Learn from the ``(n, d)`` reference sample; returns ``self``."""
        self._validate_params()
        ref = self._clean(reference, "reference")
        if ref.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 complete reference rows. "
                f"Got {ref.shape[0]}."
            )
        self.n_features_in_ = ref.shape[1]
        self._fit(ref)
        self.n_reference_ = int(ref.shape[0])
        return self

    def test(self, current: np.ndarray) -> DriftResult:
        """Compare one ``(m, d)`` window with the reference."""
        self._check_fitted()
        cur = self._clean(current, "current")
        if cur.shape[1] != self.n_features_in_:
            raise ValueError(
                f"current has {cur.shape[1]} features, but {type(self).__name__} "
                f"is expecting {self.n_features_in_} features as input."
            )
        if cur.shape[0] < 2:
            return DriftResult(float("nan"), float("nan"), float(self.alpha), False, float("nan"))
        return self._test(cur)

    def _fit(self, reference: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _test(self, current: np.ndarray) -> DriftResult:  # pragma: no cover - interface
        raise NotImplementedError
