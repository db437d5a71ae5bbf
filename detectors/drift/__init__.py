"""Drift detectors: one window of a feature against the training baseline.

Univariate detectors follow :class:`DriftDetector` (``fit(reference)`` once, then
``test(current) -> DriftResult`` per window); :class:`MMDDrift` is multivariate. Each lives
in its own module; the registry (:mod:`driftstream.detectors.registry`) knows them by
``name``.
"""

from ._base import DriftDetector, DriftResult, MultivariateDriftDetector
from ._binning import bin_counts, category_counts, quantile_edges
from ._hist import HistogramDriftDetector
from .chi2 import Chi2Drift
from .cvm import CVMDrift
from .hellinger import HellingerDrift
from .js import JSDrift
from .kl import KLDrift
from .ks import KSDrift
from .mmd import MMDDrift
from .psi import PSIDrift
from .wasserstein import WassersteinDrift
from .wasserstein_hist import WassersteinHistDrift

__all__ = [
    "CVMDrift",
    "Chi2Drift",
    "DriftDetector",
    "DriftResult",
    "HellingerDrift",
    "HistogramDriftDetector",
    "JSDrift",
    "KLDrift",
    "KSDrift",
    "MMDDrift",
    "MultivariateDriftDetector",
    "PSIDrift",
    "WassersteinDrift",
    "WassersteinHistDrift",
    "bin_counts",
    "category_counts",
    "quantile_edges",
]
