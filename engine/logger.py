"""KServe / KFServing inference logger: CloudEvents in over HTTP, contract records out to Kafka.

Point an InferenceService's ``logger.url`` at this service (``driftstream logger``). KServe
sends one CloudEvent per request and one per response, sharing the same ``ce-id``:

- binary content mode: ``ce-id``, ``ce-type``, ``ce-source``, ``ce-specversion``, ``ce-time``
  (plus KServe's ``ce-inferenceservicename``, ``ce-namespace``, ``ce-component``,
  ``ce-endpoint``) headers, the body is the JSON payload;
- structured content mode: ``Content-Type: application/cloudevents+json``, the body is the
  envelope with the payload in ``data`` (or ``data_base64``).

``ce-type`` ``org.kubeflow.serving.inference.request`` carries ``instances`` (v1; rows as
lists or dicts, or TF-style ``inputs``) or v2 ``inputs`` (tensors ``{name, shape, datatype,
data}``); ``...inference.response`` carries ``predictions`` (v1) or v2 ``outputs``. The two
halves are joined by id in a bounded, time-limited pending table (whichever arrives first
waits); a request with N rows gives N records keyed ``<ce-id>-<i>`` (``<ce-id>`` when N == 1),
produced to ``<model>.inference`` (or ``--topic``) in the format of
:func:`driftstream.streams.producer.inference_record`, and acknowledged by Kafka before the
HTTP answer. Bad events get a 4xx with ``{"error": reason}``.

Examples
--------
>>> rows, names = request_rows({"instances": [[1, 2], [3, 4]]}, ["a", "b"])
>>> rows
[{'a': 1, 'b': 2}, {'a': 3, 'b': 4}]
>>> request_rows({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",
...                           "data": [1, 2, 3, 4]}]}, ["a", "b"])[0]
[{'a': 1, 'b': 2}, {'a': 3, 'b': 4}]
>>> response_predictions({"outputs": [{"name": "p", "shape": [2], "datatype": "INT64", "data": [0, 1]}]})[0]
[0, 1]
>>> parse_time("2024-05-01T12:00:00.250Z")
1714564800250
>>> with LoggerService("iris", bootstrap_servers="127.0.0.1:9092", port=0) as service:  # doctest: +SKIP
...     service.url
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

from driftstream.streams.producer import inference_record
from driftstream.streams.sources import now_ms
from .httpserver import BackgroundHTTPServer

logger = logging.getLogger(__name__)

REQUEST_SUFFIX = ".inference.request"
RESPONSE_SUFFIX = ".inference.response"
STRUCTURED = "application/cloudevents+json"
MAX_BODY = 16 * 1024 * 1024


class EventError(ValueError):
    """A bad event: answered with ``status`` and ``{"error": str(self)}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------- payloads


