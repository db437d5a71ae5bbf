"""Binning shared by the histogram detectors (KL, JS, PSI, Hellinger, binned Wasserstein).

Numeric layout (the same as the ``histogram`` field of stats records in CONTRACTS.md):
``len(edges) + 1`` slots = ``[underflow, bin_1, ..., bin_k, overflow]``. Interior bins
are half-open ``[e_i, e_{i+1})`` except the last, which is closed (like
:func:`numpy.histogram`); values below ``edges[0]`` go to the underflow slot, values
above ``edges[-1]`` to the overflow slot.

Categorical layout: one slot per reference category (in sorted order) plus a last slot
for categories never seen in the reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["bin_counts", "category_counts", "quantile_edges", "smooth"]


def quantile_edges(reference: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges at the ``n_bins``-quantiles of ``reference`` (duplicates dropped).

    Examples
    --------
    >>> quantile_edges(np.arange(11.0), 5)
    array([ 0.,  2.,  4.,  6.,  8., 10.])
    >>> quantile_edges(np.ones(4), 5)  # a constant sample keeps one closed bin
    array([1., 1.])
    """
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    return edges


def search_edges(edges: np.ndarray) -> np.ndarray:
    """Edges for :func:`numpy.searchsorted` that close the last interior bin."""
    out = np.array(edges, dtype=np.float64)
    out[-1] = np.nextafter(out[-1], np.inf)
    return out


def bin_counts(values: np.ndarray, edges: np.ndarray, *, _search: np.ndarray | None = None) -> np.ndarray:
    """Counts in ``[underflow, bins..., overflow]`` layout (length ``len(edges) + 1``).

    Examples
    --------
    >>> bin_counts(np.array([-5.0, 0.0, 1.0, 2.0, 2.0, 9.0]), np.array([0.0, 1.0, 2.0]))
    array([1, 1, 3, 1])
    """
    search = search_edges(edges) if _search is None else _search
    idx = np.searchsorted(search, values, side="right")
    return np.bincount(idx, minlength=search.size + 1)


def category_counts(values: np.ndarray, categories: pd.Index) -> np.ndarray:
    """Counts per reference category, plus a last slot for unseen categories.

    Examples
    --------
    >>> category_counts(np.array(["a", "b", "b", "z"], dtype=object), pd.Index(["a", "b"]))
    array([1, 2, 1])
    """
    codes = categories.get_indexer(values)
    k = len(categories)
    codes[codes < 0] = k
    return np.bincount(codes, minlength=k + 1)


def smooth(proba: np.ndarray, eps: float) -> np.ndarray:
    """Additive smoothing of a probability vector: ``(p + eps) / (1 + K * eps)``.

    Keeps every slot strictly positive so that log-ratios (KL, PSI) stay finite.
    """
    if eps == 0:
        return proba
    return (proba + eps) / (1.0 + proba.size * eps)
