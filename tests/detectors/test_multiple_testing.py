"""Bonferroni and Benjamini-Hochberg against hand-computed / reference values.

statsmodels is not installed here, so the expected values are computed by hand (first
test: the textbook example) and by a direct O(m^2) transcription of the BH definition
``p_adj(i) = min_{j >= i} min(m p_(j) / j, 1)``. Tolerance: rtol 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftstream.detectors.multiple_testing import adjust, adjust_records, benjamini_hochberg, bonferroni


def test_textbook_values():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 0.01 0.03 0.04 -> * 4/i: 0.02 0.02 0.04 0.04
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02], rtol=1e-12)
    np.testing.assert_allclose(bonferroni(p), [0.04, 0.16, 0.12, 0.02], rtol=1e-12)


def _bh_definition(p):
    p = np.asarray(p, dtype=float)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    adj = np.array([min(min(m * ps[j] / (j + 1), 1.0) for j in range(i, m)) for i in range(m)])
    out = np.empty(m)
    out[order] = adj
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_bh_equals_definition_and_is_bounded(p):
    got = benjamini_hochberg(p)
    np.testing.assert_allclose(got, _bh_definition(p), rtol=1e-12, atol=1e-15)
    assert (got >= np.asarray(p) - 1e-15).all() and (got <= 1.0).all()
    np.testing.assert_allclose(bonferroni(p), np.minimum(np.asarray(p) * len(p), 1.0), rtol=1e-12)
    assert (bonferroni(p) >= got - 1e-12).all()  # Bonferroni is never less strict


def test_nan_is_kept_and_not_counted():
    got = adjust([0.01, np.nan, 0.02], "bh")
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [0.02, 0.02])


def test_adjust_none_and_bad_method():
    np.testing.assert_array_equal(adjust([0.2, 0.5], "none"), [0.2, 0.5])
    with pytest.raises(ValueError, match="The 'method' parameter of adjust"):
        adjust([0.1], "holm")
    with pytest.raises(ValueError, match="must lie in"):
        bonferroni([1.5])


def test_adjust_records_sets_adjusted_p_for_tests_with_p_values_only():
    recs = [{"p_value": 0.01}, {"p_value": None}, {"p_value": 0.03}]
    adjust_records(recs, "bh")
    assert recs[1]["p_value_adjusted"] is None
    assert recs[0]["p_value_adjusted"] == pytest.approx(0.02)
    assert recs[2]["p_value_adjusted"] == pytest.approx(0.03)
