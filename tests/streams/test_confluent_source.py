"""The librdkafka source against the real broker: every record once, lag, commits with metadata, resume."""

from __future__ import annotations

import time

import numpy as np
import pytest

from driftstream.streams.confluent_source import from_confluent_kafka_batches
from driftstream.streams.sources import SourceError

pytestmark = pytest.mark.kafka


def _produce(bootstrap: str, topic: str, n: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for i in range(n):
        producer.send(topic, key=str(i).encode(), value=f'{{"i": {i}}}'.encode())
    producer.flush()
    producer.close()


def _source(bootstrap: str, topic: str, group: str, **kwargs) -> from_confluent_kafka_batches:
    return from_confluent_kafka_batches(topic, {"bootstrap_servers": bootstrap, "group_id": group}, **kwargs)


def _poll_until(source, condition, timeout: float = 30.0) -> list:
    batches, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        batches.append(source._poll())
        if condition(batches):
            return batches
    raise AssertionError(f"not reached within {timeout} s: {sum(len(b) for b in batches)} records")


def test_reads_every_record_once_reports_lag_and_resumes_from_its_commit(kafka_bootstrap, kafka_topic):
    """Did: on an empty 3-partition topic, joined a group with the librdkafka source, then produced
    600 records and read them in batches of at most 100, committed with metadata, closed, and
    joined again with a new source after 150 more records. Checked: the lag of the empty topic is
    known for all 3 partitions (0) before anything is fetched; batches never exceed 100; every
    record is read exactly once with its partition and offset; the lag is 0 at the end; the new
    source gets the committed metadata back on assignment and reads only the 150 new records."""
    group = f"g-{kafka_topic}"
    first = _source(kafka_bootstrap, kafka_topic, group, max_records=100)
    try:
        first._connect()
        _poll_until(first, lambda b: any(batch.assigned for batch in b))
        assert first._lag() == {0: 0, 1: 0, 2: 0}  # no position yet: from the log start (empty)

        _produce(kafka_bootstrap, kafka_topic, 600)
        batches = _poll_until(first, lambda b: sum(len(x) for x in b) >= 600)
        assert max(len(b) for b in batches) <= 100
        values = [v for b in batches for v in b.values]
        assert sorted(int(v[6:-1]) for v in values) == list(range(600))
        pairs = {(int(p), int(o)) for b in batches for p, o in zip(b.partitions, b.offsets)}
        assert len(pairs) == 600
        ends = {p: max(o for q, o in pairs if q == p) + 1 for p in range(3)}
        assert sum(ends.values()) == 600 and first._lag() == {0: 0, 1: 0, 2: 0}
        first._commit(ends, "watermark=1234")
    finally:
        first.consumer.close()

    _produce(kafka_bootstrap, kafka_topic, 150)
    second = _source(kafka_bootstrap, kafka_topic, group, max_records=1000)
    try:
        second._connect()
        batches = _poll_until(second, lambda b: sum(len(x) for x in b) >= 150)
        assigned = {p: m for b in batches for p, m in b.assigned.items()}
        assert assigned == {0: "watermark=1234", 1: "watermark=1234", 2: "watermark=1234"}
        offsets = np.concatenate([b.offsets for b in batches])
        partitions = np.concatenate([b.partitions for b in batches])
        assert len(offsets) == 150 and all((offsets[partitions == p] >= ends[p]).all() for p in range(3))
        time.sleep(0.5)
        assert sum(len(b) for b in [second._poll(), second._poll()]) == 0  # nothing twice
    finally:
        second.consumer.close()


def test_unreachable_broker_is_a_clear_error():
    source = _source("127.0.0.1:1", "t", "g")
    with pytest.raises(SourceError, match=r"Cannot reach Kafka at 127.0.0.1:1 .*driftstream kafka up"):
        source._connect()
