"""Result sinks: Kafka topics (JSON, deterministic keys) and Parquet datasets.

A sink takes ``write(kind, records)`` calls (records already carry ``key`` and
``emitted_at``) and ``flush()``; the engine commits consumer offsets only after a flush.
Writes that fail are retried with exponential backoff and then raise a :class:`SinkError`
that names the sink and what to do; nothing is dropped silently.

Examples
--------
>>> import tempfile, pandas as pd
>>> folder = tempfile.mkdtemp()
>>> sink = ParquetSink(folder)
>>> sink.write("stats", [{"key": "m/0/x/stats", "feature": "x", "mean": 1.5, "histogram": [1, 2]}])
>>> sink.flush()
>>> pd.read_parquet(f"{folder}/stats")[["key", "mean"]].to_dict("records")
[{'key': 'm/0/x/stats', 'mean': 1.5}]
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

logger = logging.getLogger(__name__)

Record = dict[str, Any]


class SinkError(RuntimeError):
    """A result sink that keeps failing after retries."""


class Sink(Protocol):
    def write(self, kind: str, records: list[Record]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def retry(action: Callable[[], Any], what: str, attempts: int = 5, base_delay: float = 0.2) -> Any:
    """Run ``action``; on failure retry with exponential backoff, then raise :class:`SinkError`."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - any sink failure is retried the same way
            if attempt == attempts:
                raise SinkError(f"{what} failed after {attempts} attempts: {exc}") from exc
            delay = base_delay * 2 ** (attempt - 1)
            logger.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            time.sleep(delay)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


_ENCODER = json.JSONEncoder(default=_json_default, allow_nan=False, separators=(",", ":"))  # one, not one per record


def to_json(record: Record) -> bytes:
    return _ENCODER.encode(record).encode()


