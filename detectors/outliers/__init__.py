"""Outlier detectors: one score per request (and per feature for the per-feature rules).

All follow :class:`OutlierDetector` (scikit-learn conventions: ``score_samples`` lower =
more abnormal, ``decision_function``, ``predict`` -1/1, plus ``outlier_score`` higher = more
abnormal against ``threshold_``). Each lives in its own module; the registry
(:mod:`driftstream.detectors.registry`) knows them by ``name``.
"""

from ._base import OutlierDetector
from .elliptic_envelope import EllipticEnvelopeOutlier
from .iqr import IQROutlier
from .isolation_forest import IsolationForestOutlier
from .lof import LOFOutlier
from .mahalanobis import MahalanobisOutlier
from .range import RangeOutlier
from .stddev import StdDevOutlier
from .unseen_category import UnseenCategoryOutlier
from .zscore import ZScoreOutlier

__all__ = [
    "EllipticEnvelopeOutlier",
    "IQROutlier",
    "IsolationForestOutlier",
    "LOFOutlier",
    "MahalanobisOutlier",
    "OutlierDetector",
    "RangeOutlier",
    "StdDevOutlier",
    "UnseenCategoryOutlier",
    "ZScoreOutlier",
]
