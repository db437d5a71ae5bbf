"""Windowed statistics against numpy/pandas, and the monoid law: merged partials equal one pass.

Tolerances: float sums and moments rtol=1e-9 (order of summation differs); counts,
histograms, min/max and percentiles exact (same values, same numpy routine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftstream.detectors.stats import CategoricalStats, CovarianceStats, NumericStats, bin_index
from driftstream.detectors.summary import WindowSummary, merge_all

EDGES = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def test_numeric_stats_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=5001)
    x[::97] = np.nan
    present = x[~np.isnan(x)]
    r = NumericStats.zero(EDGES).update(x).result([5, 25, 50, 75, 99.5])
    assert r["count"] == len(present) and r["missing"] == int(np.isnan(x).sum())
    np.testing.assert_allclose(
        [r["sum"], r["pow2sum"], r["mean"], r["stddev_sample"], r["stddev_population"]],
        [present.sum(), (present**2).sum(), present.mean(), present.std(ddof=1), present.std(ddof=0)],
        rtol=1e-9,
    )
    assert (r["min"], r["max"]) == (present.min(), present.max())
    assert [r["p5"], r["p25"], r["p50"], r["p75"], r["p99_5"]] == np.percentile(present, [5, 25, 50, 75, 99.5]).tolist()
    assert r["iqr"] == r["p75"] - r["p25"]
    inner = np.histogram(present, EDGES)[0].tolist()
    assert r["histogram"] == [int((present < EDGES[0]).sum()), *inner, int((present > EDGES[-1]).sum())]


def test_bin_index_puts_the_last_edge_in_the_last_bin_like_numpy():
    assert bin_index(np.array([-3.0, -2.0, 2.0, 2.5]), EDGES).tolist() == [0, 1, 4, 5]


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(0, 200), elements=finite), st.integers(0, 200))
def test_merged_partials_equal_one_pass(values, cut):
    cut = min(cut, len(values))
    one = NumericStats.zero(EDGES).update(values).result()
    merged = (NumericStats.zero(EDGES).update(values[:cut]) + NumericStats.zero(EDGES).update(values[cut:])).result()
    for key in ("count", "missing", "min", "max", "histogram", "p25", "p50", "p75"):
        assert merged[key] == one[key]
    for key in ("sum", "pow2sum", "mean", "stddev_sample", "stddev_population"):
        if one[key] is None:
            assert merged[key] is None
        else:
            np.testing.assert_allclose(merged[key], one[key], rtol=1e-9, atol=1e-6)


def test_variance_is_stable_for_large_offsets():
    x = 1e9 + np.arange(10, dtype=np.float64)
    parts = [NumericStats.zero(EDGES).update(x[i : i + 3]) for i in range(0, 10, 3)]
    r = merge_all(parts).result()
    np.testing.assert_allclose(r["stddev_sample"], x.std(ddof=1), rtol=1e-12)


def test_categorical_stats_match_pandas_value_counts():
    values = np.array(["a", "b", None, "a", "c", "a", None], dtype=object)
    merged = CategoricalStats.zero().update(values[:3]) + CategoricalStats.zero().update(values[3:])
    r = merged.result()
    assert r["frequencies"] == pd.Series(values).value_counts().to_dict()
    assert (r["count"], r["missing"]) == (5, 2)


def test_covariance_and_correlation_match_numpy_on_complete_rows():
    rng = np.random.default_rng(2)
    X = rng.multivariate_normal([0, 1, 2], [[1, 0.5, 0.2], [0.5, 2, 0.3], [0.2, 0.3, 1]], size=3000)
    X[::50, 1] = np.nan
    complete = X[~np.isnan(X).any(axis=1)]
    parts = [CovarianceStats.zero(["a", "b", "c"]).update(X[i : i + 700]) for i in range(0, 3000, 700)]
    merged = merge_all(parts)
    np.testing.assert_allclose(merged.covariance(), np.cov(complete, rowvar=False), rtol=1e-9)
    np.testing.assert_allclose(merged.correlation(), np.corrcoef(complete, rowvar=False), rtol=1e-9)


def test_window_summary_records_cover_every_column_and_the_correlation():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0], "y": [2.0, 1.0, 0.0, 1.0], "c": ["u", "v", "u", "u"]})
    s = WindowSummary.zero({"x": "numeric", "y": "numeric", "c": "categorical"}, {"x": [0, 2, 4], "y": [0, 1, 2]})
    rows = {r["feature"]: r for r in s.update(frame).results()}
    assert rows["x"]["mean"] == frame["x"].mean() and rows["c"]["frequencies"] == {"u": 3, "v": 1}
    np.testing.assert_allclose(rows["*"]["correlation"], frame[["x", "y"]].corr().to_numpy(), rtol=1e-12)
