"""Prometheus metrics of a running monitor, fed by its :class:`~driftstream.engine.hub.ResultHub`.

:class:`MetricsServer` subscribes to the hub and serves ``/metrics`` (Prometheus text format,
from its own ``CollectorRegistry``: no global state, several servers per process are fine)
and ``/healthz`` (always open, for probes). It binds 127.0.0.1 by default; ``token=`` protects
``/metrics`` with ``Authorization: Bearer <token>`` or, when the token is ``user:password``,
also HTTP basic auth (anything else gets 401).

Metrics (every one labelled ``model``):

=====================================================  =======  ======================================
``driftstream_records_in_total``                       counter  records read (cumulative, from health)
``driftstream_bad_records_total``                      counter  records sent to the dead-letter sink
``driftstream_late_records_total``                     counter  records later than watermark + lateness
``driftstream_windows_emitted_total``                  counter  windows closed and emitted
``driftstream_events_per_second``                      gauge    input rate over the last health tick
``driftstream_consumer_lag``                           gauge    per ``partition``
``driftstream_window_latency_seconds``                 gauge    last window: emission - window end
``driftstream_watermark_seconds``                      gauge    the watermark (event time, epoch s)
``driftstream_results_total``                          counter  result records published, per ``kind``
``driftstream_drift_statistic``                        gauge    latest, per ``feature`` x ``detector``
``driftstream_drift_threshold`` / ``_p_value``         gauge    idem (p-value only when the test has one)
``driftstream_drift_detected``                         gauge    1 if the latest window drifted, else 0
``driftstream_drift_window_end_seconds``               gauge    window end of those latest values
``driftstream_alerts_total``                           counter  alerts per ``severity``
``driftstream_last_health_seconds``                    gauge    emitted_at of the latest health record
=====================================================  =======  ======================================

Examples
--------
>>> from driftstream.engine.hub import ResultHub
>>> hub = ResultHub()
>>> server = MetricsServer(hub, "iris", port=0)
>>> hub.publish("alerts", [{"severity": "critical", "detector": "ks"}])
>>> b'driftstream_alerts_total{model="iris",severity="critical"} 1.0' in server.scrape()
True
>>> with MetricsServer(hub, "iris", port=0) as running:    # doctest: +SKIP
...     running.url                                          # http://127.0.0.1:<port>
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import math
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from .httpserver import BackgroundHTTPServer

logger = logging.getLogger(__name__)

HEALTH_COUNTERS = (
    ("records_in", "driftstream_records_in", "Inference records read from the source."),
    ("bad", "driftstream_bad_records", "Malformed records sent to the dead-letter sink."),
    ("late", "driftstream_late_records", "Records later than the watermark plus allowed lateness."),
    ("windows_emitted", "driftstream_windows_emitted", "Event-time windows closed and emitted."),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


class MonitorCollector(Collector):
    """The latest state of one monitor, collected from hub records (thread-safe)."""

    def __init__(self, model: str):
        self.model = model
        self._lock = threading.Lock()
        self._health: dict[str, Any] = {}
        self._results: dict[str, int] = defaultdict(int)
        self._alerts: dict[str, int] = defaultdict(int)
        self._drift: dict[tuple[str, str], dict[str, Any]] = {}

    def update(self, kind: str, records: list[dict[str, Any]]) -> None:
        """A hub subscriber: cheap dictionary updates only (it runs on the engine's loop)."""
        with self._lock:
            self._results[kind] += len(records)
            if kind == "health":
                self._health = dict(records[-1])
            elif kind == "alerts":
                for record in records:
                    self._alerts[str(record.get("severity") or "unknown")] += 1
            elif kind == "drift":
                self._latest_drift(records)

    def _latest_drift(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            key = (str(record.get("feature")), str(record.get("detector")))
            seen = self._drift.get(key)
            if seen is None or (record.get("window_start") or 0) >= (seen.get("window_start") or 0):
                self._drift[key] = record

    def seed(self, hub: Any) -> None:
        """Latest gauges from the hub's history (counts of earlier results are not replayed)."""
        health, drift = hub.history("health"), hub.history("drift")
        with self._lock:
            if health:
                self._health = dict(health[-1])
            self._latest_drift(drift)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            health = dict(self._health)
            results, alerts = dict(self._results), dict(self._alerts)
            drift = dict(self._drift)
        model = self.model
        for field, name, doc in HEALTH_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["model"])
            family.add_metric([model], _number(health.get(field)) or 0.0)
            yield family
        gauges = (
            ("driftstream_events_per_second", "Records read per second over the last health tick.",
             _number(health.get("events_per_s"))),
            ("driftstream_window_latency_seconds", "Latency of the last emitted window after its end.",
             None if _number(health.get("window_latency_ms")) is None else health["window_latency_ms"] / 1000.0),
            ("driftstream_watermark_seconds", "Event-time watermark (epoch seconds).",
             None if _number(health.get("watermark")) is None else health["watermark"] / 1000.0),
            ("driftstream_last_health_seconds", "When the latest health record was emitted (epoch seconds).",
             None if _number(health.get("emitted_at")) is None else health["emitted_at"] / 1000.0),
        )
        for name, doc, value in gauges:
            family = GaugeMetricFamily(name, doc, labels=["model"])
            if value is not None:
                family.add_metric([model], value)
            yield family
        lag = GaugeMetricFamily("driftstream_consumer_lag", "Kafka consumer lag (messages) per partition.",
                                labels=["model", "partition"])
        for partition, value in sorted((health.get("lag") or {}).items()):
            if _number(value) is not None:
                lag.add_metric([model, str(partition)], float(value))
        yield lag
        family = CounterMetricFamily("driftstream_results", "Result records published, per kind.",
                                     labels=["model", "kind"])
        for kind, count in sorted(results.items()):
            family.add_metric([model, kind], count)
        yield family
        family = CounterMetricFamily("driftstream_alerts", "Alerts raised, per severity.", labels=["model", "severity"])
        for severity, count in sorted(alerts.items()):
            family.add_metric([model, severity], count)
        yield family
        labels = ["model", "feature", "detector"]
        statistic = GaugeMetricFamily("driftstream_drift_statistic", "Latest drift statistic.", labels=labels)
        threshold = GaugeMetricFamily("driftstream_drift_threshold", "Threshold of the latest drift test.", labels=labels)
        p_value = GaugeMetricFamily("driftstream_drift_p_value", "p-value of the latest drift test.", labels=labels)
        detected = GaugeMetricFamily("driftstream_drift_detected", "1 if the latest window drifted.", labels=labels)
        window_end = GaugeMetricFamily("driftstream_drift_window_end_seconds",
                                       "End of the window of the latest drift test (epoch seconds).", labels=labels)
        for (feature, detector), record in sorted(drift.items()):
            values = [model, feature, detector]
            for family, value in ((statistic, record.get("statistic")), (threshold, record.get("threshold")),
                                  (p_value, record.get("p_value")), (detected, record.get("drift"))):
                if _number(value) is not None:
                    family.add_metric(values, _number(value))
            if _number(record.get("window_end")) is not None:
                window_end.add_metric(values, record["window_end"] / 1000.0)
        yield from (statistic, threshold, p_value, detected, window_end)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsServer:
    """``/metrics`` and ``/healthz`` over HTTP for the monitor publishing into ``hub``.

    It subscribes to ``hub`` when constructed (and takes the latest health and drift values
    from the hub's history); ``start()`` serves, ``stop()`` stops serving and unsubscribes.

    Parameters
    ----------
    hub
        The monitor's :class:`~driftstream.engine.hub.ResultHub`.
    model
        Value of the ``model`` label.
    host, port
        Where to listen (127.0.0.1 by default; port 0 picks a free one, see ``url``).
    token
        Protects ``/metrics``: ``Authorization: Bearer <token>``, or basic auth when the
        token is ``user:password``. ``None``: open.
    """

    def __init__(self, hub: Any, model: str, host: str = "127.0.0.1", port: int = 9108, token: str | None = None):
        self.hub, self.model = hub, model
        self.host, self.port = host, port
        self.token = token or None
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = MonitorCollector(model)
        self.registry.register(self.collector)
        self.collector.seed(hub)
        self._unsubscribe: Any = hub.subscribe(self.collector.update)
        self._http: BackgroundHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the metrics server is not started")
        return self._http.url

    def scrape(self) -> bytes:
        """The exposition text, as ``/metrics`` serves it."""
        return generate_latest(self.registry)

    def start(self) -> MetricsServer:
        if self._http is not None:
            return self
        if self._unsubscribe is None:  # restarted after stop()
            self.collector.seed(self.hub)
            self._unsubscribe = self.hub.subscribe(self.collector.update)
        if self.token is None and not _is_loopback(self.host):
            logger.warning("metrics on %s:%s without a token: anyone who can reach it can read them",
                           self.host, self.port)

        class Handler(_Handler):
            pass

        Handler.metrics = self
        self._http = BackgroundHTTPServer(self.host, self.port, Handler, "metrics").start()
        logger.info("Prometheus metrics at %s/metrics", self.url)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def authorized(self, header: str | None) -> bool:
        """Does this ``Authorization`` header satisfy ``token``? (constant-time comparisons)"""
        if self.token is None:
            return True
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip().encode()
        expected = self.token.encode()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(credentials, expected)
        if scheme.lower() == "basic" and b":" in expected:
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except (ValueError, TypeError):
                return False
            return hmac.compare_digest(decoded, expected)
        return False


class _Handler(BaseHTTPRequestHandler):
    metrics: MetricsServer
    server_version = "driftstream-metrics"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.client_address[0], *args)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/metrics":
            if not self.metrics.authorized(self.headers.get("Authorization")):
                challenge = 'Bearer realm="driftstream"'
                if self.metrics.token and ":" in self.metrics.token:
                    challenge = 'Basic realm="driftstream", charset="UTF-8"'
                self._send(401, b"unauthorized\n", headers={"WWW-Authenticate": challenge})
                return
            try:
                body = generate_latest(self.metrics.registry)
            except Exception:
                logger.exception("collecting metrics failed")
                self._send(500, b"collecting metrics failed\n")
                return
            self._send(200, body, CONTENT_TYPE_PLAIN_0_0_4)
        else:
            self._send(404, b"not found\n")

    do_HEAD = do_GET
