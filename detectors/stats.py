"""Windowed statistics as monoids: ``zero`` / ``update`` / ``merge``, then ``result``.

Partial aggregates are computed per micro-batch as data arrives (on the Dask workers) and
merged when a window closes, so closing is cheap and the same code scales across workers
and engine instances. ``a.merge(b)`` equals one pass over both batches.

* :class:`NumericStats`: count, missing, sum, pow2sum, min, max, mean, variance (Chan et al.'s
  parallel update of the second central moment, numerically stable, not ``pow2sum - n mean^2``),
  exact percentiles (values are kept; a window is small), histogram on fixed bin edges with
  an underflow and an overflow bin.
* :class:`CategoricalStats`: count, missing, frequencies.
* :class:`CovarianceStats`: covariance and correlation over the rows where every numeric
  feature is present (Chan's pairwise co-moment merge).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=1000)
>>> a = NumericStats.zero([-1.0, 0.0, 1.0]).update(x[:400])
>>> b = NumericStats.zero([-1.0, 0.0, 1.0]).update(x[400:])
>>> merged = a.merge(b).result()
>>> bool(np.isclose(merged["stddev_sample"], x.std(ddof=1)))
True
>>> merged["histogram"] == [int((x < -1).sum()), *np.histogram(x, [-1, 0, 1])[0].tolist(), int((x > 1).sum())]
True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: 0 = underflow, 1..len(edges)-1 = ``np.histogram``'s bins, last = overflow."""
    idx = np.searchsorted(edges, values, side="right")
    idx[values == edges[-1]] = len(edges) - 1  # numpy's last bin is closed on the right
    return idx


