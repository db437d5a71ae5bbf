"""Multiple-testing corrections across features and detectors of one window.

Each function takes raw p-values and returns adjusted p-values of the same shape, equal to
``statsmodels.stats.multitest.multipletests(p, method=...)[1]`` for ``"bonferroni"`` and
``"fdr_bh"``. NaN p-values (tests that could not run) stay NaN and do not count towards
the number of tests ``m``.

Examples
--------
>>> bonferroni([0.01, 0.04, 0.2])
array([0.03, 0.12, 0.6 ])
>>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
array([0.04      , 0.05333333, 0.05333333, 0.2       ])
>>> adjust([0.01, None, 0.2], "bonferroni")
array([0.02,  nan, 0.4 ])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["METHODS", "adjust", "adjust_records", "benjamini_hochberg", "bonferroni"]

METHODS = ("bonferroni", "bh", "none")


def _as_array(pvals: Sequence[Any] | np.ndarray) -> np.ndarray:
    p = np.array([np.nan if v is None else v for v in np.ravel(np.asarray(pvals, dtype=object))],
                 dtype=np.float64).reshape(np.shape(pvals))
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"p-values must lie in [0, 1]. Got {p[ok][(p[ok] < 0) | (p[ok] > 1)][:3]}.")
    return p


def bonferroni(pvals: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Bonferroni: ``min(m p, 1)`` (controls the family-wise error rate)."""
    p = _as_array(pvals)
    m = int(np.isfinite(p).sum())
    return np.minimum(p * m, 1.0)


def benjamini_hochberg(pvals: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up (controls the false discovery rate).

    ``p_adj(i) = min_{j >= i} min(m p_(j) / j, 1)`` over the sorted p-values.
    """
    p = _as_array(pvals)
    out = np.full(p.shape, np.nan)
    flat, res = p.ravel(), out.reshape(-1)
    ok = np.flatnonzero(np.isfinite(flat))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(flat[ok], kind="mergesort")]
    scaled = flat[order] / (np.arange(1, m + 1) / m)  # statsmodels: p / ecdf
    scaled = np.minimum.accumulate(scaled[::-1])[::-1]
    res[order] = np.minimum(scaled, 1.0)
    return out


def adjust(pvals: Sequence[Any] | np.ndarray, method: str = "bh") -> np.ndarray:
    """Adjusted p-values with ``method`` in ``"bonferroni"``, ``"bh"`` or ``"none"``."""
    if method == "bonferroni":
        return bonferroni(pvals)
    if method in ("bh", "fdr_bh"):
        return benjamini_hochberg(pvals)
    if method == "none":
        return _as_array(pvals)
    raise ValueError(f"The 'method' parameter of adjust must be one of {METHODS}. Got {method!r}.")


def adjust_records(records: list[dict[str, Any]], method: str = "bh") -> list[dict[str, Any]]:
    """Set ``p_value_adjusted`` on one window's drift records (in place; returns them).

    All records with a p-value form one family (every feature x detector of the window);
    records without one (distance-only detectors) get ``None``.

    Examples
    --------
    >>> recs = [{"p_value": 0.01}, {"p_value": None}, {"p_value": 0.04}]
    >>> [r["p_value_adjusted"] for r in adjust_records(recs, "bonferroni")]
    [0.02, None, 0.08]
    """
    idx = [i for i, r in enumerate(records) if r.get("p_value") is not None]
    adj = adjust([records[i]["p_value"] for i in idx], method) if idx else np.array([])
    for r in records:
        r["p_value_adjusted"] = None
    for i, a in zip(idx, adj, strict=True):
        records[i]["p_value_adjusted"] = None if np.isnan(a) else float(a)
    return records
