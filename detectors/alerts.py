"""Alert rules over one window's drift records: significance AND effect size, with cooldown.

Pure state machine, no I/O: :meth:`AlertManager.evaluate` takes a window's drift records
(dicts as in ``docs/CONTRACTS.md``: ``feature, detector, statistic, p_value,
p_value_adjusted, threshold, effect_size, drift``) and returns alert records.

A record *fires* when:

- the detector gives p-values: ``p < alpha`` (the adjusted p-value when present, else the
  raw one) **and** ``effect_size >= min_effect_size`` — large windows make p-values flag
  trivial shifts, the effect size keeps alerts to shifts that matter;
- the detector is distance-only (``p_value`` is None): ``statistic >= threshold``.

Fired records are grouped per detector into one alert (``features`` lists them). Severity is
``"critical"`` when at least ``critical_features`` features fire, or when the largest effect
reaches ``critical_factor`` times the minimum (``statistic / threshold`` for distances);
else ``"warning"``. An alert with the same (model, detector, feature set) as one raised less
than the cooldown ago (event time: windows and/or milliseconds) is suppressed, unless its
severity went up. Re-evaluating an already alerted window returns the same alert again
(same key), so replays after a restart replace rather than lose alerts.

Examples
--------
>>> mgr = AlertManager(cooldown_windows=3)
>>> recs = [{"feature": "age", "detector": "ks", "statistic": 0.3, "p_value": 1e-9,
...          "p_value_adjusted": 1e-8, "threshold": 0.05, "effect_size": 0.3, "drift": True},
...         {"feature": "income", "detector": "ks", "statistic": 0.01, "p_value": 0.01,
...          "p_value_adjusted": 0.02, "threshold": 0.05, "effect_size": 0.01, "drift": True}]
>>> [a] = mgr.evaluate("m", 0, 15000, recs)
>>> a["severity"], a["features"], a["key"]
('critical', ['age'], 'm/0/ks/alert')
>>> mgr.evaluate("m", 15000, 30000, recs)  # same alert within the cooldown
[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AlertManager", "AlertRule", "default_min_effect_size"]

_FALLBACK_MIN_EFFECT = 0.1


def default_min_effect_size(detector: str) -> float:
    """The detector class's ``default_min_effect_size`` (0.1 when unknown)."""
    try:
        from .registry import drift_class

        return float(getattr(drift_class(detector), "default_min_effect_size", _FALLBACK_MIN_EFFECT))
    except (ValueError, TypeError, ImportError):
        return _FALLBACK_MIN_EFFECT


@dataclass(frozen=True)
class AlertRule:
    """When the records of one detector raise an alert.

    Parameters
    ----------
    detector
        Registry name the rule applies to; ``None`` for every detector without its own rule.
    alpha
        Significance level on the (adjusted) p-value.
    min_effect_size
        Smallest effect size that may alert; ``None``: the detector's default.
    require_effect
        ``False`` alerts on significance alone.
    min_features
        Fewest firing features for an alert.
    critical_factor
        ``critical`` when the largest effect is at least this multiple of the minimum.
    critical_features
        ``critical`` when at least this many features fire.
    """

    detector: str | None = None
    alpha: float = 0.05
    min_effect_size: float | None = None
    require_effect: bool = True
    min_features: int = 1
    critical_factor: float = 2.0
    critical_features: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"The 'alpha' parameter of AlertRule must be a float in (0, 1). Got {self.alpha!r}.")
        if self.min_effect_size is not None and not self.min_effect_size >= 0:
            raise ValueError(
                f"The 'min_effect_size' parameter of AlertRule must be a float >= 0 or None. "
                f"Got {self.min_effect_size!r}."
            )
        if self.min_features < 1:
            raise ValueError(f"The 'min_features' parameter of AlertRule must be an int >= 1. Got {self.min_features!r}.")
        if not self.critical_factor >= 1:
            raise ValueError(
                f"The 'critical_factor' parameter of AlertRule must be a float >= 1. Got {self.critical_factor!r}."
            )
        if self.critical_features < 1:
            raise ValueError(
                f"The 'critical_features' parameter of AlertRule must be an int >= 1. Got {self.critical_features!r}."
            )

    def min_effect(self, detector: str) -> float:
        return default_min_effect_size(detector) if self.min_effect_size is None else self.min_effect_size

    def fires(self, record: dict[str, Any]) -> tuple[bool, float]:
        """``(fires, strength)``: strength is effect / min effect, or statistic / threshold."""
        stat = _num(record.get("statistic"))
        p = record.get("p_value_adjusted")
        if p is None:
            p = record.get("p_value")
        p = _num(p) if p is not None else None
        if p is not None:
            if math.isnan(p) or p >= self.alpha:
                return False, 0.0
            effect = _num(record.get("effect_size"))
            floor = self.min_effect(str(record.get("detector")))
            if math.isnan(effect):
                return (not self.require_effect), 0.0
            if self.require_effect and effect < floor:
                return False, 0.0
            return True, (effect / floor if floor > 0 else math.inf)
        thr = _num(record.get("threshold"))
        if math.isnan(stat) or math.isnan(thr) or stat < thr:
            return False, 0.0
        return True, (stat / thr if thr > 0 else math.inf)


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


_SEVERITY = {"warning": 1, "critical": 2}


