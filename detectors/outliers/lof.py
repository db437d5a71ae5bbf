"""Local outlier factor (novelty mode) fitted on a subsample of the baseline."""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.neighbors import LocalOutlierFactor

from ..drift._validation import Interval, Options
from ._sklearn import SklearnOutlierDetector

__all__ = ["LOFOutlier"]


class LOFOutlier(SklearnOutlierDetector):
    """:class:`sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``.

    Parameters
    ----------
    n_neighbors
        Neighbourhood size.
    contamination
        ``"auto"`` (offset -1.5) or the expected outlier fraction, in (0, 0.5].
    max_fit_samples
        Baseline rows used for fitting (a seeded subsample when there are more).
    random_state
        Seed for the subsample (LOF itself is deterministic).

    Notes
    -----
    ``score_samples`` is the negated local outlier factor: about -1 for inliers, lower =
    more abnormal.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = LOFOutlier().fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [6.0, -6.0]]))
    array([ 1, -1])
    """

    name: ClassVar[str] = "lof"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SklearnOutlierDetector._parameter_constraints,
        "n_neighbors": [Interval("int", 1, None)],
        "contamination": [Options(("auto",)), Interval("float", 0.0, 0.5, "right")],
    }

    def __init__(
        self,
        n_neighbors: int = 20,
        contamination: Any = "auto",
        max_fit_samples: int = 5000,
        random_state: Any = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _make_model(self) -> LocalOutlierFactor:
        return LocalOutlierFactor(
            n_neighbors=self.n_neighbors, contamination=self.contamination, novelty=True
        )
