"""Common base of the detectors that compare binned distributions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ._base import DriftDetector, DriftResult
from ._binning import bin_counts, category_counts, quantile_edges, search_edges, smooth
from ._validation import Interval
from ._window import counts_from_sorted, sorted_window

__all__ = ["HistogramDriftDetector"]


def _categories(reference: np.ndarray) -> pd.Index:
    uniq = pd.unique(reference)
    try:
        uniq = np.sort(uniq)
    except TypeError:  # mixed, unorderable labels: keep first-seen order
        pass
    return pd.Index(uniq, dtype=object)


class HistogramDriftDetector(DriftDetector):
    """Distance between the reference's and the window's binned distributions.

    Numeric features are binned on quantile edges of the reference (``n_bins`` bins plus
    underflow and overflow slots; see :mod:`._binning`); categorical features use one slot
    per reference category plus one for unseen categories. Subclasses implement
    ``_distance(p_ref, p_cur)`` on probability vectors; ``eps`` smoothing
    (:func:`._binning.smooth`) is applied first when ``_smoothed`` is true.

    Fitted attributes: ``bin_edges_`` (numeric) or ``categories_`` (categorical),
    ``reference_counts_``, ``reference_proba_`` (smoothed if the detector smooths).
    """

    kinds: ClassVar[tuple[str, ...]] = ("numeric", "categorical")
    _smoothed: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "threshold": [Interval("float", 0.0, None, "neither")],
        "n_bins": [Interval("int", 1, None)],
    }

    def _fit(self, reference: np.ndarray) -> None:
        if self.categorical_:
            self.categories_ = _categories(reference)
            counts = category_counts(reference, self.categories_)
        else:
            self.bin_edges_ = quantile_edges(reference, self.n_bins)
            self._search = search_edges(self.bin_edges_)
            counts = bin_counts(reference, self.bin_edges_, _search=self._search)
        self.reference_counts_ = counts
        self.reference_proba_ = self._proba(counts)

    def _proba(self, counts: np.ndarray) -> np.ndarray:
        p = counts / max(counts.sum(), 1)
        return smooth(p, self.eps) if self._smoothed else p

    def counts(self, current: np.ndarray) -> np.ndarray:
        """The window's counts in this detector's slot layout (missing values dropped)."""
        self._check_fitted()
        if self.categorical_:
            cur = np.asarray(current, dtype=object)
            cur = cur[~pd.isna(cur)]
            return category_counts(cur, self.categories_)
        cur = np.asarray(current, dtype=np.float64)
        cur = cur[np.isfinite(cur)]
        return bin_counts(cur, self.bin_edges_, _search=self._search)

    def test(self, current: np.ndarray) -> DriftResult:
        """Compare one window with the reference (missing values dropped).

        A numeric window is binned from its sorted values, sorted once and shared with the
        other detectors tested on the same array (see :mod:`._window`).
        """
        self._check_fitted()
        if self.categorical_:
            return super().test(current)
        values = sorted_window(current, type(self).__name__).values
        if values.size == 0:
            return self._empty_result()
        return self.test_counts(counts_from_sorted(values, self._search))

    def _test(self, current: np.ndarray) -> DriftResult:
        if self.categorical_:
            counts = category_counts(current, self.categories_)
        else:
            counts = bin_counts(current, self.bin_edges_, _search=self._search)
        return self.test_counts(counts)

    def test_counts(self, counts: np.ndarray) -> DriftResult:
        """Test a window given as counts in this detector's slot layout.

        Lets the engine bin a window once (e.g. the stats record's ``histogram``, which
        uses the same layout when it uses :attr:`bin_edges_`) and reuse it.
        """
        self._check_fitted()
        counts = np.asarray(counts)
        if counts.shape != self.reference_counts_.shape:
            raise ValueError(
                f"counts must have shape {self.reference_counts_.shape}. Got {counts.shape}."
            )
        if counts.sum() == 0:
            return self._empty_result()
        stat, effect, thr = self._distance(self.reference_proba_, self._proba(counts))
        return DriftResult(
            statistic=float(stat),
            p_value=None,
            threshold=float(thr),
            drift=bool(stat >= thr),
            effect_size=float(effect),
        )

    def _distance(self, p_ref: np.ndarray, p_cur: np.ndarray) -> tuple[float, float, float]:
        """Return ``(statistic, effect_size, threshold_on_statistic)``."""
        raise NotImplementedError  # pragma: no cover
