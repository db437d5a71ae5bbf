"""A window's summary: the statistics of every monitored column, as one monoid.

:class:`WindowSummary` bundles a :class:`~driftstream.detectors.stats.NumericStats` per numeric
column, a :class:`~driftstream.detectors.stats.CategoricalStats` per categorical column and a
:class:`~driftstream.detectors.stats.CovarianceStats` across the numeric ones. The engine
builds one per (micro-batch, window) on a worker and merges them when the window closes.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None]})
>>> s = WindowSummary.zero({"x": "numeric", "c": "categorical"}, {"x": [0.0, 2.0, 4.0]})
>>> s = s.update(frame.iloc[:2]).merge(WindowSummary.zero(s.columns, s.edges).update(frame.iloc[2:]))
>>> rows = {r["feature"]: r for r in s.results()}
>>> rows["x"]["count"], rows["x"]["missing"], round(rows["x"]["mean"], 6), rows["x"]["histogram"]
(3, 1, 2.333333, [0, 1, 2, 0])
>>> rows["c"]["frequencies"]
{'a': 2, 'b': 1}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .stats import CategoricalStats, CovarianceStats, NumericStats


@dataclass
class WindowSummary:
    columns: dict[str, str]
    edges: dict[str, Any]
    numeric: dict[str, NumericStats]
    categorical: dict[str, CategoricalStats]
    covariance: CovarianceStats | None

    @classmethod
    def zero(cls, columns: dict[str, str], edges: dict[str, Any], correlation: bool = True) -> WindowSummary:
        numeric_names = [n for n, k in columns.items() if k == "numeric"]
        return cls(
            columns=dict(columns),
            edges=dict(edges),
            numeric={n: NumericStats.zero(edges.get(n, [])) for n in numeric_names},
            categorical={n: CategoricalStats.zero() for n, k in columns.items() if k == "categorical"},
            covariance=CovarianceStats.zero(numeric_names) if correlation and len(numeric_names) > 1 else None,
        )

    @property
    def count(self) -> int:
        """Rows summarised (present or missing)."""
        first = next(iter(self.numeric.values()), None) or next(iter(self.categorical.values()))
        return first.count + first.missing

    def update(self, frame: pd.DataFrame) -> WindowSummary:
        for name, stats in self.numeric.items():
            stats.update(frame[name].to_numpy(np.float64))
        for name, stats in self.categorical.items():
            stats.update(frame[name].to_numpy(object))
        if self.covariance is not None:
            self.covariance.update(frame[self.covariance.names].to_numpy(np.float64))
        return self

    def merge(self, other: WindowSummary) -> WindowSummary:
        return WindowSummary(
            columns=self.columns,
            edges=self.edges,
            numeric={n: s.merge(other.numeric[n]) for n, s in self.numeric.items()},
            categorical={n: s.merge(other.categorical[n]) for n, s in self.categorical.items()},
            covariance=self.covariance.merge(other.covariance) if self.covariance is not None else None,
        )

    __add__ = merge

    def results(self, percentiles: Sequence[float] = (25, 50, 75)) -> list[dict[str, Any]]:
        """One stats record body per column, plus one for covariance/correlation."""
        out = []
        for name in self.columns:
            if name in self.numeric:
                out.append({"feature": name, "type": "numeric", **self.numeric[name].result(percentiles)})
            else:
                out.append({"feature": name, "type": "categorical", **self.categorical[name].result()})
        if self.covariance is not None and self.covariance.count:
            out.append(
                {
                    "feature": "*",
                    "type": "covariance",
                    "count": self.covariance.count,
                    "features": self.covariance.names,
                    "covariance": _nan_to_none(self.covariance.covariance()),
                    "correlation": _nan_to_none(self.covariance.correlation()),
                }
            )
        return out


def merge_all(summaries: Sequence[WindowSummary]) -> WindowSummary:
    """Merge a non-empty sequence of summaries pairwise (a balanced tree, like a Dask reduction)."""
    items = list(summaries)
    if not items:
        raise ValueError("merge_all needs at least one WindowSummary; got none")
    while len(items) > 1:
        items = [items[i].merge(items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def _nan_to_none(matrix: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in matrix]
