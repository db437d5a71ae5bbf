"""Base of the detectors that read a window sorted once and shared (KS, CvM, raw Wasserstein)."""

from __future__ import annotations

import numpy as np

from ._base import DriftDetector, DriftResult
from ._window import SortedWindow, presorted_window, sorted_window


class SortedWindowDetector(DriftDetector):
    """A univariate detector working on the sorted window; subclasses define ``_test_window``."""

    def test(self, current: np.ndarray) -> DriftResult:
        """Compare one window with the reference (missing values dropped).

        The window is sorted once and shared with the other detectors tested on the same
        array (see :mod:`._window`).
        """
        self._check_fitted()
        return self._test_window(sorted_window(current, type(self).__name__))

    def test_sorted(self, current_sorted: np.ndarray) -> DriftResult:
        """Like :meth:`test`, for a window already free of missing values and sorted.

        Detectors given the same sorted array share its searches in the reference.
        """
        self._check_fitted()
        return self._test_window(presorted_window(current_sorted))

    def _test(self, current: np.ndarray) -> DriftResult:
        return self._test_window(SortedWindow(np.sort(current)))