def parse_time(value: str | None) -> int | None:
    """RFC 3339 time -> epoch ms (``None`` if absent); nanosecond fractions are accepted."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # trim fractions beyond microseconds (Go writes nanoseconds)
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise EventError(f"ce-time is not RFC 3339: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(round(moment.timestamp() * 1000))


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list):
        out: list[Any] = []
        for item in data:
            out.extend(_flatten(item))
        return out
    return [data]


def _tensor_rows(tensor: Any, what: str) -> list[Any]:
    """A v2 tensor -> one value per row (scalar when a row has one element, else a list)."""
    if not isinstance(tensor, dict) or "data" not in tensor:
        raise EventError(f"{what}: every v2 tensor needs 'name', 'shape', 'datatype' and 'data'")
    shape = tensor.get("shape")
    data = _flatten(tensor["data"])
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise EventError(f"{what} {tensor.get('name')!r}: shape must be a list of non-negative integers")
    if not shape:  # a scalar tensor: one row
        shape = [1]
    per_row = math.prod(shape[1:])
    if shape[0] * per_row != len(data):
        raise EventError(f"{what} {tensor.get('name')!r}: shape {shape} does not match {len(data)} data elements")
    if per_row == 1:
        return data
    return [data[i * per_row:(i + 1) * per_row] for i in range(shape[0])]


def _is_v2(tensors: Any) -> bool:
    return isinstance(tensors, list) and bool(tensors) and all(
        isinstance(t, dict) and "data" in t and "shape" in t for t in tensors)


def _named(row: Any, feature_names: list[str] | None) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    values = row if isinstance(row, list) else [row]
    if feature_names is None:
        return {f"f{i}": v for i, v in enumerate(values)}
    if len(values) != len(feature_names):
        raise EventError(f"instance has {len(values)} values but {len(feature_names)} feature names are configured "
                         f"({', '.join(feature_names)})")
    return dict(zip(feature_names, values))


def request_rows(payload: Any, feature_names: list[str] | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The feature dict of each row of a request payload (and the v2 ``model_version``, if any).

    v1 ``instances``: dict rows as they are, list rows named by ``feature_names`` (``f0, f1...``
    when none are configured). v2 ``inputs``: one tensor ``[N, k]`` gives rows of k named
    features; several tensors are one feature each, named by the tensor.
    """
    if not isinstance(payload, dict):
        raise EventError("request payload must be a JSON object")
    if "instances" in payload:
        rows = payload["instances"]
        if not isinstance(rows, list):
            raise EventError("'instances' must be a list")
        return [_named(row, feature_names) for row in rows], None
    inputs = payload.get("inputs")
    if _is_v2(inputs):
        columns = [(t.get("name"), _tensor_rows(t, "input")) for t in inputs]
        sizes = {len(col) for _, col in columns}
        if len(sizes) != 1:
            raise EventError(f"v2 inputs disagree on the number of rows: {sorted(sizes)}")
        if len(columns) == 1:
            name, col = columns[0]
            if feature_names and len(feature_names) == 1:
                return [{feature_names[0]: v} for v in col], None
            if all(not isinstance(v, list) for v in col) and not feature_names:
                return [{str(name or "f0"): v} for v in col], None
            return [_named(v, feature_names) for v in col], None
        return [{str(name): col[i] for name, col in columns} for i in range(sizes.pop())], None
    if isinstance(inputs, list):  # v1 TF-style row format
        return [_named(row, feature_names) for row in inputs], None
    if isinstance(inputs, dict):  # v1 TF-style columnar format
        cols = {k: (v if isinstance(v, list) else [v]) for k, v in inputs.items()}
        sizes = {len(v) for v in cols.values()}
        if len(sizes) > 1:
            raise EventError(f"columnar 'inputs' disagree on the number of rows: {sorted(sizes)}")
        n = sizes.pop() if sizes else 0
        return [{k: v[i] for k, v in cols.items()} for i in range(n)], None
    raise EventError("request event has neither 'instances' nor 'inputs'")


def response_predictions(payload: Any) -> tuple[list[Any], str | None]:
    """One prediction per row from a response payload (v1 ``predictions`` or the first v2 output)."""
    if not isinstance(payload, dict):
        raise EventError("response payload must be a JSON object")
    if "predictions" in payload:
        predictions = payload["predictions"]
        if not isinstance(predictions, list):
            raise EventError("'predictions' must be a list")
        return predictions, None
    outputs = payload.get("outputs")
    if _is_v2(outputs):
        version = payload.get("model_version")
        return _tensor_rows(outputs[0], "output"), (str(version) if version not in (None, "") else None)
    if isinstance(outputs, list):
        return outputs, None
    raise EventError("response event has neither 'predictions' nor 'outputs'")


# ----------------------------------------------------------------------------- events


