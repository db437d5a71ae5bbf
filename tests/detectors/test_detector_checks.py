"""The shared check suite (driftstream.detectors.checks) over every registered detector."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from driftstream.detectors.checks import checks_for
from driftstream.detectors.registry import (
    drift_names,
    make_drift,
    make_outlier,
    outlier_names,
)


def _cases():
    for kind, names, make in (("drift", drift_names(), make_drift), ("outlier", outlier_names(), make_outlier)):
        for name in names:
            det = make(name)
            for check in checks_for(det):
                yield pytest.param(det, check, id=f"{kind}-{name}-{check.__name__}")


@pytest.mark.parametrize(("detector", "check"), list(_cases()))
def test_registered_detector_passes_check(detector, check):
    check(clone(detector))


def test_every_builtin_is_registered():
    assert set(drift_names()) >= {
        "kl", "js", "wasserstein_hist", "ks", "psi", "hellinger", "wasserstein", "chi2", "cvm", "mmd",
    }
    assert set(outlier_names()) >= {
        "range", "stddev", "zscore", "iqr", "mahalanobis", "isolation_forest",
        "elliptic_envelope", "lof", "unseen_category",
    }