def histogram_with_overflow(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of ``edges`` plus an underflow (first) and an overflow (last) bin."""
    return np.bincount(bin_index(values, edges), minlength=len(edges) + 1)


def chan_merge(n_a: int, mean_a: Any, m2_a: Any, n_b: int, mean_b: Any, m2_b: Any) -> tuple[int, Any, Any]:
    """Merge (count, mean, M2) of two samples (Chan, Golub & LeVeque 1979).

    ``M2`` is the sum of squared deviations from the mean; works for scalars, or for vectors
    and co-moment matrices when ``m2`` is ``sum (x - mean)(x - mean)^T``.
    """
    n = n_a + n_b
    if n_a == 0:
        return n_b, mean_b, m2_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    delta = np.asarray(mean_b) - np.asarray(mean_a)
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + np.multiply.outer(delta, delta) * (n_a * n_b / n)
    return n, mean, m2


@dataclass
class NumericStats:
    """Mergeable summary of one numeric column in one window."""

    edges: np.ndarray
    count: int = 0
    missing: int = 0
    total: float = 0.0
    pow2sum: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    mean: float = 0.0
    m2: float = 0.0
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    chunks: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def zero(cls, edges: Sequence[float] | np.ndarray) -> NumericStats:
        edges = np.asarray(edges, dtype=np.float64)
        return cls(edges=edges, histogram=np.zeros(len(edges) + 1, dtype=np.int64))

    def update(self, values: np.ndarray) -> NumericStats:
        values = np.asarray(values, dtype=np.float64)
        present = values[~np.isnan(values)]
        self.missing += len(values) - len(present)
        if len(present):
            mean_b = float(present.mean())
            m2_b = float(((present - mean_b) ** 2).sum())
            self.count, self.mean, self.m2 = chan_merge(self.count, self.mean, self.m2, len(present), mean_b, m2_b)
            self.total += float(present.sum())
            self.pow2sum += float(np.dot(present, present))
            self.minimum = min(self.minimum, float(present.min()))
            self.maximum = max(self.maximum, float(present.max()))
            if len(self.edges):
                self.histogram += histogram_with_overflow(present, self.edges)
            self.chunks.append(present)
        return self

    def merge(self, other: NumericStats) -> NumericStats:
        out = NumericStats.zero(self.edges)
        out.count, out.mean, out.m2 = chan_merge(self.count, self.mean, self.m2, other.count, other.mean, other.m2)
        out.missing = self.missing + other.missing
        out.total = self.total + other.total
        out.pow2sum = self.pow2sum + other.pow2sum
        out.minimum = min(self.minimum, other.minimum)
        out.maximum = max(self.maximum, other.maximum)
        out.histogram = self.histogram + other.histogram
        out.chunks = self.chunks + other.chunks
        return out

    __add__ = merge

    @property
    def values(self) -> np.ndarray:
        """Every present value seen (for exact percentiles and raw-value drift tests)."""
        if len(self.chunks) != 1:
            self.chunks = [np.concatenate(self.chunks) if self.chunks else np.zeros(0)]
        return self.chunks[0]

    def result(self, percentiles: Sequence[float] = (25, 50, 75)) -> dict[str, Any]:
        n = self.count
        out: dict[str, Any] = {
            "count": n,
            "missing": self.missing,
            "sum": self.total,
            "pow2sum": self.pow2sum,
            "min": self.minimum if n else None,
            "max": self.maximum if n else None,
            "mean": float(self.mean) if n else None,
            "stddev_sample": float(np.sqrt(self.m2 / (n - 1))) if n > 1 else None,
            "stddev_population": float(np.sqrt(self.m2 / n)) if n else None,
        }
        qs = np.percentile(self.values, list(percentiles)) if n else [None] * len(percentiles)
        for p, q in zip(percentiles, qs):
            out[percentile_name(p)] = None if q is None else float(q)
        if 25 in percentiles and 75 in percentiles and n:
            out["iqr"] = out["p75"] - out["p25"]
        out["bin_edges"] = self.edges.tolist()
        out["histogram"] = self.histogram.tolist()
        return out


def percentile_name(p: float) -> str:
    """``25 -> 'p25'``, ``99.9 -> 'p99_9'``."""
    return "p" + (str(int(p)) if float(p).is_integer() else str(p).replace(".", "_"))


@dataclass
class CategoricalStats:
    """Mergeable summary of one categorical column in one window."""

    count: int = 0
    missing: int = 0
    frequencies: Counter = field(default_factory=Counter)

    @classmethod
    def zero(cls) -> CategoricalStats:
        return cls()

    def update(self, values: np.ndarray | pd.Series) -> CategoricalStats:
        series = pd.Series(values, dtype=object)
        present = series.dropna()
        self.missing += len(series) - len(present)
        self.count += len(present)
        if len(present):
            self.frequencies.update(present.astype(str).value_counts().to_dict())
        return self

    def merge(self, other: CategoricalStats) -> CategoricalStats:
        return CategoricalStats(self.count + other.count, self.missing + other.missing, self.frequencies + other.frequencies)

    __add__ = merge

    def result(self) -> dict[str, Any]:
        return {"count": self.count, "missing": self.missing, "frequencies": dict(sorted(self.frequencies.items()))}


@dataclass
class CovarianceStats:
    """Mergeable covariance/correlation over the complete rows of several numeric columns."""

    names: list[str]
    count: int = 0
    mean: np.ndarray | None = None
    comoment: np.ndarray | None = None

    @classmethod
    def zero(cls, names: Sequence[str]) -> CovarianceStats:
        d = len(names)
        return cls(list(names), 0, np.zeros(d), np.zeros((d, d)))

    def update(self, matrix: np.ndarray) -> CovarianceStats:
        matrix = np.asarray(matrix, dtype=np.float64)
        complete = matrix[~np.isnan(matrix).any(axis=1)]
        if len(complete):
            mean_b = complete.mean(axis=0)
            centred = complete - mean_b
            self.count, self.mean, self.comoment = chan_merge(
                self.count, self.mean, self.comoment, len(complete), mean_b, centred.T @ centred
            )
        return self

    def merge(self, other: CovarianceStats) -> CovarianceStats:
        n, mean, comoment = chan_merge(self.count, self.mean, self.comoment, other.count, other.mean, other.comoment)
        return CovarianceStats(self.names, n, mean, comoment)

    __add__ = merge

    def covariance(self) -> np.ndarray:
        """Sample covariance (ddof=1), like ``np.cov(rows, rowvar=False)``."""
        if self.count < 2:
            return np.full_like(self.comoment, np.nan)
        return self.comoment / (self.count - 1)

    def correlation(self) -> np.ndarray:
        cov = self.covariance()
        std = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            return cov / np.outer(std, std)