def parse_event(headers: Any, body: bytes) -> dict[str, Any]:
    """An HTTP request -> ``{id, type, kind, time, source, service, payload, ...}`` (raises EventError)."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/cloudevents-batch+json":
        raise EventError("batched CloudEvents are not supported; use binary or structured mode", 415)
    if content_type == STRUCTURED:
        try:
            envelope = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventError(f"bad JSON in structured CloudEvent: {exc}") from None
        if not isinstance(envelope, dict):
            raise EventError("structured CloudEvent must be a JSON object")
        attrs = {str(k).lower(): v for k, v in envelope.items() if k not in ("data", "data_base64")}
        if "data_base64" in envelope:
            try:
                raw = base64.b64decode(envelope["data_base64"], validate=True)
                payload = json.loads(raw)
            except (binascii.Error, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EventError(f"bad data_base64 in structured CloudEvent: {exc}") from None
        elif "data" in envelope:
            payload = envelope["data"]
            if isinstance(payload, str):  # data given as a JSON string
                try:
                    payload = json.loads(payload)
                except json.JSONDecodeError as exc:
                    raise EventError(f"bad JSON in CloudEvent data: {exc}") from None
        else:
            raise EventError("structured CloudEvent has no data")
    else:
        attrs = {k.lower()[3:]: v for k, v in headers.items() if k.lower().startswith("ce-")}
        if not attrs:
            raise EventError("not a CloudEvent: no ce-* headers and Content-Type is not application/cloudevents+json")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventError(f"bad JSON in event body: {exc}") from None
    event_id = attrs.get("id")
    if not event_id or not isinstance(event_id, str):
        raise EventError("missing ce-id")
    event_type = attrs.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise EventError("missing ce-type")
    if event_type.endswith(REQUEST_SUFFIX):
        kind = "request"
    elif event_type.endswith(RESPONSE_SUFFIX):
        kind = "response"
    else:
        raise EventError(f"unknown ce-type {event_type!r}: expected ...{REQUEST_SUFFIX} or ...{RESPONSE_SUFFIX}")
    time_attr = attrs.get("time")
    return {
        "id": event_id,
        "type": event_type,
        "kind": kind,
        "time": parse_time(time_attr if isinstance(time_attr, str) else None),
        "source": attrs.get("source"),
        "service": attrs.get("inferenceservicename"),
        "namespace": attrs.get("namespace"),
        "component": attrs.get("component"),
        "endpoint": attrs.get("endpoint"),
        "payload": payload,
    }


class PendingTable:
    """Half-joined events by id: bounded (oldest evicted) and time-limited (``ttl`` seconds)."""

    def __init__(self, max_size: int = 10_000, ttl: float = 60.0):
        self.max_size, self.ttl = max_size, ttl
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self.expired = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._items)

    def pop(self, key: str) -> dict[str, Any] | None:
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def put(self, key: str, event: dict[str, Any], now: float) -> None:
        self._items.pop(key, None)
        self._items[key] = (now, event)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
            self.evicted += 1

    def sweep(self, now: float) -> int:
        dropped = 0
        while self._items:
            key, (arrived, _) = next(iter(self._items.items()))
            if now - arrived < self.ttl:
                break
            self._items.popitem(last=False)
            dropped += 1
        self.expired += dropped
        return dropped


# ----------------------------------------------------------------------------- service


def _env_kafka_params() -> dict[str, Any]:
    """kafka-python security settings from the chart's DRIFTSTREAM_KAFKA_* environment."""
    names = {
        "security_protocol": "DRIFTSTREAM_KAFKA_SECURITY_PROTOCOL",
        "sasl_mechanism": "DRIFTSTREAM_KAFKA_SASL_MECHANISM",
        "sasl_plain_username": "DRIFTSTREAM_KAFKA_SASL_USERNAME",
        "sasl_plain_password": "DRIFTSTREAM_KAFKA_SASL_PASSWORD",
        "ssl_cafile": "DRIFTSTREAM_KAFKA_SSL_CAFILE",
    }
    return {key: os.environ[env] for key, env in names.items() if os.environ.get(env)}


