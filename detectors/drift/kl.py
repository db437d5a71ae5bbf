"""Kullback-Leibler divergence between binned distributions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._hist import HistogramDriftDetector
from ._validation import Interval

__all__ = ["KLDrift"]


class KLDrift(HistogramDriftDetector):
    """Kullback-Leibler divergence of the window's histogram from the reference's.

    Parameters
    ----------
    threshold
        Drift when the divergence is at or above this value (nats).
    n_bins
        Number of quantile bins of the reference (numeric features); underflow and
        overflow slots are added.
    eps
        Additive smoothing of both probability vectors, ``(p + eps) / (1 + K eps)``,
        so empty bins keep the divergence finite.

    Attributes
    ----------
    bin_edges_, categories_, reference_counts_, reference_proba_
        See :class:`~driftstream.detectors.drift._hist.HistogramDriftDetector`.

    Notes
    -----
    ``KL(ref || cur) = sum_i p_i ln(p_i / q_i)`` with natural logarithms (nats), ``p``
    the smoothed reference and ``q`` the smoothed window probabilities; equal to
    ``scipy.stats.entropy(p, q)``. The effect size is the divergence itself.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = KLDrift().fit(rng.normal(size=5000))
    >>> det.test(rng.normal(size=1000)).drift
    False
    >>> r = det.test(rng.normal(1.0, 1.0, size=1000))
    >>> r.drift, round(r.statistic, 2)
    (True, 0.48)
    """

    name: ClassVar[str] = "kl"
    _smoothed: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **HistogramDriftDetector._parameter_constraints,
        "eps": [Interval("float", 0.0, None, "neither")],
    }

    def __init__(self, threshold: float = 0.05, n_bins: int = 10, eps: float = 1e-4) -> None:
        self.threshold = threshold
        self.n_bins = n_bins
        self.eps = eps

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        kl = float(np.dot(p_ref, np.log(p_ref / p_cur)))
        return kl, kl, self.threshold
