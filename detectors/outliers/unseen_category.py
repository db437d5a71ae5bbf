"""Categorical values never seen in the baseline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from ._base import OutlierDetector

__all__ = ["UnseenCategoryOutlier"]


class UnseenCategoryOutlier(OutlierDetector):
    """Flags categorical values that never occur in the baseline column, per feature.

    Attributes
    ----------
    categories_ : list of pandas.Index
        The baseline categories of each column (missing values excluded).
    offset_ : float
        ``-0.5``.

    Notes
    -----
    ``outlier_score`` is ``1.0`` for an unseen value and ``0.0`` otherwise (missing
    values count as seen); ``threshold_`` is ``0.5``. Input is an object array.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([["a", "x"], ["b", "y"]], dtype=object)
    >>> det = UnseenCategoryOutlier().fit(X)
    >>> det.predict(np.array([["a", "z"], ["c", None]], dtype=object))
    array([[ 1, -1],
           [-1,  1]])
    """

    name: ClassVar[str] = "unseen_category"
    per_feature: ClassVar[bool] = True
    kinds: ClassVar[tuple[str, ...]] = ("categorical",)

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray) -> None:
        cats = []
        for j in range(X.shape[1]):
            col = X[:, j]
            col = col[~pd.isna(col)]
            cats.append(pd.Index(pd.unique(col), dtype=object))
        self.categories_ = cats
        self.offset_ = -0.5

    def _outlier(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape, dtype=np.float64)
        for j, cats in enumerate(self.categories_):
            col = X[:, j]
            unseen = cats.get_indexer(col) < 0
            out[:, j] = unseen & ~pd.isna(col)
        return out
