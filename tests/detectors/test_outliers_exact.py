"""Outlier scores against numpy / scipy / scikit-learn on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from driftstream.detectors.outliers import (
    EllipticEnvelopeOutlier,
    IQROutlier,
    IsolationForestOutlier,
    LOFOutlier,
    MahalanobisOutlier,
    RangeOutlier,
    StdDevOutlier,
    UnseenCategoryOutlier,
    ZScoreOutlier,
)

rng = np.random.default_rng(0)
BASE = rng.normal(size=(3_000, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0.3, 0], [0, 0, 1, 0], [0, 0, 0, 2.0]])
BATCH = rng.normal(0, 2, size=(500, 4))


def test_range_flags_exactly_values_outside_min_max():
    det = RangeOutlier().fit(BASE)
    lo, hi = BASE.min(0), BASE.max(0)
    np.testing.assert_array_equal(det.predict(BATCH) == -1, (BATCH < lo) | (BATCH > hi))


@pytest.mark.parametrize("ddof", [0, 1])
def test_stddev_flags_exactly_values_outside_mean_k_std(ddof):
    det = StdDevOutlier(k=3.0, ddof=ddof).fit(BASE)
    mu, sd = BASE.mean(0), BASE.std(0, ddof=ddof)
    np.testing.assert_array_equal(det.predict(BATCH) == -1, np.abs(BATCH - mu) > 3 * sd)


def test_zscore_equals_scipy_zscore_scale():
    """rtol 1e-12 against (x - mean) / std(ddof=1) as scipy.stats.zscore computes it."""
    det = ZScoreOutlier().fit(BASE)
    z = np.abs((BATCH - BASE.mean(0)) / BASE.std(0, ddof=1))
    np.testing.assert_allclose(det.outlier_score(BATCH), z, rtol=1e-12)
    np.testing.assert_allclose(np.abs(stats.zscore(BASE, ddof=1)), det.outlier_score(BASE), rtol=1e-10)


def test_zscore_robust_uses_median_and_mad():
    det = ZScoreOutlier(robust=True).fit(BASE)
    mad = stats.median_abs_deviation(BASE, axis=0, scale="normal")
    np.testing.assert_allclose(det.scale_, mad, rtol=1e-9)
    np.testing.assert_allclose(det.center_, np.median(BASE, 0))


def test_iqr_fences_equal_numpy_percentiles():
    det = IQROutlier(k=1.5).fit(BASE)
    q1, q3 = np.percentile(BASE, [25, 75], axis=0)
    out = (BATCH < q1 - 1.5 * (q3 - q1)) | (BATCH > q3 + 1.5 * (q3 - q1))
    np.testing.assert_array_equal(det.predict(BATCH) == -1, out)


def test_mahalanobis_equals_scipy_with_inverse_covariance():
    """rtol 1e-9 against scipy.spatial.distance.mahalanobis(u, mean, inv(cov))**2."""
    det = MahalanobisOutlier().fit(BASE)
    vi = np.linalg.inv(np.cov(BASE, rowvar=False))
    mu = BASE.mean(0)
    expected = np.array([mahalanobis(x, mu, vi) ** 2 for x in BATCH])
    np.testing.assert_allclose(det.outlier_score(BATCH), expected, rtol=1e-9)
    np.testing.assert_allclose(det.precision_, vi, rtol=1e-9, atol=1e-12)
    assert det.threshold_ == pytest.approx(stats.chi2.ppf(0.999, 4))


def test_mahalanobis_handles_singular_covariance_with_pinv():
    x = np.column_stack([BASE[:, 0], BASE[:, 0] * 2.0, BASE[:, 1]])
    det = MahalanobisOutlier().fit(x)
    assert det.rank_ == 2
    d = x[:5] - x.mean(0)
    expected = np.einsum("ij,jk,ik->i", d, np.linalg.pinv(np.cov(x, rowvar=False)), d)
    np.testing.assert_allclose(det.outlier_score(x[:5]), expected, rtol=1e-6)


def test_mahalanobis_empirical_threshold_is_baseline_quantile():
    det = MahalanobisOutlier(alpha=0.01, method="empirical").fit(BASE)
    assert det.threshold_ == pytest.approx(np.quantile(det.outlier_score(BASE), 0.99))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (IsolationForestOutlier(max_fit_samples=100_000), IsolationForest(random_state=0)),
        (EllipticEnvelopeOutlier(max_fit_samples=100_000), EllipticEnvelope(contamination=0.01, random_state=0)),
        (LOFOutlier(max_fit_samples=100_000), LocalOutlierFactor(novelty=True)),
    ],
    ids=["isolation_forest", "elliptic_envelope", "lof"],
)
def test_sklearn_wrappers_equal_the_models_fitted_on_the_same_rows(ours, theirs):
    """Exact equality: same rows, same seed, same model."""
    ours.fit(BASE)
    theirs.fit(BASE)
    np.testing.assert_array_equal(ours.score_samples(BATCH), theirs.score_samples(BATCH))
    np.testing.assert_array_equal(ours.predict(BATCH), theirs.predict(BATCH))
    assert ours.offset_ == theirs.offset_


def test_sklearn_wrappers_fit_on_a_seeded_subsample():
    a = IsolationForestOutlier(max_fit_samples=500).fit(BASE)
    b = IsolationForestOutlier(max_fit_samples=500).fit(BASE)
    assert a.n_fit_samples_ == 500
    np.testing.assert_array_equal(a.score_samples(BATCH), b.score_samples(BATCH))


def test_multivariate_detectors_give_nan_for_incomplete_rows():
    det = MahalanobisOutlier().fit(BASE)
    batch = BATCH[:3].copy()
    batch[1, 2] = np.nan
    s = det.outlier_score(batch)
    assert np.isnan(s[1]) and np.isfinite(s[[0, 2]]).all()
    assert det.predict(batch)[1] == 1


def test_unseen_category_flags_only_new_values():
    base = np.array([["a", "x"], ["b", "y"], [None, "x"]], dtype=object)
    det = UnseenCategoryOutlier().fit(base)
    batch = np.array([["a", "y"], ["c", "x"], [None, np.nan], ["b", "w"]], dtype=object)
    np.testing.assert_array_equal(det.outlier_score(batch), [[0, 0], [1, 0], [0, 0], [0, 1]])
