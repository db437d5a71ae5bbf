"""Shared check suite run over every registered detector (and usable on your own).

Like scikit-learn's ``parametrize_with_checks`` and River's ``checks``: each check is a
function taking an *unfitted* detector and raising ``AssertionError`` on failure.
:func:`checks_for` lists the checks that apply to a detector; :func:`check_detector` runs
them all. The data are small and seeded.

Examples
--------
>>> from driftstream.detectors.drift import KSDrift
>>> [c.__name__ for c in checks_for(KSDrift())][:3]
['check_params_roundtrip', 'check_constructor_stores_only', 'check_not_fitted']
>>> check_detector(KSDrift())  # silent when every check passes
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError


__all__ = ["check_detector", "checks_for", "sample_data"]

Check = Callable[[Any], None]


# Duck-typed on purpose: pytest's doctest collection may import this package under a second
# name (``detectors.*`` next to ``driftstream.detectors.*``), which breaks isinstance.
def _is_outlier(det: Any) -> bool:
    return hasattr(det, "score_samples") and hasattr(det, "per_feature")


def _is_multivariate(det: Any) -> bool:
    return bool(getattr(det, "multivariate", False))


def _is_result(r: Any) -> bool:
    return all(hasattr(r, f) for f in ("statistic", "p_value", "threshold", "drift", "effect_size"))


# -- data ---------------------------------------------------------------------------------
def _categorical(rng: np.random.Generator, n: int, p: list[float]) -> np.ndarray:
    return rng.choice(np.array(["a", "b", "c", "d"], dtype=object), size=n, p=p)


def sample_data(det: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded ``(reference, current)`` pair suited to ``det`` (current is shifted)."""
    rng = np.random.default_rng(seed)
    if _is_outlier(det):
        if det.kinds == ("categorical",):
            ref = np.column_stack([_categorical(rng, 400, [0.4, 0.3, 0.2, 0.1]) for _ in range(2)])
            cur = ref[:50].copy()
            cur[::7, 0] = "zz"
            return ref, cur
        return rng.normal(size=(400, 3)), rng.normal(0.0, 2.0, size=(50, 3))
    if _is_multivariate(det):
        return rng.normal(size=(400, 3)), rng.normal(0.5, 1.0, size=(200, 3))
    if "numeric" not in det.kinds:
        return (
            _categorical(rng, 2000, [0.4, 0.3, 0.2, 0.1]),
            _categorical(rng, 500, [0.1, 0.2, 0.3, 0.4]),
        )
    return rng.normal(size=2000), rng.normal(0.5, 1.0, size=500)


def _run(det: Any, cur: np.ndarray) -> Any:
    if _is_outlier(det):
        return det.score_samples(cur)
    return det.test(cur)


def _same(a: Any, b: Any) -> bool:
    if _is_result(a):
        return all(
            (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y, equal_nan=True))
            for x, y in zip(a.as_dict().values(), b.as_dict().values(), strict=True)
        )
    return bool(np.array_equal(a, b, equal_nan=True))


# -- checks for every detector -------------------------------------------------------------
def check_params_roundtrip(det: Any) -> None:
    """get_params / set_params / clone round-trip."""
    params = det.get_params()
    other = type(det)().set_params(**params)
    assert other.get_params() == params, (other.get_params(), params)
    assert clone(det).get_params() == params


def check_constructor_stores_only(det: Any) -> None:
    """``__init__`` stores every parameter under its own name and validates nothing."""
    for name, value in det.get_params().items():
        assert getattr(det, name) is value, name
    for name, alternatives in getattr(det, "_parameter_constraints", {}).items():
        bad = _invalid_value(alternatives)
        if bad is not None:
            type(det)(**{**det.get_params(), name: bad})  # must not raise


def check_not_fitted(det: Any) -> None:
    """Using an unfitted detector raises "This X is not fitted yet. Call 'fit' first."."""
    _, cur = sample_data(det)
    msg = f"This {type(det).__name__} is not fitted yet. Call 'fit' first."
    methods = ["score_samples", "decision_function", "predict", "outlier_score"] if _is_outlier(det) else ["test"]
    for method in methods:
        try:
            getattr(clone(det), method)(cur)
        except NotFittedError as exc:
            assert str(exc) == msg, str(exc)
        else:
            raise AssertionError(f"{method} did not raise NotFittedError")


def check_fit_returns_self(det: Any) -> None:
    ref, _ = sample_data(det)
    assert det.fit(ref) is det


def _invalid_value(alternatives: list[Any]) -> Any:
    for c in alternatives:
        bad = c.invalid()
        if bad is not None and not any(a.ok(bad) for a in alternatives):
            return bad
    return None


def check_invalid_params_named(det: Any) -> None:
    """``fit`` rejects a bad value with "The 'p' parameter of X must be ... Got v."."""
    ref, _ = sample_data(det)
    for name, alternatives in getattr(det, "_parameter_constraints", {}).items():
        bad = _invalid_value(alternatives)
        if bad is None:
            continue
        est = clone(det).set_params(**{name: bad})
        pattern = re.escape(f"The '{name}' parameter of {type(det).__name__} must be ") + r".+\. Got .+\."
        try:
            est.fit(ref)
        except ValueError as exc:
            assert re.fullmatch(pattern, str(exc)), str(exc)
        else:
            raise AssertionError(f"fit accepted {name}={bad!r}")