@dataclass
class AlertManager:
    """Turns drift records into deduplicated alerts.

    Parameters
    ----------
    rules
        Rules by detector; a rule with ``detector=None`` is the default (one is added
        when missing).
    cooldown_windows
        Suppress a repeat unless at least this many windows (distinct ``window_start``
        values seen for the model) have passed since the last alert of the same key.
    cooldown_ms
        Suppress a repeat unless ``window_start`` moved on by at least this much event
        time. With both set, both must have passed.
    """

    rules: list[AlertRule] = field(default_factory=list)
    cooldown_windows: int | None = 4
    cooldown_ms: int | None = None
    _last: dict[tuple[str, str, tuple[str, ...]], tuple[int, str]] = field(default_factory=dict, init=False, repr=False)
    _starts: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rules = list(self.rules)
        if not any(r.detector is None for r in self.rules):
            self.rules.append(AlertRule())
        self._by_detector = {r.detector: r for r in self.rules}

    def rule_for(self, detector: str) -> AlertRule:
        return self._by_detector.get(detector, self._by_detector[None])

    def evaluate(
        self, model: str, window_start: int, window_end: int, records: Iterable[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Alerts for one closed window of ``model`` (possibly none)."""
        window_start, window_end = int(window_start), int(window_end)
        self._see_window(model, window_start)
        fired: dict[str, list[tuple[dict[str, Any], float]]] = {}
        for rec in records:
            det = str(rec.get("detector"))
            ok, strength = self.rule_for(det).fires(rec)
            if ok:
                fired.setdefault(det, []).append((rec, strength))
        alerts = []
        for det in sorted(fired):
            rule = self.rule_for(det)
            hits = sorted(fired[det], key=lambda t: str(t[0].get("feature")))
            if len(hits) < rule.min_features:
                continue
            features = [str(r.get("feature")) for r, _ in hits]
            strongest = max(s for _, s in hits)
            critical = len(hits) >= rule.critical_features or strongest >= rule.critical_factor
            severity = "critical" if critical else "warning"
            if self._suppressed(model, det, tuple(features), window_start, severity):
                continue
            alerts.append(self._alert(model, window_start, window_end, det, rule, hits, severity, strongest))
        return alerts

    # -- cooldown -----------------------------------------------------------------------
    def _see_window(self, model: str, start: int) -> None:
        starts = self._starts.setdefault(model, [])
        if start not in starts:
            starts.append(start)
            starts.sort()
            del starts[:-10000]

    def _suppressed(self, model: str, det: str, feats: tuple[str, ...], start: int, severity: str) -> bool:
        key = (model, det, feats)
        last = self._last.get(key)
        if last is not None:
            last_start, last_sev = last
            if start == last_start:
                self._last[key] = (start, max(severity, last_sev, key=_SEVERITY.__getitem__))
                return False  # replay of the alerted window: emit the same alert again
            if start > last_start and _SEVERITY[severity] <= _SEVERITY[last_sev]:
                in_windows = self.cooldown_windows is not None and (
                    sum(1 for s in self._starts.get(model, ()) if last_start < s <= start) < self.cooldown_windows
                )
                in_ms = self.cooldown_ms is not None and start - last_start < self.cooldown_ms
                if in_windows or in_ms:
                    return True
        self._last[key] = (start, severity)
        return False

    # -- output -------------------------------------------------------------------------
    def _alert(
        self,
        model: str,
        start: int,
        end: int,
        det: str,
        rule: AlertRule,
        hits: list[tuple[dict[str, Any], float]],
        severity: str,
        strongest: float,
    ) -> dict[str, Any]:
        evidence: dict[str, Any] = {}
        for rec, _ in hits:
            evidence[str(rec.get("feature"))] = {
                k: _clean(rec.get(k))
                for k in ("statistic", "p_value", "p_value_adjusted", "threshold", "effect_size")
            }
        has_p = any(rec.get("p_value") is not None for rec, _ in hits)
        evidence["rule"] = {
            "alpha": rule.alpha if has_p else None,
            "min_effect_size": rule.min_effect(det) if has_p and rule.require_effect else None,
        }
        names = [str(r.get("feature")) for r, _ in hits]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        if has_p:
            best = max(_num(r.get("effect_size")) for r, _ in hits)
            why = f"max effect size {best:.3g} (minimum {rule.min_effect(det):.3g}), p < {rule.alpha:g}"
        else:
            why = f"statistic up to {strongest:.3g}x its threshold"
        return {
            "kind": "alerts",
            "key": f"{model}/{start}/{det}/alert",
            "model": model,
            "window_start": start,
            "window_end": end,
            "severity": severity,
            "detector": det,
            "features": names,
            "evidence": evidence,
            "message": f"{severity}: {det} drift in {len(names)} feature(s) ({shown}): {why}",
        }

    # -- recovery -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready cooldown state, to restore with :meth:`restore`."""
        return {
            "last": [[m, d, list(f), s, sev] for (m, d, f), (s, sev) in self._last.items()],
            "starts": {m: list(v) for m, v in self._starts.items()},
            "rules": [asdict(r) for r in self.rules],
            "cooldown_windows": self.cooldown_windows,
            "cooldown_ms": self.cooldown_ms,
        }

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> AlertManager:
        mgr = cls(
            rules=[AlertRule(**r) for r in snap["rules"]],
            cooldown_windows=snap["cooldown_windows"],
            cooldown_ms=snap["cooldown_ms"],
        )
        mgr._last = {(m, d, tuple(f)): (int(s), sev) for m, d, f, s, sev in snap["last"]}
        mgr._starts = {m: list(v) for m, v in snap["starts"].items()}
        return mgr
