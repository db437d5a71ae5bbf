"""Isolation forest fitted on a subsample of the baseline."""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.ensemble import IsolationForest

from ..drift._validation import Interval, Options
from ._sklearn import SklearnOutlierDetector

__all__ = ["IsolationForestOutlier"]


class IsolationForestOutlier(SklearnOutlierDetector):
    """:class:`sklearn.ensemble.IsolationForest` on a seeded subsample of the baseline.

    Parameters
    ----------
    n_estimators
        Number of trees.
    contamination
        ``"auto"`` (offset -0.5, as in the original paper) or the expected outlier fraction
        of the baseline, in (0, 0.5].
    max_fit_samples
        Baseline rows used for fitting (a seeded subsample when there are more).
    random_state
        Seed for the subsample and the forest.

    Notes
    -----
    ``score_samples`` is the opposite of the anomaly score of Liu et al. (2008), in
    ``[-1, 0]``: lower = more abnormal. Rows with NaN score NaN.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = IsolationForestOutlier(n_estimators=50).fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [6.0, -6.0]]))
    array([ 1, -1])
    """

    name: ClassVar[str] = "isolation_forest"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SklearnOutlierDetector._parameter_constraints,
        "n_estimators": [Interval("int", 1, None)],
        "contamination": [Options(("auto",)), Interval("float", 0.0, 0.5, "right")],
    }

    def __init__(
        self,
        n_estimators: int = 100,
        contamination: Any = "auto",
        max_fit_samples: int = 5000,
        random_state: Any = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _make_model(self) -> IsolationForest:
        return IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination,
            random_state=self.random_state,
        )