def check_deterministic(det: Any) -> None:
    """Two fits on the same data give identical results (seeded randomness only)."""
    ref, cur = sample_data(det)
    a = _run(clone(det).fit(ref), cur)
    b = _run(clone(det).fit(ref), cur)
    assert _same(a, b), (a, b)


def check_pickle_roundtrip(det: Any) -> None:
    ref, cur = sample_data(det)
    det.fit(ref)
    back = pickle.loads(pickle.dumps(det))
    assert _same(_run(det, cur), _run(back, cur))
    assert back.get_params() == det.get_params()


# -- drift detectors ----------------------------------------------------------------------
def check_drift_result(det: Any) -> None:
    """``test`` returns a well-formed ``DriftResult`` and flags the shifted sample."""
    ref, cur = sample_data(det)
    r = det.fit(ref).test(cur)
    assert _is_result(r)
    assert isinstance(r.statistic, float) and np.isfinite(r.statistic)
    assert isinstance(r.threshold, float) and isinstance(r.effect_size, float)
    assert isinstance(r.drift, bool)
    assert r.effect_size >= 0
    if det.has_p_value:
        assert isinstance(r.p_value, float) and 0.0 <= r.p_value <= 1.0
        assert r.drift == (r.p_value < r.threshold)
    else:
        assert r.p_value is None
        assert r.drift == (r.statistic >= r.threshold)
    assert r.drift, f"{type(det).__name__} missed an obvious shift: {r}"


def check_same_sample_no_drift(det: Any) -> None:
    """The reference tested against itself shows no drift."""
    ref, _ = sample_data(det)
    r = det.fit(ref).test(ref)
    assert not r.drift, r


def check_empty_window(det: Any) -> None:
    """An empty window gives NaN statistic and no drift instead of an error."""
    ref, cur = sample_data(det)
    r = det.fit(ref).test(cur[:0])
    assert not r.drift and np.isnan(r.statistic)


def check_missing_values_dropped(det: Any) -> None:
    """Missing values in the window are ignored."""
    ref, cur = sample_data(det)
    det.fit(ref)
    if cur.dtype == object:
        dirty = np.concatenate([cur, np.array([None, np.nan], dtype=object)])
    elif cur.ndim == 2:
        dirty = np.vstack([cur, np.full((2, cur.shape[1]), np.nan)])
    else:
        dirty = np.concatenate([cur, [np.nan, np.nan]])
    assert _same(det.test(cur), det.test(dirty))


# -- outlier detectors --------------------------------------------------------------------
def check_outlier_shapes_and_signs(det: Any) -> None:
    """Shapes, ``decision = score - offset``, ``outlier_score = -score``, predict in {-1, 1}."""
    ref, cur = sample_data(det)
    det.fit(ref)
    s = det.score_samples(cur)
    shape = cur.shape if det.per_feature else (cur.shape[0],)
    assert s.shape == shape, (s.shape, shape)
    np.testing.assert_allclose(det.decision_function(cur), s - det.offset_)
    o = det.outlier_score(cur)
    np.testing.assert_allclose(o, -s, rtol=1e-12, atol=1e-12)
    thr = np.asarray(det.threshold_)
    assert thr.shape in ((), (cur.shape[1],)), thr.shape
    p = det.predict(cur)
    assert set(np.unique(p)) <= {-1, 1}
    np.testing.assert_array_equal(p == -1, det.decision_function(cur) < 0)
    assert (p == -1).any(), f"{type(det).__name__} flagged nothing in a shifted sample"


def check_outlier_rejects_wrong_width(det: Any) -> None:
    ref, cur = sample_data(det)
    det.fit(ref)
    try:
        det.score_samples(cur[:, :1])
    except ValueError as exc:
        assert "features" in str(exc)
    else:
        raise AssertionError("score_samples accepted the wrong number of features")


_COMMON: list[Check] = [
    check_params_roundtrip,
    check_constructor_stores_only,
    check_not_fitted,
    check_fit_returns_self,
    check_invalid_params_named,
    check_deterministic,
    check_pickle_roundtrip,
]
_DRIFT: list[Check] = [check_drift_result, check_same_sample_no_drift, check_empty_window, check_missing_values_dropped]
_OUTLIER: list[Check] = [check_outlier_shapes_and_signs, check_outlier_rejects_wrong_width]


def checks_for(det: Any) -> list[Check]:
    """The checks that apply to ``det`` (an unfitted detector instance)."""
    if _is_outlier(det):
        return _COMMON + _OUTLIER
    if hasattr(det, "test") and hasattr(det, "fit"):
        return _COMMON + _DRIFT
    raise TypeError(f"{det!r} is not a driftstream detector.")


def check_detector(det: Any) -> None:
    """Run every applicable check on fresh clones of ``det``."""
    for check in checks_for(det):
        check(clone(det))
