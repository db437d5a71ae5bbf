"""Chi-squared test of homogeneity for categorical features."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import stats

from ._base import DriftDetector, DriftResult
from ._binning import category_counts
from ._hist import _categories
from ._validation import Interval

__all__ = ["Chi2Drift"]


class Chi2Drift(DriftDetector):
    """Chi-squared test that the window and the reference share one category distribution.

    A 2 x K contingency table (reference counts, window counts) over the reference's
    categories plus one column that pools every category never seen in the reference;
    columns empty in both rows are dropped. Equal to
    ``scipy.stats.chi2_contingency(table, correction=False)``.

    Parameters
    ----------
    alpha
        Significance level: drift when ``p_value < alpha``.

    Attributes
    ----------
    categories_ : pandas.Index
        The reference categories (sorted when orderable).
    reference_counts_ : ndarray
        Reference counts per category, plus a last 0 for unseen categories.

    Notes
    -----
    ``X2 = sum (O - E)^2 / E`` with ``E = row total * column total / N`` and
    ``K - 1`` degrees of freedom (no Yates correction). Treating the reference as a sample
    (not as known probabilities) keeps unseen categories finite. The effect size is the
    total variation distance ``0.5 sum |p_ref - p_cur|``, in ``[0, 1]`` and independent
    of the sample sizes. Numbers are treated as labels.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=5000).astype(object)
    >>> det = Chi2Drift().fit(ref)
    >>> det.test(rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=1000)).drift
    False
    >>> r = det.test(rng.choice(["a", "b", "c"], p=[0.3, 0.5, 0.2], size=1000))
    >>> r.drift, round(r.effect_size, 1)
    (True, 0.2)
    """

    name: ClassVar[str] = "chi2"
    kinds: ClassVar[tuple[str, ...]] = ("categorical",)
    has_p_value: ClassVar[bool] = True
    default_min_effect_size: ClassVar[float] = 0.1
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval("float", 0.0, 1.0, "neither")],
    }

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def _fit(self, reference: np.ndarray) -> None:
        self.categories_ = _categories(reference)
        self.reference_counts_ = category_counts(reference, self.categories_)

    def _test(self, current: np.ndarray) -> DriftResult:
        return self.test_counts(category_counts(current, self.categories_))

    def test_counts(self, counts: np.ndarray) -> DriftResult:
        """Test a window given as counts per reference category plus the unseen slot."""
        self._check_fitted()
        ref = self.reference_counts_.astype(np.float64)
        cur = np.asarray(counts, dtype=np.float64)
        if cur.shape != ref.shape:
            raise ValueError(f"counts must have shape {ref.shape}. Got {cur.shape}.")
        n_ref, n_cur = ref.sum(), cur.sum()
        if n_cur == 0:
            return self._empty_result()
        col = ref + cur
        keep = col > 0
        ref, cur, col = ref[keep], cur[keep], col[keep]
        tvd = 0.5 * float(np.abs(ref / n_ref - cur / n_cur).sum())
        if col.size < 2:
            stat, p = 0.0, 1.0
        else:
            total = n_ref + n_cur
            e_ref, e_cur = col * (n_ref / total), col * (n_cur / total)
            stat = float(((ref - e_ref) ** 2 / e_ref).sum() + ((cur - e_cur) ** 2 / e_cur).sum())
            p = float(stats.chi2.sf(stat, col.size - 1))
        return DriftResult(
            statistic=stat,
            p_value=p,
            threshold=float(self.alpha),
            drift=bool(p < self.alpha),
            effect_size=tvd,
        )
