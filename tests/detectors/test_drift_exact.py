"""Every drift statistic against scipy / numpy on the same data (tolerances stated)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftstream.detectors.drift import (
    Chi2Drift,
    CVMDrift,
    HellingerDrift,
    JSDrift,
    KLDrift,
    KSDrift,
    MMDDrift,
    PSIDrift,
    WassersteinDrift,
    WassersteinHistDrift,
    bin_counts,
    quantile_edges,
)
from driftstream.detectors.drift._binning import smooth

SIZES = [(50_000, 5_000), (5_000, 3_000), (200, 300), (10, 15), (8, 7), (3_000, 3_000)]


def _pair(n1, n2, discrete, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n1), rng.normal(0.05, 1.1, size=n2)
    if discrete:  # many ties
        a, b = np.round(a * 2), np.round(b * 2)
    return a, b


# -- exact two-sample tests ----------------------------------------------------------------
@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_ks_equals_scipy_ks_2samp(n1, n2, discrete):
    """Statistic bit-identical; p-value to rtol 1e-12 (same formulas, exact and asymp)."""
    a, b = _pair(n1, n2, discrete)
    ours, ref = KSDrift().fit(a).test(b), stats.ks_2samp(a, b)
    assert ours.statistic == ref.statistic
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=0)
    assert ours.effect_size == ours.statistic


@pytest.mark.parametrize("method", ["exact", "asymp"])
def test_ks_method_matches_scipy_method(method):
    a, b = _pair(400, 300, False)
    ours, ref = KSDrift(method=method).fit(a).test(b), stats.ks_2samp(a, b, method=method)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=0)


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_cvm_equals_scipy_cramervonmises_2samp(n1, n2, discrete):
    """Statistic and p-value to rtol 1e-12 (asymptotic); exact branch delegates to scipy."""
    a, b = _pair(n1, n2, discrete)
    ours, ref = CVMDrift().fit(a).test(b), stats.cramervonmises_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12, abs=1e-15)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_wasserstein_equals_scipy(n1, n2, discrete):
    """rtol 1e-10: same integral, summed in a different order."""
    a, b = _pair(n1, n2, discrete)
    r = WassersteinDrift().fit(a).test(b)
    assert r.statistic == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
    assert r.effect_size == pytest.approx(r.statistic / np.std(a), rel=1e-12)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 60), elements=finite),
    arrays(np.float64, st.integers(2, 60), elements=finite),
)
def test_ks_cvm_wasserstein_match_scipy_on_any_sample(a, b):
    """Property: any finite samples (ties, duplicates, huge ranges). Tolerances as above."""
    ks = KSDrift().fit(a).test(b)
    ref = stats.ks_2samp(a, b)
    assert ks.statistic == ref.statistic
    assert ks.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)
    cvm, ref = CVMDrift().fit(a).test(b), stats.cramervonmises_2samp(a, b)
    assert cvm.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert cvm.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    w = WassersteinDrift().fit(a).test(b).statistic
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-9)


# -- histogram distances ---------------------------------------------------------------------
def _probas(det, a, b):
    counts = bin_counts(b, det.bin_edges_)
    return det.reference_counts_ / a.size, counts / b.size


def test_bin_counts_match_numpy_histogram_inside_and_count_outside():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=10_000), rng.normal(0.3, 1.5, size=2_000)
    edges = quantile_edges(a, 10)
    np.testing.assert_array_equal(edges, np.quantile(a, np.linspace(0, 1, 11)))
    counts = bin_counts(b, edges)
    np.testing.assert_array_equal(counts[1:-1], np.histogram(b, edges)[0])
    assert counts[0] == (b < edges[0]).sum() and counts[-1] == (b > edges[-1]).sum()


def test_kl_equals_scipy_entropy_of_smoothed_histograms():
    """rtol 1e-12; KL(reference || current) in nats."""
    a, b = _pair(20_000, 2_000, False)
    det = KLDrift(eps=1e-4).fit(a)
    p, q = _probas(det, a, b)
    expected = stats.entropy(smooth(p, 1e-4), smooth(q, 1e-4))
    assert det.test(b).statistic == pytest.approx(expected, rel=1e-12)


def test_psi_equals_symmetrised_kl():
    a, b = _pair(20_000, 2_000, False, seed=3)
    det = PSIDrift().fit(a)
    p, q = _probas(det, a, b)
    p, q = smooth(p, 1e-4), smooth(q, 1e-4)
    assert det.test(b).statistic == pytest.approx(stats.entropy(p, q) + stats.entropy(q, p), rel=1e-12)


@pytest.mark.parametrize("base", [2.0, np.e])
def test_js_equals_scipy_jensenshannon(base):
    """rtol 1e-12, unsmoothed histograms, log base as given."""
    a, b = _pair(20_000, 2_000, False, seed=4)
    det = JSDrift(base=base).fit(a)
    p, q = _probas(det, a, b)
    assert det.test(b).statistic == pytest.approx(jensenshannon(p, q, base=base), rel=1e-12)


def test_hellinger_equals_numpy_formula():
    a, b = _pair(20_000, 2_000, False, seed=5)
    det = HellingerDrift().fit(a)
    p, q = _probas(det, a, b)
    expected = np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / np.sqrt(2)
    assert det.test(b).statistic == pytest.approx(expected, rel=1e-10)


def test_wasserstein_hist_equals_scipy_on_slot_positions():
    a, b = _pair(20_000, 2_000, False, seed=6)
    det = WassersteinHistDrift().fit(a)
    p, q = _probas(det, a, b)
    x = det.positions_
    expected = stats.wasserstein_distance(x, x, p, q)
    r = det.test(b)
    assert r.statistic == pytest.approx(expected, rel=1e-10)
    assert r.threshold == pytest.approx(0.2 * np.std(a))


def test_histogram_detectors_accept_categories_with_unseen_slot():
    ref = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    cur = np.array(["a"] * 30 + ["c"] * 70, dtype=object)
    det = JSDrift().fit(ref)
    assert list(det.categories_) == ["a", "b"]
    np.testing.assert_array_equal(det.counts(cur), [30, 0, 70])
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.3, 0.0, 0.7])
    assert det.test(cur).statistic == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)


def test_test_counts_equals_test_on_values():
    a, b = _pair(5_000, 1_000, False, seed=7)
    det = PSIDrift().fit(a)
    assert det.test_counts(bin_counts(b, det.bin_edges_)) == det.test(b)


# -- chi2 -----------------------------------------------------------------------------------
def test_chi2_equals_scipy_chi2_contingency_with_unseen_category():
    """rtol 1e-10 on statistic and p-value; unseen categories pooled in one column."""
    rng = np.random.default_rng(8)
    ref = rng.choice(np.array(list("abcd"), dtype=object), p=[0.4, 0.3, 0.2, 0.1], size=5_000)
    cur = rng.choice(np.array(list("abcxy"), dtype=object), p=[0.3, 0.3, 0.2, 0.1, 0.1], size=800)
    r = Chi2Drift().fit(ref).test(cur)
    table = np.array(
        [[(ref == c).sum() for c in "abcd"] + [0], [(cur == c).sum() for c in "abcd"] + [np.isin(cur, ["x", "y"]).sum()]]
    )
    table = table[:, table.sum(0) > 0]
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert r.statistic == pytest.approx(chi2, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-10)
    assert r.effect_size == pytest.approx(0.5 * np.abs(table[0] / 5_000 - table[1] / 800).sum())


def test_chi2_treats_numbers_as_labels():
    r = Chi2Drift().fit(np.array([1, 1, 2, 2, 3, 3])).test(np.array([1, 1, 2, 2, 3, 3]))
    assert r.statistic == 0.0 and r.p_value == 1.0


# -- mmd ------------------------------------------------------------------------------------
def test_mmd_statistic_equals_direct_unbiased_estimate():
    """rtol 1e-9 against a plain double-loop-free numpy formula on the same subsamples."""
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(size=(150, 2)), rng.normal(0.3, 1.0, size=(100, 2))
    det = MMDDrift(max_samples=1000, standardize=False).fit(ref)
    r = det.test(cur)

    def k(x, y):
        d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        return np.exp(-d / (2 * det.sigma_**2))

    kxx, kyy, kxy = k(ref, ref), k(cur, cur), k(ref, cur)
    n, m = len(ref), len(cur)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    )
    assert r.statistic == pytest.approx(expected, rel=1e-9)
    d = np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(-1))
    assert det.sigma_ == pytest.approx(np.median(d[np.triu_indices(n, 1)]))
