"""What runs on the Dask workers: per-batch outlier scoring and summaries, per-window results.

An :class:`Analysis` is built once from the spec and the baseline (detectors fitted there),
scattered to the workers, and then called with micro-batch frames:

* :meth:`Analysis.score_outliers` — per request, as soon as a batch arrives (latency path);
* :meth:`Analysis.summarise` — one :class:`WindowSummary` per window the batch touches;
* :meth:`Analysis.close_window` — merges a window's summaries, then stats records, drift
  tests against the baseline, multiple-testing correction.

Everything here is a pure function of its inputs, so it can run anywhere and be retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftstream.detectors.baseline import Baseline
from driftstream.detectors.summary import WindowSummary, merge_all

from .spec import MonitorSpec

logger = logging.getLogger(__name__)


@dataclass
class FittedOutlier:
    name: str
    features: list[str]
    detector: Any
    per_feature: bool


@dataclass
class FittedDrift:
    name: str
    feature: str  # a column, or "a,b,c" for a multivariate detector
    detector: Any
    columns: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """The fitted, serialisable analysis plan of one monitor."""

    model: str
    columns: dict[str, str]
    edges: dict[str, list[float]]
    percentiles: list[float]
    correlation: bool
    outliers: list[FittedOutlier]
    drifts: list[FittedDrift]
    correction: str
    alpha: float
    emit_all_scores: bool

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, spec: MonitorSpec, baseline: Baseline) -> Analysis:
        columns = spec.schema_.columns
        baseline.check_schema(columns)
        return cls(
            model=spec.model,
            columns=columns,
            edges={n: baseline.edges[n] for n, k in columns.items() if k == "numeric"},
            percentiles=list(spec.stats.percentiles),
            correlation=spec.stats.correlation,
            outliers=_fit_outliers(spec, baseline) if spec.outliers.enabled else [],
            drifts=_fit_drifts(spec, baseline) if spec.drift.enabled else [],
            correction=spec.drift.correction,
            alpha=spec.drift.alpha,
            emit_all_scores=spec.outliers.emit_all,
        )

    # -- per micro-batch -------------------------------------------------------------------------
    def summarise(self, frame: pd.DataFrame, windows: dict[int, np.ndarray]) -> dict[int, WindowSummary]:
        """Partial aggregates of each window this batch touches."""
        out = {}
        for start, positions in windows.items():
            out[start] = WindowSummary.zero(self.columns, self.edges, self.correlation).update(frame.iloc[positions])
        return out

    def score_outliers(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Outlier records for a batch: flagged (request, feature(s), detector) triples."""
        records: list[dict[str, Any]] = []
        if not len(frame):
            return records
        ids = frame["request_id"].to_numpy(object)
        ts = frame["ts"].to_numpy(np.int64)
        matrices: dict[tuple[str, ...], np.ndarray] = {}  # detectors on the same features share one
        for fitted in self.outliers:
            X = matrices.get(tuple(fitted.features))
            if X is None:
                numeric = all(self.columns[f] == "numeric" for f in fitted.features)
                X = matrices[tuple(fitted.features)] = frame[fitted.features].to_numpy(np.float64 if numeric else object)
            scores = np.asarray(fitted.detector.outlier_score(X), dtype=np.float64)
            threshold = np.broadcast_to(np.asarray(fitted.detector.threshold_, dtype=np.float64), scores.shape[1:] or ())
            if fitted.per_feature:
                self._per_feature_records(records, fitted, X, scores, threshold, ids, ts)
            else:
                self._row_records(records, fitted, scores, float(threshold), ids, ts)
        return records

    def _per_feature_records(self, records, fitted, X, scores, threshold, ids, ts) -> None:
        flagged = scores > threshold
        rows, cols = np.nonzero(flagged | self.emit_all_scores & ~np.isnan(scores))
        for r, c in zip(rows.tolist(), cols.tolist()):
            value = X[r, c]
            records.append(
                {
                    "request_id": ids[r],
                    "ts": int(ts[r]),
                    "feature": fitted.features[c],
                    "detector": fitted.name,
                    "value": float(value) if isinstance(value, (float, np.floating)) else value,
                    "score": float(scores[r, c]),
                    "threshold": float(threshold[c]),
                    "is_outlier": bool(flagged[r, c]),
                }
            )

    def _row_records(self, records, fitted, scores, threshold, ids, ts) -> None:
        flagged = scores > threshold
        rows = np.flatnonzero(flagged | self.emit_all_scores & ~np.isnan(scores))
        feature = ",".join(fitted.features)
        for r in rows.tolist():
            records.append(
                {
                    "request_id": ids[r],
                    "ts": int(ts[r]),
                    "feature": feature,
                    "detector": fitted.name,
                    "value": None,
                    "score": float(scores[r]),
                    "threshold": threshold,
                    "is_outlier": bool(flagged[r]),
                }
            )

    # -- per window --------------------------------------------------------------------------------
    def merge_parts(self, start: int, *batch_summaries: dict[int, WindowSummary]) -> dict[int, WindowSummary]:
        """Several batches' partials of one window as one partial (merged while the window is open)."""
        parts = [s[start] for s in batch_summaries if start in s]
        return {start: merge_all(parts)} if parts else {}

    def close_window(self, start: int, end: int, *batch_summaries: dict[int, WindowSummary]) -> dict[str, list[dict[str, Any]]]:
        """Merge a window's partials; its stats and drift records (without keys/emitted_at)."""
        summary = self.merge_parts(start, *batch_summaries).get(start) or WindowSummary.zero(self.columns, self.edges, self.correlation)
        bounds = {"window_start": int(start), "window_end": int(end)}
        stats = [{**bounds, **body} for body in summary.results(self.percentiles)]
        drift = [{**bounds, **body} for body in self.drift_tests(summary)]
        return {"stats": stats, "drift": drift}

    def drift_tests(self, summary: WindowSummary) -> list[dict[str, Any]]:
        results = []
        for fitted in self.drifts:
            current = self._current(summary, fitted)
            if current is None or len(current) < 2:
                continue
            r = fitted.detector.test(current)
            results.append(
                {
                    "feature": fitted.feature,
                    "detector": fitted.name,
                    "statistic": _finite_or_none(r.statistic),
                    "p_value": _finite_or_none(r.p_value),
                    "threshold": float(r.threshold),
                    "effect_size": _finite_or_none(r.effect_size),
                    "drift": bool(r.drift),
                    "n": int(len(current)),
                }
            )
        self._correct(results)
        return results

    def _current(self, summary: WindowSummary, fitted: FittedDrift) -> np.ndarray | None:
        if fitted.columns:  # multivariate
            rows = [summary.numeric[c].values for c in fitted.columns]
            if len({len(r) for r in rows}) != 1:
                return None  # missing values differ per column: no complete-row matrix
            return np.column_stack(rows)
        if fitted.feature in summary.numeric:
            return summary.numeric[fitted.feature].values
        stats = summary.categorical[fitted.feature]
        freq = stats.frequencies
        return np.repeat(np.array(list(freq.keys()), dtype=object), list(freq.values())) if freq else None

    def _correct(self, results: list[dict[str, Any]]) -> None:
        from driftstream.detectors.multiple_testing import adjust

        tested = [r for r in results if r["p_value"] is not None]
        if tested:
            adjusted = adjust(np.array([r["p_value"] for r in tested]), self.correction)
            for r, p in zip(tested, adjusted):
                r["p_value_adjusted"] = float(p)
                r["drift"] = bool(p < self.alpha)
        for r in results:
            r.setdefault("p_value_adjusted", None)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _detector_params(entry: Any) -> dict[str, Any]:
    return {k: v for k, v in entry.model_dump().items() if k not in ("name", "features")}


