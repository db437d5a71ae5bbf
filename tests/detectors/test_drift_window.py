"""The shared sorted window: same results as the unshared paths, and a cache that cannot go stale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from driftstream.detectors.drift import (
    CVMDrift,
    HellingerDrift,
    JSDrift,
    KLDrift,
    KSDrift,
    PSIDrift,
    WassersteinDrift,
    WassersteinHistDrift,
    bin_counts,
)
from driftstream.detectors.drift._binning import search_edges
from driftstream.detectors.drift._window import counts_from_sorted, sorted_window
from driftstream.detectors.drift.wasserstein import reference_areas, wasserstein_areas

SORTED = [KSDrift, CVMDrift, WassersteinDrift]
HIST = [PSIDrift, JSDrift, KLDrift, HellingerDrift, WassersteinHistDrift]


def _data(seed=0, n=20_000, m=2_000):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), rng.normal(0.1, 1.2, size=m)


@pytest.mark.parametrize("cls", SORTED)
def test_test_sorted_equals_test(cls):
    ref, cur = _data()
    det = cls().fit(ref)
    assert det.test_sorted(np.sort(cur)) == det.test(cur) == det._test(cur)


@pytest.mark.parametrize("cls", SORTED + HIST)
def test_test_on_a_shared_window_equals_test_on_a_fresh_copy(cls):
    ref, cur = _data(1)
    dets = [c().fit(ref) for c in SORTED + HIST]  # all share the window's sort and searches
    shared = [d.test(cur) for d in dets]
    det = cls().fit(ref.copy())
    assert det.test(cur.copy()) == shared[(SORTED + HIST).index(cls)]


@pytest.mark.parametrize("cls", SORTED + HIST)
def test_window_mutated_in_place_is_not_served_from_the_cache(cls):
    ref, cur = _data(2)
    det = cls().fit(ref)
    before = det.test(cur)
    cur += 0.5  # same object, new values
    after = det.test(cur)
    assert after == cls().fit(ref).test(cur.copy())
    assert after != before


def test_window_with_missing_values_is_cleaned_and_cached():
    ref, cur = _data(3)
    cur[::7] = np.nan
    cur[1] = np.inf
    w = sorted_window(cur, "KSDrift")
    assert w is sorted_window(cur, "KSDrift")
    np.testing.assert_array_equal(w.values, np.sort(cur[np.isfinite(cur)]))
    ks = KSDrift().fit(ref).test(cur)
    assert ks.statistic == stats.ks_2samp(ref, cur[np.isfinite(cur)]).statistic


def test_detectors_fitted_on_one_array_share_a_read_only_sorted_reference():
    ref, _ = _data(4)
    ks, cvm, w = (c().fit(ref) for c in SORTED)
    assert ks.reference_ is cvm.reference_ is w.reference_
    assert not ks.reference_.flags.writeable
    ref[0] = 99.0  # refitting after a change sorts again
    assert KSDrift().fit(ref).reference_[-1] == 99.0


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 60), elements=finite),
    arrays(np.float64, st.integers(0, 30), elements=st.floats(-1e3, 1e3)),
)
def test_counts_from_sorted_equals_bin_counts(values, edges_raw):
    edges = np.unique(edges_raw) if edges_raw.size else np.array([0.0, 1.0])
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    got = counts_from_sorted(np.sort(values), search_edges(edges))
    np.testing.assert_array_equal(got, bin_counts(values, edges))


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 80), elements=finite),
    arrays(np.float64, st.integers(1, 80), elements=finite),
    st.sampled_from([0.0, 1e6]),
)
def test_wasserstein_areas_equals_scipy(a, b, offset):
    """rtol 1e-9 / atol 1e-9 relative to the data's magnitude: the same integral, summed per gap."""
    a, b = a / 1e3 + offset, b / 1e3 + offset
    r = np.sort(a)
    got = wasserstein_areas(r, reference_areas(r), np.sort(b))
    assert got == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("n", "m"), [(50_000, 5_000), (5_000, 3_000), (3, 7_000)])
def test_wasserstein_areas_equals_scipy_on_large_windows(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(5, 2, n), rng.normal(5.1, 2.2, m)
    r = np.sort(a)
    got = wasserstein_areas(r, reference_areas(r), np.sort(b))
    assert got == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)


def test_window_positions_equal_searchsorted_with_ties():
    rng = np.random.default_rng(5)
    ref, cur = np.sort(np.round(rng.normal(size=3_000) * 2)), np.round(rng.normal(size=500) * 2)
    w = sorted_window(cur, "KSDrift")
    np.testing.assert_array_equal(w.right(ref), np.searchsorted(ref, w.values, "right"))
    np.testing.assert_array_equal(w.left(ref), np.searchsorted(ref, w.values, "left"))
    assert w.left(ref) is w.left(ref)
    for cls in (KSDrift, CVMDrift):
        det = cls().fit(ref)
        assert det.test(cur) == cls().fit(ref.copy()).test(cur.copy())


def test_cache_survives_many_short_lived_windows_and_garbage_collection():
    import gc

    ref, cur = _data(6, n=2_000, m=200)
    dets = [c().fit(ref) for c in SORTED + HIST]
    expected = [d.test(cur.copy()) for d in dets]
    for i in range(300):  # windows die, ids are reused, the collector runs mid-way
        ws = cur.copy()
        assert [d.test(ws) for d in dets] == expected
        if i % 50 == 0:
            gc.collect()
    from driftstream.detectors.drift import _window

    assert len(_window._windows._entries) <= _window._windows.max_entries
