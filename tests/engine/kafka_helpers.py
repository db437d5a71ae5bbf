"""Helpers for integration tests against the real local broker: workloads and topic readers."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from driftstream.detectors.baseline import Baseline

COLUMNS = {"x": "numeric", "y": "numeric", "c": "categorical", "prediction": "numeric"}


def baseline(seed: int = 0) -> Baseline:
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "y": rng.gamma(2.0, size=n), "c": rng.choice(["a", "b", "c"], n), "prediction": rng.random(n)}
    )
    return Baseline.fit(frame, COLUMNS)


def records(n: int, start_ms: int, span_ms: int, jitter_ms: int, seed: int = 0, bad_every: int = 0) -> tuple[list[bytes], list[dict[str, Any]]]:
    """``n`` messages with event times spread over ``span_ms`` and shuffled within ``jitter_ms``.

    Returns the raw values (some malformed when ``bad_every``) and the valid records.
    """
    rng = np.random.default_rng(seed)
    ts = start_ms + np.sort(rng.integers(0, span_ms, n)) - rng.integers(0, jitter_ms + 1, n)
    values: list[bytes] = []
    valid: list[dict[str, Any]] = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            values.append([b"{not json", b'{"request_id": "b%d", "model": "t", "ts": 1}' % i, b"\xff\xfe"][i % 3])
            continue
        record = {
            "request_id": f"r{seed}-{i}",
            "model": "t",
            "ts": int(ts[i]),
            "features": {"x": float(rng.normal()), "y": float(rng.gamma(2.0)), "c": str(rng.choice(["a", "b", "c"]))},
            "prediction": float(rng.random()),
        }
        values.append(json.dumps(record).encode())
        valid.append(record)
    return values, valid


def expected_counts(valid: list[dict[str, Any]], size_ms: int) -> dict[int, int]:
    return dict(Counter((r["ts"] // size_ms) * size_ms for r in valid))


def produce(bootstrap: str, topic: str, values: list[bytes], rate: float | None = None) -> None:
    from kafka import KafkaProducer

    # idempotent (acks=all): a retried batch never lands after later ones, so per-partition order,
    # which the expected window counts rely on, survives a broker restart
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True)
    start = time.monotonic()
    for i, value in enumerate(values):
        if rate and i % 100 == 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.send(topic, key=str(i).encode(), value=value)
    producer.flush()
    producer.close()


def read_topic(bootstrap: str, topic: str, timeout: float = 10.0) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every message currently in ``topic`` (key, decoded JSON value)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[tuple[bytes | None, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend((m.key, json.loads(m.value)) for m in batch)
        return out
    finally:
        consumer.close()


def latest_by_key(messages: list[tuple[bytes | None, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for key, value in messages:
        latest[key.decode()] = value
    return latest


def window_counts(stats: dict[str, dict[str, Any]], feature: str = "x") -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for value in stats.values():
        if value["feature"] == feature:
            out[value["window_start"]] = value["count"] + value["missing"]
    return dict(out)


def wait_for(condition, timeout: float, interval: float = 0.5, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
