"""The monitor spec: one YAML document that says what to watch, how, and where results go.

Validated with pydantic; every error names the field, what was expected and what was given.

Examples
--------
>>> spec = MonitorSpec.model_validate({
...     "model": "iris",
...     "schema": {"features": {"sepal_length": "numeric", "species": "categorical"},
...                "prediction": "categorical"},
...     "window": {"size": "15s", "watermark": "6s"},
... })
>>> spec.window.size_ms, spec.window.slide_ms, spec.window.watermark_ms
(15000, 15000, 6000)
>>> spec.schema_.numeric_features
['sepal_length']
>>> parse_duration("1m30s"), parse_duration(250), parse_duration("200ms")
(90000, 250, 200)
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
PREDICTION = "prediction"


def parse_duration(value: str | int | float) -> int:
    """A human duration ("15s", "1m30s", "250ms") or a number of milliseconds, in ms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '15s' or milliseconds, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration must not be negative, got {value!r}")
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"expected a duration like '15s', '500ms', '1m30s'; got {value!r}")
    return int(sum(float(n) * _UNIT_MS[u] for n, u in parts))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WindowSpec(_Strict):
    """Event-time windows: tumbling when ``slide`` is unset, sliding otherwise."""

    size: str | int = "15s"
    slide: str | int | None = None
    watermark: str | int = "6s"
    allowed_lateness: str | int = 0
    idle_timeout: str | int = "10s"
    max_future: str | int | None = Field(
        default="1d", description="event times further ahead of the wall clock are dead-lettered; null accepts any"
    )

    @field_validator("size", "slide", "watermark", "allowed_lateness", "idle_timeout", "max_future")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _slide_divides_size(self) -> WindowSpec:
        if self.size_ms <= 0:
            raise ValueError(f"window.size must be positive; got {self.size!r}")
        if self.slide_ms <= 0 or self.slide_ms > self.size_ms:
            raise ValueError(f"window.slide must be in (0, size]; got {self.slide!r} for size {self.size!r}")
        if self.size_ms % self.slide_ms:
            raise ValueError(
                f"window.slide must divide window.size; got slide {self.slide!r} and size {self.size!r}"
            )
        return self

    @property
    def size_ms(self) -> int:
        return parse_duration(self.size)

    @property
    def slide_ms(self) -> int:
        return parse_duration(self.slide) if self.slide is not None else self.size_ms

    @property
    def watermark_ms(self) -> int:
        return parse_duration(self.watermark)

    @property
    def allowed_lateness_ms(self) -> int:
        return parse_duration(self.allowed_lateness)

    @property
    def idle_timeout_ms(self) -> int:
        return parse_duration(self.idle_timeout)

    @property
    def max_future_ms(self) -> int | None:
        return parse_duration(self.max_future) if self.max_future is not None else None


