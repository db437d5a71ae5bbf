"""Alert rules: significance AND effect size, severity, cooldown in event time."""

from __future__ import annotations

import pytest

from driftstream.detectors.alerts import AlertManager, AlertRule

W = 15_000


def rec(feature, detector="ks", p=1e-6, effect=0.3, stat=None, thr=0.05):
    return {
        "feature": feature, "detector": detector, "statistic": effect if stat is None else stat,
        "p_value": p, "p_value_adjusted": p, "threshold": thr, "effect_size": effect, "drift": True,
    }


def test_significant_but_trivial_shift_does_not_alert():
    mgr = AlertManager()
    assert mgr.evaluate("m", 0, W, [rec("a", p=1e-30, effect=0.02)]) == []


def test_large_effect_without_significance_does_not_alert():
    assert AlertManager().evaluate("m", 0, W, [rec("a", p=0.2, effect=0.5)]) == []


def test_adjusted_p_value_is_used_when_present():
    r = rec("a", p=0.01, effect=0.5)
    r["p_value_adjusted"] = 0.2
    assert AlertManager().evaluate("m", 0, W, [r]) == []


def test_alert_record_matches_contract():
    [a] = AlertManager().evaluate("m", 0, W, [rec("b", effect=0.15), rec("a", effect=0.12)])
    assert a["key"] == "m/0/ks/alert" and a["kind"] == "alerts"
    assert a["window_start"] == 0 and a["window_end"] == W
    assert a["features"] == ["a", "b"] and a["severity"] == "warning"
    assert a["evidence"]["a"]["effect_size"] == 0.12
    assert a["evidence"]["rule"] == {"alpha": 0.05, "min_effect_size": 0.1}
    assert "ks drift in 2 feature(s)" in a["message"]


def test_critical_by_effect_or_number_of_features():
    mgr = AlertManager(cooldown_windows=None)
    assert mgr.evaluate("m", 0, W, [rec("a", effect=0.25)])[0]["severity"] == "critical"
    assert mgr.evaluate("n", 0, W, [rec(f, effect=0.11) for f in "abc"])[0]["severity"] == "critical"


def test_distance_only_detector_alerts_on_statistic_over_threshold():
    mgr = AlertManager()
    assert mgr.evaluate("m", 0, W, [rec("a", "psi", p=None, stat=0.05, thr=0.1, effect=0.05)]) == []
    [a] = mgr.evaluate("m", W, 2 * W, [rec("a", "psi", p=None, stat=0.15, thr=0.1, effect=0.15)])
    assert a["detector"] == "psi" and a["severity"] == "warning"


def test_repeats_are_suppressed_for_cooldown_windows_then_fire_again():
    mgr = AlertManager(cooldown_windows=3)
    fired = [bool(mgr.evaluate("m", i * W, (i + 1) * W, [rec("a", effect=0.15)])) for i in range(8)]
    assert fired == [True, False, False, True, False, False, True, False]


def test_cooldown_in_milliseconds_of_event_time():
    mgr = AlertManager(cooldown_windows=None, cooldown_ms=60_000)
    fired = [bool(mgr.evaluate("m", i * W, (i + 1) * W, [rec("a", effect=0.15)])) for i in range(6)]
    assert fired == [True, False, False, False, True, False]


def test_new_feature_set_or_escalation_is_not_suppressed():
    mgr = AlertManager(cooldown_windows=10)
    assert mgr.evaluate("m", 0, W, [rec("a", effect=0.15)])
    assert mgr.evaluate("m", W, 2 * W, [rec("a", effect=0.15), rec("b", effect=0.15)])
    assert mgr.evaluate("m", 2 * W, 3 * W, [rec("a", effect=0.5)])[0]["severity"] == "critical"
    assert not mgr.evaluate("m", 3 * W, 4 * W, [rec("a", effect=0.5)])


def test_replayed_window_gives_the_same_alert_again():
    mgr = AlertManager()
    first = mgr.evaluate("m", 0, W, [rec("a")])
    assert mgr.evaluate("m", 0, W, [rec("a")]) == first


def test_snapshot_restore_keeps_cooldown():
    mgr = AlertManager(cooldown_windows=3)
    mgr.evaluate("m", 0, W, [rec("a")])
    again = AlertManager.restore(mgr.snapshot())
    assert again.evaluate("m", W, 2 * W, [rec("a")]) == []


def test_per_detector_rule_and_defaults():
    mgr = AlertManager(rules=[AlertRule(detector="ks", min_effect_size=0.4)])
    assert mgr.evaluate("m", 0, W, [rec("a", effect=0.3)]) == []
    assert mgr.evaluate("m", 0, W, [rec("a", detector="cvm", effect=0.08)])  # cvm default 0.075


def test_rule_validation_names_parameter():
    with pytest.raises(ValueError, match="The 'alpha' parameter of AlertRule must be a float in"):
        AlertRule(alpha=2.0)
