"""Common base of the detectors that wrap a scikit-learn novelty model."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.utils import check_random_state

from ..drift._validation import Interval, random_state_constraint
from ._base import OutlierDetector, complete_rows

__all__ = ["SklearnOutlierDetector"]


class SklearnOutlierDetector(OutlierDetector):
    """Fits a scikit-learn model on (a seeded subsample of) the baseline's complete rows.

    Subclasses implement ``_make_model()``. ``score_samples``, ``offset_`` and therefore
    ``decision_function`` and ``predict`` are the model's own.

    Attributes
    ----------
    model_ : estimator
        The fitted scikit-learn model.
    n_fit_samples_ : int
        Rows actually used for fitting (at most ``max_fit_samples``).
    """

    per_feature: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_fit_samples": [Interval("int", 2, None)],
        "random_state": random_state_constraint(),
    }

    def _make_model(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def _fit(self, X: np.ndarray) -> None:
        X = complete_rows(X)
        if X.shape[0] > self.max_fit_samples:
            rng = check_random_state(self.random_state)
            X = X[np.sort(rng.choice(X.shape[0], self.max_fit_samples, replace=False))]
        self.model_ = self._make_model().fit(X)
        self.n_fit_samples_ = int(X.shape[0])
        self.offset_ = float(self.model_.offset_)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.model_.score_samples(X)