def _fit_outliers(spec: MonitorSpec, baseline: Baseline) -> list[FittedOutlier]:
    from driftstream.detectors.registry import make_outlier

    schema = spec.schema_
    out = []
    for entry in spec.outliers.detectors:
        detector = make_outlier(entry.name, **_detector_params(entry))
        kind = "categorical" if entry.name == "unseen_category" else "numeric"
        default = schema.categorical_features if kind == "categorical" else schema.numeric_features
        features = entry.features or [f for f in default if f != "prediction"] or default
        if not features:
            continue
        X = baseline.sample[features].dropna()
        X = X.to_numpy(np.float64) if kind == "numeric" else X.astype(str).to_numpy(object)
        detector.fit(X)
        out.append(FittedOutlier(entry.name, features, detector, bool(getattr(detector, "per_feature", True))))
    return out


def _fit_drifts(spec: MonitorSpec, baseline: Baseline) -> list[FittedDrift]:
    from driftstream.detectors.drift._base import MultivariateDriftDetector
    from driftstream.detectors.registry import make_drift

    columns = spec.schema_.columns
    out = []
    for entry in spec.drift.detectors:
        params = _detector_params(entry)
        probe = make_drift(entry.name, **params)
        if isinstance(probe, MultivariateDriftDetector):
            names = entry.features or [f for f in spec.schema_.numeric_features if f != "prediction"]
            probe.fit(baseline.matrix(names))
            out.append(FittedDrift(entry.name, ",".join(names), probe, names))
            continue
        kinds = getattr(probe, "kinds", ("numeric",))
        for feature in entry.features or list(columns):
            if columns[feature] not in kinds:
                continue
            detector = make_drift(entry.name, **params).fit(baseline.values(feature))
            out.append(FittedDrift(entry.name, feature, detector))
    return out