class SchemaSpec(_Strict):
    """Feature names and types; the prediction is monitored like one more feature."""

    features: dict[str, Literal["numeric", "categorical"]]
    prediction: Literal["numeric", "categorical"] | None = "numeric"

    @field_validator("features")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("schema.features must list at least one feature")
        if PREDICTION in value:
            raise ValueError(f"'{PREDICTION}' is reserved for the model output; rename that feature")
        return value

    @property
    def columns(self) -> dict[str, str]:
        """Every monitored column (features, then the prediction) with its type."""
        cols = dict(self.features)
        if self.prediction:
            cols[PREDICTION] = self.prediction
        return cols

    @property
    def numeric_features(self) -> list[str]:
        return [name for name, kind in self.columns.items() if kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [name for name, kind in self.columns.items() if kind == "categorical"]


def _env(name: str, default: str | None = None) -> Any:
    return Field(default_factory=lambda: os.environ.get(name, default))


class KafkaSecurity(_Strict):
    """Kafka SASL/SSL settings; unset fields fall back to ``DRIFTSTREAM_KAFKA_*`` env vars (the Helm chart's Secret)."""

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = _env("DRIFTSTREAM_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = _env("DRIFTSTREAM_KAFKA_SASL_MECHANISM")
    sasl_plain_username: str | None = _env("DRIFTSTREAM_KAFKA_SASL_USERNAME")
    sasl_plain_password: str | None = Field(default_factory=lambda: os.environ.get("DRIFTSTREAM_KAFKA_SASL_PASSWORD"), repr=False)
    ssl_cafile: str | None = _env("DRIFTSTREAM_KAFKA_SSL_CAFILE")
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (unset ones left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SourceSpec(_Strict):
    """Where inference logs come from: a Kafka topic (consumer group) or a file replay."""

    kind: Literal["kafka", "replay"] = "kafka"
    client: Literal["kafka-python", "confluent"] = Field(
        default="kafka-python",
        description="'confluent' reads through librdkafka (pip install 'driftstream[fast]'): records fetched and "
        "parsed in C instead of Python, a quarter of the engine's time at 20,000-40,000 requests/s",
    )
    topic: str | None = None
    bootstrap_servers: str = Field(default_factory=lambda: os.environ.get("DRIFTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    group_id: str | None = None
    group_instance_id: str | None = Field(
        default=None,
        description="Kafka static membership: a restarted engine takes its partitions back at once instead of "
        "sharing them with its dead predecessor until the session times out (default: '<group_id>-<hostname>')",
    )
    static_membership: bool = False
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_poll_records: int = Field(default=5000, gt=0)
    fetch_max_wait: str | int = "20ms"
    stall_timeout: str | int = Field(
        default="60s",
        description="assigned partitions behind their log end and nothing fetched for this long: the consumer is "
        "replaced by a new one (kafka-python can be left in a group generation whose sync never completed)",
    )
    security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    path: str | None = None
    rate: float | None = Field(default=None, gt=0, description="records/s for replay; None = as fast as possible")
    restamp: bool = False
    batch_size: int = Field(default=2000, gt=0)

    @model_validator(mode="after")
    def _kind_fields(self) -> SourceSpec:
        if self.kind == "replay" and not self.path:
            raise ValueError("source.path is required when source.kind is 'replay'")
        return self


class OutlierDetectorSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    features: list[str] | None = None


class OutliersSpec(_Strict):
    enabled: bool = True
    detectors: list[OutlierDetectorSpec] = Field(
        default_factory=lambda: [OutlierDetectorSpec(name="range"), OutlierDetectorSpec(name="stddev")]
    )
    emit_all: bool = False


class DriftDetectorSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    features: list[str] | None = None


class DriftSpec(_Strict):
    enabled: bool = True
    detectors: list[DriftDetectorSpec] = Field(
        default_factory=lambda: [
            DriftDetectorSpec(name=n) for n in ("kl", "js", "wasserstein_hist", "ks", "psi", "chi2")
        ]
    )
    correction: Literal["bonferroni", "bh", "none"] = "bh"
    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_windows_between_alerts: int = Field(default=3, ge=0, description="alert cooldown in windows")
    min_effect_size: dict[str, float] = Field(default_factory=dict)
    alert_on_distance: bool = Field(
        default=False,
        description="let distance-only detectors (kl, js, psi...) raise alerts on their fixed thresholds; "
        "off by default because those thresholds ignore the window size (noise alone crosses them on small windows)",
    )


class StatsSpec(_Strict):
    percentiles: list[float] = Field(default_factory=lambda: [25.0, 50.0, 75.0])
    correlation: bool = True

    @field_validator("percentiles")
    @classmethod
    def _in_range(cls, value: list[float]) -> list[float]:
        bad = [p for p in value if not 0 <= p <= 100]
        if bad:
            raise ValueError(f"stats.percentiles must lie in [0, 100]; got {bad}")
        return value


class KafkaSinkSpec(_Strict):
    enabled: bool = True
    bootstrap_servers: str | None = None
    topic_prefix: str | None = None  # default: "<model>."
    client: Literal["kafka-python", "confluent"] = Field(
        default="kafka-python",
        description="'confluent' writes results through librdkafka (pip install 'driftstream[fast]'): "
        "a few us per result instead of ~40 us in kafka-python",
    )


class SinksSpec(_Strict):
    kafka: KafkaSinkSpec | None = Field(default_factory=KafkaSinkSpec)
    parquet: str | None = None
    memory: bool = True


class DashboardSpec(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5006
    allow_websocket_origin: list[str] | None = None


class MetricsSpec(_Strict):
    """The Prometheus endpoint (``/metrics``, ``/healthz``); the chart turns it on through env vars."""

    enabled: bool = Field(default_factory=lambda: bool(os.environ.get("DRIFTSTREAM_METRICS_PORT")))
    host: str = Field(default_factory=lambda: os.environ.get("DRIFTSTREAM_METRICS_HOST", "127.0.0.1"))
    port: int = Field(default_factory=lambda: int(os.environ.get("DRIFTSTREAM_METRICS_PORT", "9108")))
    token: str | None = Field(default_factory=lambda: os.environ.get("DRIFTSTREAM_METRICS_TOKEN"), repr=False)


class LocalClusterSpec(_Strict):
    n_workers: int = Field(default=1, gt=0)
    threads_per_worker: int = Field(default=2, gt=0)
    processes: bool = True
    memory_limit: str = "4GiB"
    dashboard_address: str = "127.0.0.1:0"


class DaskTLSSpec(_Strict):
    """TLS for the Dask comms (``distributed.security.Security``): PEM file paths."""

    ca_file: str
    client_cert: str
    client_key: str | None = None
    require_encryption: bool = True

    def security(self) -> Any:
        from distributed.security import Security

        return Security(
            tls_ca_file=self.ca_file, tls_client_cert=self.client_cert, tls_client_key=self.client_key,
            require_encryption=self.require_encryption,
        )


class ClusterSpec(_Strict):
    local: LocalClusterSpec | None = None
    address: str | None = None
    kubernetes: dict[str, Any] | None = None
    tls: DaskTLSSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ClusterSpec:
        chosen = [k for k in ("local", "address", "kubernetes") if getattr(self, k) is not None]
        if self.tls is not None and not self.address:
            raise ValueError("cluster.tls applies to an existing scheduler: set cluster.address (tls://host:port) too")
        if len(chosen) > 1:
            raise ValueError(f"cluster takes exactly one of local, address, kubernetes; got {chosen}")
        if not chosen:
            self.local = LocalClusterSpec()
        return self


class EngineSpec(_Strict):
    """Settings of the engine process itself."""

    gc_threshold: tuple[int, int, int] | None = Field(
        default=(20_000, 50, 50),
        description="Python's gc thresholds while the monitor runs (restored when it stops); None keeps the "
        "process's. Python's (700, 10, 10) runs a full collection every few seconds at 20,000 requests/s, "
        "~150 ms each with the engine's live objects: outlier p75 0.60 -> 0.22 s in the replay benchmark",
    )
    dask_message_log: int | None = Field(
        default=0, ge=0,
        description="messages Dask keeps per connection for debugging (distributed.admin.low-level-log-length) "
        "while the monitor runs; None keeps the process's. Dask's 1,000 keeps the last 1,000 micro-batch "
        "frames alive in the engine (its client's and in-process scheduler's sent messages): ~0.7 GB at 40,000 requests/s",
    )
    keep_closed_windows: int = Field(
        default=2, ge=0,
        description="closed windows whose rows stay on the cluster for Monitor.window_frame (besides the open ones); "
        "each costs its rows in worker memory and, with the scheduler in the engine process, in the engine's too",
    )
    early_close: bool = Field(
        default=True,
        description="compute a window's results once the event time is half the watermark delay past its end, "
        "and emit them when the watermark closes it if no record arrived for it in between (else recompute): "
        "the emitted results are the same, the close costs ~nothing on the latency path",
    )


class MonitorSpec(_Strict):
    """A whole monitor: model, source, schema, baseline, window, analyses, sinks, cluster."""

    model: str
    model_version: str | None = None
    source: SourceSpec = Field(default_factory=SourceSpec)
    schema_: SchemaSpec = Field(alias="schema")
    baseline: str | None = None
    window: WindowSpec = Field(default_factory=WindowSpec)
    stats: StatsSpec = Field(default_factory=StatsSpec)
    outliers: OutliersSpec = Field(default_factory=OutliersSpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)
    sinks: SinksSpec = Field(default_factory=SinksSpec)
    dashboard: DashboardSpec = Field(default_factory=DashboardSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    engine: EngineSpec = Field(default_factory=EngineSpec)

    @model_validator(mode="after")
    def _defaults(self) -> MonitorSpec:
        if self.source.kind == "kafka":
            self.source.topic = self.source.topic or f"{self.model}.inference"
            self.source.group_id = self.source.group_id or f"driftstream-{self.model}"
            if self.source.static_membership and not self.source.group_instance_id:
                raw = f"{self.source.group_id}-{socket.gethostname()}"
                self.source.group_instance_id = re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:249]
        return self

    @property
    def topic_prefix(self) -> str:
        prefix = self.sinks.kafka.topic_prefix if self.sinks.kafka else None
        return prefix if prefix is not None else f"{self.model}."


class SpecError(ValueError):
    """A monitor spec that does not validate; the message lists every problem."""


def _explain(error: ValidationError, source: str) -> str:
    lines = [f"The monitor spec {source} is not valid:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = repr(got) if not isinstance(got, dict) else "a mapping"
        lines.append(f"  - {where}: {item['msg']} (got {shown})")
    return "\n".join(lines)


def load_spec(source: str | Path | dict[str, Any] | MonitorSpec) -> MonitorSpec:
    """Load and validate a spec from a YAML file, a YAML string, a mapping or a spec.

    Relative paths inside a spec file (baseline, source.path, sinks.parquet) are taken
    relative to the file's folder.
    """
    if isinstance(source, MonitorSpec):
        return source
    base: Path | None = None
    label = "given as a mapping"
    if isinstance(source, dict):
        data = source
    else:
        text = str(source)
        path = Path(text)
        if "\n" not in text and path.suffix in {".yaml", ".yml", ".json"}:
            if not path.exists():
                raise SpecError(f"The monitor spec file {path} does not exist.")
            base, label = path.resolve().parent, str(path)
            text = path.read_text()
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise SpecError(f"The monitor spec {label} must be a YAML mapping; got {type(data).__name__}.")
    try:
        spec = MonitorSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_explain(exc, label)) from None
    if base is not None:
        _resolve_paths(spec, base)
    return spec


def _resolve_paths(spec: MonitorSpec, base: Path) -> None:
    def resolve(p: str | None) -> str | None:
        return str((base / p).resolve()) if p and not Path(p).is_absolute() else p

    spec.baseline = resolve(spec.baseline)
    spec.source.path = resolve(spec.source.path)
    spec.sinks.parquet = resolve(spec.sinks.parquet)