class LoggerService:
    """The inference logger: an HTTP server (``start``/``stop``, ``url``) producing to Kafka.

    Parameters
    ----------
    model
        Model name written in the records; ``None`` takes each event's
        ``ce-inferenceservicename`` (events without one are refused).
    topic
        Kafka topic; ``None`` means ``<model>.inference``.
    feature_names
        Names for positional (list) instances, in the spec's schema order.
    port
        0 picks a free port (see ``url``).
    pending_ttl, max_pending
        How long (s) and how many half-joined events wait for their other half.
    ack_timeout
        Seconds to wait for Kafka to acknowledge the records before answering 503.
    """

    def __init__(self, model: str | None = None, topic: str | None = None, bootstrap_servers: str = "127.0.0.1:9092",
                 feature_names: list[str] | None = None, host: str = "127.0.0.1", port: int = 8080,
                 pending_ttl: float = 60.0, max_pending: int = 10_000, ack_timeout: float = 10.0,
                 producer_params: dict[str, Any] | None = None):
        self.model, self.topic = model, topic
        self.bootstrap_servers = bootstrap_servers
        self.feature_names = list(feature_names) if feature_names else None
        self.host, self.port = host, port
        self.ack_timeout = ack_timeout
        self.producer_params = {**_env_kafka_params(), **(producer_params or {})}
        self.pending = PendingTable(max_pending, pending_ttl)
        self.counters = {"events": 0, "rejected": 0, "joined": 0, "records": 0}
        self._lock = threading.Lock()
        self._producer: Any = None
        self._http: BackgroundHTTPServer | None = None

    # -- lifecycle
    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the logger is not started")
        return self._http.url

    def start(self) -> LoggerService:
        from kafka import KafkaProducer

        params = {"acks": "all", "linger_ms": 2, "max_block_ms": int(self.ack_timeout * 1000), **self.producer_params}
        self._producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, **params)
        service = self

        class Handler(_Handler):
            pass

        Handler.service = service
        self._http = BackgroundHTTPServer(self.host, self.port, Handler, "logger").start()
        logger.info("inference logger listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._producer is not None:
            self._producer.flush(timeout=10)
            self._producer.close(timeout=10)
            self._producer = None

    def __enter__(self) -> LoggerService:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- events
    def handle(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Join ``event`` with its other half; produce when both are here. Returns (status, body)."""
        now = time.monotonic()
        if event["time"] is None:
            event["time"] = now_ms()
        with self._lock:
            self.counters["events"] += 1
            dropped = self.pending.sweep(now)
            if dropped:
                logger.warning("%d half-joined inference events expired without their other half", dropped)
            other = self.pending.pop(event["id"])
            if other is not None and other["kind"] == event["kind"]:  # a retried duplicate: keep the newest
                other = None
            if other is None:
                # validate now so the sender hears about a bad payload on the event that carries it
                self._rows(event)
                self.pending.put(event["id"], event, now)
                return 202, {"status": "pending", "id": event["id"], "waiting_for": _other(event["kind"])}
        request, response = (event, other) if event["kind"] == "request" else (other, event)
        records = self._records(request, response)
        topic = (self.topic or f"{records[0]['model']}.inference") if records else None
        if records:
            try:
                futures = [self._producer.send(topic, key=str(r["request_id"]).encode(), value=json.dumps(r).encode())
                           for r in records]
                for future in futures:
                    future.get(timeout=self.ack_timeout)
            except Exception as exc:
                with self._lock:  # let a retry of either half complete the join
                    self.pending.put(other["id"], other, time.monotonic())
                raise EventError(f"Kafka did not acknowledge the records: {exc}", 503) from None
        with self._lock:
            self.counters["joined"] += 1
            self.counters["records"] += len(records)
        return 200, {"status": "produced", "id": event["id"], "records": len(records), "topic": topic}

    def _rows(self, event: dict[str, Any]) -> tuple[list[Any], str | None]:
        if event["kind"] == "request":
            return request_rows(event["payload"], self.feature_names)
        return response_predictions(event["payload"])

    def _records(self, request: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
        rows, _ = self._rows(request)
        predictions, version = self._rows(response)
        if len(rows) != len(predictions):
            raise EventError(f"request {request['id']!r} has {len(rows)} instances but its response has "
                             f"{len(predictions)} predictions")
        model = self.model or request.get("service") or response.get("service")
        if not model:
            raise EventError("no model name: start the logger with --model or send ce-inferenceservicename")
        base = request["id"]
        ts = request["time"] if request["time"] is not None else response["time"]
        return [inference_record(base if len(rows) == 1 else f"{base}-{i}", str(model), features, prediction,
                                 ts=ts, model_version=version)
                for i, (features, prediction) in enumerate(zip(rows, predictions))]


def _other(kind: str) -> str:
    return "response" if kind == "request" else "request"


class _Handler(BaseHTTPRequestHandler):
    service: LoggerService
    protocol_version = "HTTP/1.1"
    server_version = "driftstream-logger"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.client_address[0], *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == "/healthz":
            service = self.service
            with service._lock:
                body = {"status": "ok", "pending": len(service.pending), "expired": service.pending.expired,
                        "evicted": service.pending.evicted, **service.counters}
            self._reply(200, body)
        else:
            self._reply(404, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._reply(411, {"error": "Content-Length required"})
            return
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            self._reply(400, {"error": "bad Content-Length"})
            return
        if size < 0 or size > MAX_BODY:
            self.close_connection = True
            self._reply(413, {"error": f"body larger than {MAX_BODY} bytes"})
            return
        body = self.rfile.read(size)
        try:
            status, reply = self.service.handle(parse_event(self.headers, body))
        except EventError as exc:
            with self.service._lock:
                self.service.counters["rejected"] += 1
            logger.info("refused an inference event: %s", exc)
            status, reply = exc.status, {"error": str(exc)}
        except Exception as exc:  # never let a handler thread die silently
            logger.exception("inference logger failed on an event")
            status, reply = 500, {"error": f"internal error: {type(exc).__name__}"}
        self._reply(status, reply)


# ----------------------------------------------------------------------------- CLI


def register_cli(subparsers: Any) -> None:
    p = subparsers.add_parser("logger", help="KServe/KFServing inference logger: CloudEvents over HTTP -> Kafka")
    p.add_argument("--host", default=os.environ.get("DRIFTSTREAM_LOGGER_HOST", "127.0.0.1"),
                   help="address to bind (default $DRIFTSTREAM_LOGGER_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--topic", default=os.environ.get("DRIFTSTREAM_LOGGER_TOPIC") or None,
                   help="inference topic (default $DRIFTSTREAM_LOGGER_TOPIC, else <model>.inference)")
    p.add_argument("--model", default=os.environ.get("DRIFTSTREAM_LOGGER_MODEL") or None,
                   help="model name in the records (default: each event's ce-inferenceservicename)")
    p.add_argument("--bootstrap-servers", default=os.environ.get("DRIFTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--feature-names", default=os.environ.get("DRIFTSTREAM_LOGGER_FEATURE_NAMES") or None,
                   help="comma-separated names for positional instances, in schema order")
    p.add_argument("--spec", default=None,
                   help="monitor spec: takes the model and the feature names (schema order) from it")
    p.add_argument("--pending-ttl", type=float, default=60.0,
                   help="seconds a request waits for its response (and back)")
    p.set_defaults(func=cmd_logger)


def cmd_logger(args: Any) -> int:
    model = args.model
    names = [n.strip() for n in args.feature_names.split(",") if n.strip()] if args.feature_names else None
    if args.spec:
        from driftstream.engine.spec import load_spec

        spec = load_spec(args.spec)
        model = model or spec.model
        names = names or list(spec.schema_.features)
        topic = args.topic or spec.source.topic
    else:
        topic = args.topic
    service = LoggerService(model, topic, args.bootstrap_servers, names, host=args.host, port=args.port,
                            pending_ttl=args.pending_ttl)
    service.start()
    try:  # Kubernetes stops pods with SIGTERM: close the server and the producer cleanly
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    except ValueError:  # not the main thread
        pass
    print(f"driftstream logger on {service.url} -> {topic or (model or '<model>') + '.inference'}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        service.stop()
