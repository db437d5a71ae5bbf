"""The training baseline: a profile of the data a model was trained on.

Per numeric column: descriptive statistics, quantile bin edges and the histogram on them,
and a sorted sample; per categorical column: category frequencies; across numeric columns:
mean and covariance. The detectors are fitted from it (bin edges, sorted samples and
fitted models are computed once here or at fit time, never per window).

Stored as a folder: ``profile.json`` (the statistics, human readable) and ``sample.parquet``
(the sample rows). Nothing is pickled: fitted models are rebuilt from the sample on load.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> data = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000)})
>>> base = Baseline.fit(data, {"x": "numeric", "c": "categorical"}, n_bins=4)
>>> len(base.edges["x"]), round(sum(base.histograms["x"]), 6)
(5, 1.0)
>>> sorted(base.profile["c"]["frequencies"])
['a', 'b']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .stats import histogram_with_overflow

FORMAT_VERSION = 1


class BaselineError(ValueError):
    """A baseline that is missing, unreadable or does not match the monitor's schema."""


@dataclass
class Baseline:
    """A fitted profile of training data.

    Attributes
    ----------
    columns
        Column name -> "numeric" | "categorical".
    profile
        Column name -> descriptive statistics (numeric) or frequencies (categorical).
    edges
        Numeric column -> quantile bin edges (unique, increasing).
    histograms
        Numeric column -> proportions on ``edges`` with an underflow and an overflow bin
        (both 0 on the baseline itself).
    sample
        Up to ``sample_size`` rows of the training data (seeded draw).
    """

    columns: dict[str, str]
    profile: dict[str, dict[str, Any]]
    edges: dict[str, list[float]]
    histograms: dict[str, list[float]]
    sample: pd.DataFrame
    covariance: dict[str, Any] = field(default_factory=dict)

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        data: pd.DataFrame,
        columns: dict[str, str],
        n_bins: int = 10,
        sample_size: int = 50_000,
        seed: int = 0,
    ) -> Baseline:
        """Profile ``data`` for the monitored ``columns``."""
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise BaselineError(f"The baseline data lacks the monitored columns {missing}; it has {list(data.columns)}.")
        if n_bins < 1:
            raise BaselineError(f"The 'n_bins' parameter of Baseline.fit must be an int >= 1. Got {n_bins!r}.")
        profile: dict[str, dict[str, Any]] = {}
        edges: dict[str, list[float]] = {}
        histograms: dict[str, list[float]] = {}
        for name, kind in columns.items():
            if kind == "numeric":
                values = pd.to_numeric(data[name], errors="coerce").to_numpy(np.float64)
                present = values[np.isfinite(values)]
                if not len(present):
                    raise BaselineError(f"The baseline column '{name}' has no finite numeric values.")
                profile[name] = _numeric_profile(present, len(values))
                edges[name] = quantile_edges(present, n_bins)
                counts = histogram_with_overflow(present, np.asarray(edges[name]))
                histograms[name] = (counts / counts.sum()).tolist()
            else:
                series = data[name].dropna().astype(str)
                freq = series.value_counts()
                profile[name] = {
                    "type": "categorical",
                    "count": int(len(series)),
                    "missing": int(data[name].isna().sum()),
                    "frequencies": {str(k): int(v) for k, v in freq.items()},
                }
        sample = data[list(columns)]
        if len(sample) > sample_size:
            sample = sample.sample(n=sample_size, random_state=seed)
        sample = sample.reset_index(drop=True)
        for name, kind in columns.items():
            sample[name] = pd.to_numeric(sample[name], errors="coerce") if kind == "numeric" else sample[name].astype(object)
        numeric = [n for n, k in columns.items() if k == "numeric"]
        covariance: dict[str, Any] = {}
        if len(numeric) > 1:
            rows = data[numeric].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(np.float64)
            covariance = {"features": numeric, "mean": rows.mean(axis=0).tolist(), "covariance": np.cov(rows, rowvar=False).tolist()}
        return cls(dict(columns), profile, edges, histograms, sample, covariance)

    # -- views --------------------------------------------------------------------------------
    def values(self, name: str) -> np.ndarray:
        """The sample's present values of one column (float64 for numeric, str objects else)."""
        col = self.sample[name].dropna()
        return col.to_numpy(np.float64) if self.columns[name] == "numeric" else col.astype(str).to_numpy(object)

    def matrix(self, names: list[str]) -> np.ndarray:
        """Complete sample rows of several numeric columns as a float64 matrix."""
        return self.sample[names].dropna().to_numpy(np.float64)

    def check_schema(self, columns: dict[str, str]) -> None:
        """Fail clearly when the monitor's schema asks for what this baseline lacks."""
        problems = []
        for name, kind in columns.items():
            if name not in self.columns:
                problems.append(f"column '{name}' is not in the baseline")
            elif self.columns[name] != kind:
                problems.append(f"column '{name}' is {kind} in the spec but {self.columns[name]} in the baseline")
        if problems:
            raise BaselineError(
                "The baseline does not match the monitor's schema: " + "; ".join(problems)
                + ". Rebuild it with `driftstream baseline DATA --spec SPEC -o BASELINE`."
            )

    # -- storage ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        doc = {
            "format_version": FORMAT_VERSION,
            "columns": self.columns,
            "profile": self.profile,
            "edges": self.edges,
            "histograms": self.histograms,
            "covariance": self.covariance,
        }
        (path / "profile.json").write_text(json.dumps(doc, indent=2))
        self.sample.to_parquet(path / "sample.parquet", index=False)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        path = Path(path)
        if not (path / "profile.json").exists() or not (path / "sample.parquet").exists():
            raise BaselineError(
                f"No baseline at {path} (expected profile.json and sample.parquet). "
                "Build one with `driftstream baseline DATA --spec SPEC -o BASELINE`."
            )
        doc = json.loads((path / "profile.json").read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise BaselineError(f"Baseline {path} has format_version {doc.get('format_version')!r}; expected {FORMAT_VERSION}.")
        sample = pd.read_parquet(path / "sample.parquet")
        for name, kind in doc["columns"].items():
            if kind == "categorical":
                sample[name] = sample[name].astype(object).where(sample[name].notna(), None)
        return cls(doc["columns"], doc["profile"], doc["edges"], doc["histograms"], sample, doc.get("covariance", {}))


def quantile_edges(values: np.ndarray, n_bins: int) -> list[float]:
    """``n_bins`` equal-frequency bins (fewer where quantiles tie); min and max are the outer edges."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges.tolist()


def _numeric_profile(present: np.ndarray, total: int) -> dict[str, Any]:
    q1, median, q3 = np.percentile(present, [25, 50, 75])
    return {
        "type": "numeric",
        "count": int(len(present)),
        "missing": int(total - len(present)),
        "mean": float(present.mean()),
        "stddev": float(present.std(ddof=1)) if len(present) > 1 else 0.0,
        "min": float(present.min()),
        "max": float(present.max()),
        "p25": float(q1),
        "p50": float(median),
        "p75": float(q3),
    }
