"""One window of a numeric feature, cleaned and sorted once, shared by several detectors.

KS, Cramer-von Mises, raw Wasserstein and the histogram detectors all start from the
window's sorted values; KS, CvM and Wasserstein also locate each window value in the
sorted reference (``searchsorted(reference, window, "right")``). :class:`SortedWindow`
holds the sorted values and memoises those positions per reference array, and
:func:`sorted_window` keeps a small cache keyed on the identity of the input array, so a
caller that runs every detector through ``test(current)`` on the same array sorts it once.

The cache is safe against reuse: an entry holds only a weak reference to the input (it
dies with it) and a copy of its values, and is used only while the input is the very same
object with the same bytes (a cheap ``O(m)`` check, against an ``O(m log m)`` sort and
``O(m log n)`` searches).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from ._base import _clean_1d

__all__ = [
    "SortedWindow",
    "counts_from_sorted",
    "presorted_window",
    "sorted_reference",
    "sorted_window",
]


class SortedWindow:
    """A window's finite values, sorted, with memoised positions in sorted references.

    Parameters
    ----------
    values
        The window's finite values sorted ascending (not checked).

    Examples
    --------
    >>> w = SortedWindow(np.array([1.0, 2.0, 4.0]))
    >>> ref = np.array([0.0, 2.0, 3.0])
    >>> w.right(ref)
    array([1, 2, 3])
    >>> w.right(ref) is w.right(ref)  # searched once per reference array
    True
    """

    __slots__ = ("_left", "_right", "values")

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self._right: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._left: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def right(self, reference_sorted: np.ndarray) -> np.ndarray:
        """``searchsorted(reference_sorted, values, "right")``, once per reference array."""
        hit = self._right.get(id(reference_sorted))
        if hit is not None and hit[0] is reference_sorted:
            return hit[1]
        pos = np.searchsorted(reference_sorted, self.values, side="right")
        pos.flags.writeable = False  # shared by several detectors
        self._right[id(reference_sorted)] = (reference_sorted, pos)
        return pos

    def left(self, reference_sorted: np.ndarray) -> np.ndarray:
        """``searchsorted(reference_sorted, values, "left")``, once per reference array.

        Derived from :meth:`right`: the two differ only where a window value equals a
        reference value.
        """
        hit = self._left.get(id(reference_sorted))
        if hit is not None and hit[0] is reference_sorted:
            return hit[1]
        right = self.right(reference_sorted)
        r, c = reference_sorted, self.values
        tied = right > 0
        tied[tied] = r[right[tied] - 1] == c[tied]
        if tied.any():
            pos = right.copy()
            pos[tied] = np.searchsorted(r, c[tied], side="left")
            pos.flags.writeable = False
        else:
            pos = right
        self._left[id(reference_sorted)] = (reference_sorted, pos)
        return pos


def counts_from_sorted(values_sorted: np.ndarray, search: np.ndarray) -> np.ndarray:
    """Histogram counts in the ``[underflow, bins..., overflow]`` layout from sorted values.

    ``search`` are the search edges of :func:`._binning.search_edges`; the result equals
    ``bin_counts(values, edges)`` in ``O(k log m)`` for ``k`` edges instead of ``O(m log k)``.

    Examples
    --------
    >>> from driftstream.detectors.drift._binning import bin_counts, search_edges
    >>> v, e = np.array([-5.0, 0.0, 1.0, 2.0, 2.0, 9.0]), np.array([0.0, 1.0, 2.0])
    >>> counts_from_sorted(v, search_edges(e)), bin_counts(v, e)
    (array([1, 1, 3, 1]), array([1, 1, 3, 1]))
    """
    below = np.searchsorted(values_sorted, search, side="left")
    counts = np.empty(below.size + 1, dtype=np.intp)
    counts[0] = below[0]
    np.subtract(below[1:], below[:-1], out=counts[1:-1])
    counts[-1] = values_sorted.size - below[-1]
    return counts


class _IdentityCache:
    """Results of ``compute(array)`` keyed on the identity of 1-D float64 input arrays.

    An entry is used only while the input is the very same object with the same values
    (weak reference plus a copy of its bytes). Entries whose input has died are dropped at
    the next insertion, and at most ``max_entries`` are kept (least recently added first
    out). No weakref callbacks: they could run (from the garbage collector) while the lock
    is held.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[int, tuple[weakref.ref, bytes, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, array: Any, compute: Any) -> Any:
        if not (type(array) is np.ndarray and array.ndim == 1 and array.dtype == np.float64):
            return compute(array)
        key = id(array)
        with self._lock:
            entry = self._entries.get(key)
        # the same object with the same bytes (a byte comparison is ~10x cheaper than
        # np.array_equal and treats NaNs as equal to themselves)
        if entry is not None and entry[0]() is array and entry[1] == array.tobytes():
            return entry[2]
        value = compute(array)
        new = (weakref.ref(array), array.tobytes(), value)
        with self._lock:
            dead = [k for k, e in self._entries.items() if e[0]() is None]
            for k in dead:
                del self._entries[k]
            self._entries[key] = new
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value


_windows = _IdentityCache(64)
_presorted = _IdentityCache(64)
_references = _IdentityCache(64)


def sorted_window(current: Any, owner: str) -> SortedWindow:
    """The cleaned (finite values only), sorted window, cached on the identity of ``current``.

    Only 1-D float64 numpy arrays are cached; anything else is cleaned and sorted afresh.
    ``owner`` names the detector in error messages.
    """
    return _windows.get(
        current, lambda a: SortedWindow(np.sort(_clean_1d(a, False, "current", owner)))
    )


def presorted_window(current_sorted: Any) -> SortedWindow:
    """A window its caller has already cleaned and sorted (not checked), cached like
    :func:`sorted_window` so that detectors given the same array share its searches."""
    return _presorted.get(current_sorted, lambda a: SortedWindow(np.asarray(a, dtype=np.float64)))


def sorted_reference(reference: np.ndarray) -> np.ndarray:
    """``np.sort(reference)`` as a read-only array, shared by detectors fitted on the same array.

    Detectors fitted on one reference array then hold the same sorted array, so a window's
    positions in it (:meth:`SortedWindow.right`) are searched once for all of them.
    """

    def compute(a: np.ndarray) -> np.ndarray:
        out = np.sort(a)
        out.flags.writeable = False
        return out

    return _references.get(reference, compute)