class KafkaSink:
    """JSON result records to one Kafka topic per kind: ``<prefix><kind>`` (e.g. ``iris.stats``).

    The message key is the record's deterministic ``key``, so a re-emitted result replaces its
    earlier copy in a compacted topic and is recognisable as a repeat everywhere else.
    A send the broker never acknowledged (e.g. it was down longer than the producer's retries)
    is kept and sent again by :meth:`flush`, which raises until every result is acknowledged:
    the engine commits its input offsets only after a successful flush, so nothing is lost.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        prefix: str,
        producer_params: dict[str, Any] | None = None,
        topics: dict[str, str] | None = None,
        flush_timeout_s: float = 30.0,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix
        self.producer_params = producer_params or {}
        self.topics = topics or {}
        self.flush_timeout_s = flush_timeout_s
        self._producer = None
        self._failed: list[tuple[str, bytes | None, bytes, Exception | None]] = []  # to send again
        self._ready: set[str] = set()  # topics known to exist
        self._lock = threading.Lock()
        self.send_errors = 0

    @property
    def producer(self):
        if self._producer is None:
            from kafka import KafkaProducer

            params = {"linger_ms": 5, "acks": 1, "retries": 5, "max_request_size": 8 << 20, "max_block_ms": 10_000,
                      **self.producer_params}
            self._producer = retry(
                lambda: KafkaProducer(bootstrap_servers=self.bootstrap_servers, **params),
                f"Connecting the result producer to Kafka at {self.bootstrap_servers}",
            )
        return self._producer

    def topic(self, kind: str) -> str:
        return self.topics.get(kind) or f"{self.prefix}{kind.replace('_', '-')}"

    def write(self, kind: str, records: list[Record]) -> None:
        """Send ``records`` (never blocks on a topic not confirmed yet: the next flush checks it)."""
        topic = self.topic(kind)
        messages = [(topic, r["key"].encode() if r.get("key") else None, to_json(r)) for r in records]
        if topic not in self._ready:
            with self._lock:
                self._failed.extend((*m, None) for m in messages)
            return
        for message in messages:
            self._send(*message)

    def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        try:
            future = self.producer.send(topic, key=key, value=value)
        except Exception as exc:  # noqa: BLE001 - buffer full or no metadata: kept for the next flush
            self._keep_failed(topic, key, value, exc)
            return
        future.add_errback(self._keep_failed, topic, key, value)

    def _keep_failed(self, topic: str, key: bytes | None, value: bytes, exc: Exception) -> None:
        # also on the producer's IO thread: keep the message for the next flush
        with self._lock:
            self._failed.append((topic, key, value, exc))
            self.send_errors += 1

    def _confirm_topic(self, topic: str) -> None:
        try:
            self.producer.partitions_for(topic)
        except Exception as exc:  # noqa: BLE001 - KafkaTimeoutError when the topic does not exist
            raise SinkError(
                f"The result topic {topic!r} is not available on {self.bootstrap_servers} "
                f"({type(exc).__name__}: {exc}); create it, or let the broker auto-create topics"
            ) from exc

    def _flush_once(self) -> None:
        with self._lock:
            waiting, self._failed = self._failed, []
        missing: dict[str, SinkError] = {}
        confirmed = []
        for topic in sorted({m[0] for m in waiting} - self._ready):
            if missing:  # one metadata wait per flush: the others are checked by the next one
                missing[topic] = next(iter(missing.values()))
                continue
            try:
                self._confirm_topic(topic)
                confirmed.append(topic)
            except SinkError as exc:
                missing[topic] = exc
        held = [m for m in waiting if m[0] in missing]  # kept until their topic exists
        if held:
            with self._lock:
                self._failed[:0] = held
        for topic, key, value, _ in waiting:
            if topic not in missing:
                self._send(topic, key, value)
        self._ready.update(confirmed)  # only now: later results of a topic never overtake held ones
        self._flush_producer()
        if missing:
            raise SinkError(f"{next(iter(missing.values()))} ({len(held)} results for {len(missing)} topics kept)")
        with self._lock:  # results written meanwhile for a topic not confirmed yet are the next flush's
            failed = [m for m in self._failed if m[3] is not None]
        if failed:
            topic, _, _, exc = failed[-1]
            raise SinkError(f"{len(failed)} results not acknowledged (last: topic {topic}, {type(exc).__name__}: {exc})")

    def _flush_producer(self) -> None:
        self.producer.flush(timeout=self.flush_timeout_s)

    def flush(self) -> None:
        if self._producer is not None or self._failed:
            retry(self._flush_once, f"Flushing results to Kafka at {self.bootstrap_servers}")

    @property
    def pending(self) -> int:
        """Results not yet acknowledged by the broker after the last flush."""
        return len(self._failed)

    def close(self) -> None:
        if self._producer is not None:
            self.flush()
            self._producer.close(timeout=5)
            self._producer = None


class ParquetSink:
    """Result records appended as Parquet files under ``<root>/<kind>/`` (a pandas-readable dataset).

    Records are buffered and written on :meth:`flush`, one file per kind and flush. Dict-valued
    fields (frequencies, evidence, lag...) are stored as JSON strings.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._buffers: dict[str, list[Record]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def write(self, kind: str, records: list[Record]) -> None:
        with self._lock:
            self._buffers.setdefault(kind, []).extend(records)

    def flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, {}
        pending = [(kind, records) for kind, records in buffers.items() if records]
        try:
            while pending:
                kind, records = pending[0]
                retry(lambda: self._write_file(kind, records), f"Writing {len(records)} {kind} records to Parquet under {self.root}")
                pending.pop(0)
        finally:
            if pending:  # keep what could not be written for the next flush: nothing is dropped
                with self._lock:
                    for kind, records in pending:
                        self._buffers[kind] = records + self._buffers.get(kind, [])

    def _write_file(self, kind: str, records: list[Record]) -> None:
        import pandas as pd

        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"the folder {folder} is not writable")
        frame = pd.DataFrame([_flatten_for_parquet(r) for r in records])
        for column in frame.columns[frame.dtypes == object]:  # e.g. outlier `value`: numbers and categories
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and v != v)}
            if len(kinds) > 1 and not kinds <= {int, float, bool}:
                frame[column] = [None if v is None else (v if isinstance(v, str) else json.dumps(v, default=_json_default)) for v in frame[column]]
        self._seq += 1
        name = f"part-{int(time.time() * 1000)}-{self._seq:06d}-{uuid.uuid4().hex[:6]}.parquet"
        tmp = folder / f".{name}.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.rename(folder / name)

    def close(self) -> None:
        self.flush()


def _flatten_for_parquet(record: Record) -> Record:
    return {k: (json.dumps(v, default=_json_default) if isinstance(v, dict) else v) for k, v in record.items()}


class HubSink:
    """Publishes records to an in-process :class:`~driftstream.engine.hub.ResultHub`-like object."""

    def __init__(self, hub: Any):
        self.hub = hub

    def write(self, kind: str, records: list[Record]) -> None:
        self.hub.publish(kind, records)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class FanOut:
    """Writes to several sinks; one failing sink does not stop the others, but is reported."""

    def __init__(self, sinks: Iterable[Sink]):
        self.sinks = list(sinks)

    def write(self, kind: str, records: list[Record]) -> None:
        if records:
            self._each(lambda s: s.write(kind, records))

    def flush(self) -> None:
        self._each(lambda s: s.flush())

    def close(self) -> None:
        self._each(lambda s: s.close())

    def _each(self, action: Callable[[Sink], None]) -> None:
        errors = []
        for sink in self.sinks:
            try:
                action(sink)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{type(sink).__name__}: {exc}")
        if errors:
            raise SinkError("; ".join(errors))
