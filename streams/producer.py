"""Writing inference logs to Kafka: :class:`InferenceLogger` for model servers, and replay.

Examples
--------
>>> record = inference_record("r1", "iris", {"x": 1.0}, 0, ts=1000)
>>> record["request_id"], record["ts"], record["features"]
('r1', 1000, {'x': 1.0})
>>> with InferenceLogger("iris", bootstrap_servers="127.0.0.1:9092") as log:   # doctest: +SKIP
...     log.log({"sepal_length": 5.1}, prediction="setosa")
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterable, Iterator

from .sources import now_ms


def inference_record(
    request_id: str,
    model: str,
    features: dict[str, Any],
    prediction: Any,
    ts: int | None = None,
    model_version: str | None = None,
    label: Any = None,
) -> dict[str, Any]:
    """One inference log record in the contract format (``ts`` in epoch ms, default now)."""
    record: dict[str, Any] = {
        "request_id": request_id,
        "model": model,
        "ts": now_ms() if ts is None else int(ts),
        "features": features,
        "prediction": prediction,
    }
    if model_version is not None:
        record["model_version"] = model_version
    if label is not None:
        record["label"] = label
    return record


class InferenceLogger:
    """A small kafka-python producer for model servers: one message per inference.

    Parameters
    ----------
    model
        Model name; the topic defaults to ``<model>.inference``.
    bootstrap_servers
        Kafka bootstrap servers.
    producer_params
        Extra ``KafkaProducer`` settings (security, acks, linger...).
    """

    def __init__(self, model: str, bootstrap_servers: str = "127.0.0.1:9092", topic: str | None = None,
                 model_version: str | None = None, producer_params: dict[str, Any] | None = None):
        from kafka import KafkaProducer

        self.model = model
        self.topic = topic or f"{model}.inference"
        self.model_version = model_version
        params = {"linger_ms": 2, "acks": 1, **(producer_params or {})}
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **params)

    def log(self, features: dict[str, Any], prediction: Any, request_id: str | None = None, ts: int | None = None, label: Any = None):
        """Send one inference; returns the kafka-python future of the send."""
        record = inference_record(request_id or uuid.uuid4().hex, self.model, features, prediction, ts, self.model_version, label)
        return self.send(record)

    def send(self, record: dict[str, Any]):
        """Send a record already in the contract format (its ``request_id`` is the key)."""
        return self.producer.send(self.topic, key=str(record["request_id"]).encode(), value=json.dumps(record).encode())

    def flush(self, timeout: float | None = 30) -> None:
        self.producer.flush(timeout=timeout)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()

    def __enter__(self) -> InferenceLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def paced(batches: Iterable[list[dict[str, Any]]], rate: float | None) -> Iterator[list[dict[str, Any]]]:
    """Yield batches no faster than ``rate`` records/s (``None``: as fast as possible)."""
    start = time.monotonic()
    sent = 0
    for batch in batches:
        if rate:
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield batch
        sent += len(batch)


def replay_to_kafka(
    batches: Iterable[list[dict[str, Any]]],
    topic: str,
    bootstrap_servers: str = "127.0.0.1:9092",
    rate: float | None = None,
    restamp: bool = False,
    progress: Any = None,
    producer_params: dict[str, Any] | None = None,
) -> int:
    """Produce inference-log records to ``topic`` at ``rate``; returns how many were sent."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=5, acks=1, **(producer_params or {}))
    sent = 0
    try:
        for batch in paced(batches, rate):
            stamp = now_ms()
            for record in batch:
                if restamp:
                    record["ts"] = stamp
                key = str(record.get("request_id", "")).encode()
                value = record if isinstance(record, (bytes, bytearray)) else json.dumps(record).encode()
                producer.send(topic, key=key, value=value)
            sent += len(batch)
            if progress is not None:
                progress.update(len(batch))
        producer.flush()
    finally:
        producer.close()
    return sent
