"""Robust covariance (MCD) envelope fitted on a subsample of the baseline."""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.covariance import EllipticEnvelope

from ..drift._validation import Interval, NoneOK
from ._sklearn import SklearnOutlierDetector

__all__ = ["EllipticEnvelopeOutlier"]


class EllipticEnvelopeOutlier(SklearnOutlierDetector):
    """:class:`sklearn.covariance.EllipticEnvelope` on a seeded subsample of the baseline.

    Parameters
    ----------
    contamination
        Expected outlier fraction of the baseline, in (0, 0.5]; sets ``offset_``.
    support_fraction
        Fraction of points in the MCD support (``None``: scikit-learn's default).
    max_fit_samples
        Baseline rows used for fitting (a seeded subsample when there are more).
    random_state
        Seed for the subsample and the MCD.

    Notes
    -----
    ``score_samples`` is the negated squared robust Mahalanobis distance: lower = more
    abnormal.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = EllipticEnvelopeOutlier().fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [6.0, -6.0]]))
    array([ 1, -1])
    """

    name: ClassVar[str] = "elliptic_envelope"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SklearnOutlierDetector._parameter_constraints,
        "contamination": [Interval("float", 0.0, 0.5, "right")],
        "support_fraction": [NoneOK(), Interval("float", 0.0, 1.0, "right")],
    }

    def __init__(
        self,
        contamination: float = 0.01,
        support_fraction: float | None = None,
        max_fit_samples: int = 5000,
        random_state: Any = 0,
    ) -> None:
        self.contamination = contamination
        self.support_fraction = support_fraction
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _make_model(self) -> EllipticEnvelope:
        return EllipticEnvelope(
            contamination=self.contamination,
            support_fraction=self.support_fraction,
            random_state=self.random_state,
        )
