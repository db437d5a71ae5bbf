"""Registry: built-ins by name, user detectors by decorator, dotted path and entry point."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from driftstream.detectors import registry
from driftstream.detectors.drift import DriftDetector, DriftResult, KSDrift
from driftstream.detectors.registry import (
    drift_names,
    make_drift,
    make_outlier,
    outlier_names,
    register_drift,
)


def test_make_by_name_passes_params():
    det = make_drift("ks", alpha=0.01)
    assert isinstance(det, KSDrift) and det.alpha == 0.01
    assert make_outlier("zscore", threshold=4.0).threshold == 4.0


def test_unknown_name_lists_known_detectors():
    with pytest.raises(ValueError, match="Unknown drift detector 'nope'. Known: chi2, cvm"):
        make_drift("nope")


def test_outlier_name_is_not_a_drift_detector():
    with pytest.raises(TypeError, match="not a drift detector"):
        make_drift("driftstream.detectors.outliers.range:RangeOutlier")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_detectors.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from driftstream.detectors.drift import DriftDetector, DriftResult

            class MeanGap(DriftDetector):
                name = "mean_gap"
                def __init__(self, threshold=0.5):
                    self.threshold = threshold
                def _fit(self, reference):
                    self.mean_ = reference.mean()
                def _test(self, current):
                    gap = abs(current.mean() - self.mean_)
                    return DriftResult(gap, None, self.threshold, gap >= self.threshold, gap)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_detectors"
    sys.modules.pop("my_detectors", None)


@pytest.mark.parametrize("sep", [":", "."])
def test_dotted_path_loads_a_user_detector(user_module, sep):
    det = make_drift(f"{user_module}{sep}MeanGap", threshold=0.2)
    assert det.fit(np.zeros(10)).test(np.ones(10)).drift


def test_entry_point_loads_a_user_detector(user_module, monkeypatch):
    ep = EntryPoint("mean_gap", f"{user_module}:MeanGap", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    assert type(make_drift("mean_gap")).__name__ == "MeanGap"
    assert "mean_gap" in drift_names() and "mean_gap" not in outlier_names()


def test_register_decorator_and_name_clash(monkeypatch):
    monkeypatch.setattr(registry, "_DRIFT", dict(registry._DRIFT))

    @register_drift
    class Always(DriftDetector):
        name = "always"

        def _fit(self, reference):
            pass

        def _test(self, current):
            return DriftResult(1.0, None, 0.5, True, 1.0)

    assert make_drift("always").fit([1.0, 2.0]).test([3.0]).drift

    class Other(Always):
        name = "ks"

    with pytest.raises(ValueError, match="already taken by KSDrift"):
        register_drift(Other)
    with pytest.raises(TypeError):
        register_drift(int)
