"""Population stability index between binned distributions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._hist import HistogramDriftDetector
from ._validation import Interval

__all__ = ["PSIDrift"]


class PSIDrift(HistogramDriftDetector):
    """Population stability index (PSI) of the window against the reference.

    Parameters
    ----------
    threshold
        Drift when the PSI is at or above this value. Common reading: < 0.1 stable,
        0.1-0.25 moderate shift, > 0.25 major shift.
    n_bins
        Number of quantile bins of the reference (numeric features).
    eps
        Additive smoothing of both probability vectors (see :func:`._binning.smooth`).

    Notes
    -----
    ``PSI = sum_i (q_i - p_i) ln(q_i / p_i)`` (natural log), the symmetrised KL
    divergence ``KL(p||q) + KL(q||p)``. The effect size is the PSI itself.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = PSIDrift().fit(rng.normal(size=5000))
    >>> det.test(rng.normal(size=1000)).drift
    False
    >>> det.test(rng.normal(0.5, 1.0, size=1000)).drift
    True
    """

    name: ClassVar[str] = "psi"
    _smoothed: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **HistogramDriftDetector._parameter_constraints,
        "eps": [Interval("float", 0.0, None, "neither")],
    }

    def __init__(self, threshold: float = 0.1, n_bins: int = 10, eps: float = 1e-4) -> None:
        self.threshold = threshold
        self.n_bins = n_bins
        self.eps = eps

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        psi = float(np.dot(p_cur - p_ref, np.log(p_cur / p_ref)))
        return psi, psi, self.threshold
