"""The baseline profile: statistics against numpy, storage round trip, schema checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftstream.detectors.baseline import Baseline, BaselineError


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"x": rng.gamma(2.0, size=2000), "y": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)})


COLUMNS = {"x": "numeric", "y": "numeric", "c": "categorical"}


def test_profile_matches_numpy_and_edges_are_quantiles(data):
    base = Baseline.fit(data, COLUMNS, n_bins=5, sample_size=500)
    x = data["x"].to_numpy()
    p = base.profile["x"]
    np.testing.assert_allclose([p["mean"], p["stddev"], p["min"], p["max"]], [x.mean(), x.std(ddof=1), x.min(), x.max()])
    np.testing.assert_allclose(base.edges["x"], np.quantile(x, np.linspace(0, 1, 6)))
    hist = np.asarray(base.histograms["x"])
    assert hist[0] == 0 and hist[-1] == 0 and np.isclose(hist.sum(), 1.0)
    np.testing.assert_allclose(hist[1:-1], np.histogram(x, base.edges["x"])[0] / len(x))
    assert base.profile["c"]["frequencies"] == data["c"].value_counts().to_dict()
    np.testing.assert_allclose(base.covariance["covariance"], np.cov(data[["x", "y"]].to_numpy(), rowvar=False))
    assert len(base.sample) == 500


def test_save_and_load_round_trip_without_pickle(data, tmp_path):
    base = Baseline.fit(data, COLUMNS)
    base.save(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["profile.json", "sample.parquet"]
    loaded = Baseline.load(tmp_path / "b")
    assert loaded.edges == base.edges and loaded.profile == base.profile
    pd.testing.assert_frame_equal(loaded.sample, base.sample)


def test_schema_mismatch_is_explained(data):
    base = Baseline.fit(data, COLUMNS)
    with pytest.raises(BaselineError, match="column 'z' is not in the baseline.*'c' is numeric in the spec"):
        base.check_schema({"z": "numeric", "c": "numeric"})


def test_missing_baseline_says_how_to_build_one(tmp_path):
    with pytest.raises(BaselineError, match="driftstream baseline"):
        Baseline.load(tmp_path / "nothing")
