"""Prometheus metrics: records published to a ResultHub, scraped over real HTTP and parsed."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftstream.engine.hub import ResultHub
from driftstream.engine.metrics import MetricsServer


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped[(name, frozenset({"model": "iris", **labels}.items()))]


def health(records_in: int, bad: int, late: int, **extra) -> dict:
    return {"kind": "health", "model": "iris", "key": f"iris/health/{records_in}", "emitted_at": 1_700_000_001_000,
            "events_per_s": 250.5, "records_in": records_in, "bad": bad, "late": late, "windows_emitted": 4,
            "watermark": 1_700_000_000_000, "lag": {"0": 12, "1": 0, "2": 3}, "window_latency_ms": 6400.0, **extra}


def drift(feature: str, detector: str, window_start: int, statistic: float, is_drift: bool, p_value=None) -> dict:
    return {"kind": "drift", "model": "iris", "window_start": window_start, "window_end": window_start + 15_000,
            "feature": feature, "detector": detector, "statistic": statistic, "p_value": p_value,
            "p_value_adjusted": p_value, "threshold": 0.1, "effect_size": None, "drift": is_drift}


def test_scrape_reflects_published_records() -> None:
    hub = ResultHub()
    with MetricsServer(hub, "iris", port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        hub.publish("health", [health(100, 2, 1)])
        hub.publish("health", [health(1500, 7, 3, lag={"0": 5, "1": 1, "2": 0})])   # cumulative: the latest wins
        hub.publish("stats", [{"feature": "x"}] * 5)
        hub.publish("outliers", [{"request_id": "r"}] * 3)
        hub.publish("drift", [drift("x", "ks", 30_000, 0.31, True, p_value=0.001),
                              drift("y", "psi", 30_000, 0.02, False)])
        hub.publish("drift", [drift("x", "ks", 15_000, 0.05, False, p_value=0.4)])    # an older window, re-emitted
        hub.publish("alerts", [{"severity": "critical"}, {"severity": "warning"}, {"severity": "critical"}])
        status, text, headers = get(server.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    s = samples(text)
    assert value(s, "driftstream_records_in_total") == 1500
    assert value(s, "driftstream_bad_records_total") == 7
    assert value(s, "driftstream_late_records_total") == 3
    assert value(s, "driftstream_windows_emitted_total") == 4
    assert value(s, "driftstream_events_per_second") == 250.5
    assert value(s, "driftstream_window_latency_seconds") == 6.4
    assert value(s, "driftstream_watermark_seconds") == 1_700_000_000
    assert [value(s, "driftstream_consumer_lag", partition=p) for p in "012"] == [5, 1, 0]
    assert value(s, "driftstream_results_total", kind="stats") == 5
    assert value(s, "driftstream_results_total", kind="outliers") == 3
    assert value(s, "driftstream_results_total", kind="drift") == 3
    assert value(s, "driftstream_results_total", kind="health") == 2
    assert value(s, "driftstream_drift_statistic", feature="x", detector="ks") == 0.31      # latest window kept
    assert value(s, "driftstream_drift_p_value", feature="x", detector="ks") == 0.001
    assert value(s, "driftstream_drift_detected", feature="x", detector="ks") == 1
    assert value(s, "driftstream_drift_window_end_seconds", feature="x", detector="ks") == 45
    assert value(s, "driftstream_drift_statistic", feature="y", detector="psi") == 0.02
    assert value(s, "driftstream_drift_detected", feature="y", detector="psi") == 0
    assert ("driftstream_drift_p_value", frozenset({"model": "iris", "feature": "y", "detector": "psi"}.items())) not in s
    assert value(s, "driftstream_alerts_total", severity="critical") == 2
    assert value(s, "driftstream_alerts_total", severity="warning") == 1


def test_healthz_empty_hub_and_registries_are_separate() -> None:
    hub = ResultHub()
    other_hub = ResultHub()
    with MetricsServer(hub, "iris", port=0) as server, MetricsServer(other_hub, "iris", port=0) as other:
        status, text, _ = get(server.url + "/healthz")
        assert (status, text) == (200, "ok\n")
        assert get(server.url + "/nope")[0] == 404
        other_hub.publish("health", [health(42, 0, 0)])
        s = samples(get(server.url + "/metrics")[1])
        assert value(s, "driftstream_records_in_total") == 0
        assert ("driftstream_window_latency_seconds", frozenset({"model": "iris"}.items())) not in s
        assert value(samples(get(other.url + "/metrics")[1]), "driftstream_records_in_total") == 42


def test_seeded_from_history_and_unsubscribed_on_stop() -> None:
    hub = ResultHub()
    hub.publish("health", [health(10, 1, 0)])
    hub.publish("drift", [drift("x", "ks", 0, 0.2, True)])
    server = MetricsServer(hub, "iris", port=0)
    s = samples(server.scrape().decode())
    assert value(s, "driftstream_records_in_total") == 10
    assert value(s, "driftstream_drift_statistic", feature="x", detector="ks") == 0.2
    server.start()
    server.stop()
    hub.publish("alerts", [{"severity": "warning"}])
    assert ("driftstream_alerts_total", frozenset({"model": "iris", "severity": "warning"}.items())) \
        not in samples(server.scrape().decode())


@pytest.mark.parametrize("token", ["s3cret-token", "prom:pa:ss"])
def test_token_protects_metrics_not_healthz(token: str) -> None:
    hub = ResultHub()
    hub.publish("health", [health(5, 0, 0)])
    with MetricsServer(hub, "iris", port=0, token=token) as server:
        url = server.url + "/metrics"
        status, _, headers = get(url)
        assert status == 401 and "WWW-Authenticate" in headers
        assert get(url, {"Authorization": "Bearer wrong"})[0] == 401
        assert get(url, {"Authorization": "Bearer " + token[:-1]})[0] == 401
        bad_basic = base64.b64encode(b"prom:nope").decode()
        assert get(url, {"Authorization": "Basic " + bad_basic})[0] == 401
        assert get(url, {"Authorization": "Basic !!!"})[0] == 401
        assert get(server.url + "/healthz")[0] == 200
        status, text, _ = get(url, {"Authorization": "Bearer " + token})
        assert status == 200 and value(samples(text), "driftstream_records_in_total") == 5
        basic = get(url, {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()})[0]
        assert basic == (200 if ":" in token else 401)
