"""The librdkafka result sink against the real broker: what kafka-python's sink writes, where it writes it."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from driftstream.streams.confluent_sink import ConfluentKafkaSink, librdkafka_config
from driftstream.streams.sinks import KafkaSink

pytestmark = pytest.mark.kafka


def _read_with_partitions(bootstrap: str, topic: str, n: int, timeout: float = 30) -> list[tuple[int, bytes, dict]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[tuple[int, bytes, dict]] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                out.extend((tp.partition, m.key, json.loads(m.value)) for m in messages)
        return out
    finally:
        consumer.close()


def test_results_land_like_kafka_pythons(kafka_bootstrap, kafka_topic):
    """Did: wrote 300 outlier results through both sinks into two 3-partition topics. Checked:
    every result arrives once with its key and its JSON unchanged, and each key sits on the same
    partition in both topics (murmur2, as the Java and kafka-python clients partition)."""
    from kafka import KafkaAdminClient

    other = f"{kafka_topic}-kp"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics({other: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    records = [{"key": f"m/req-{i}/bmi/zscore", "request_id": f"req-{i}", "score": 3.0 + i / 100, "is_outlier": True}
               for i in range(300)]
    try:
        for sink_class, topic in ((ConfluentKafkaSink, kafka_topic), (KafkaSink, other)):
            sink = sink_class(kafka_bootstrap, "unused.", topics={"outliers": topic})
            sink.write("outliers", [dict(r) for r in records])
            sink.flush()
            sink.close()
        ours = _read_with_partitions(kafka_bootstrap, kafka_topic, 300)
        theirs = _read_with_partitions(kafka_bootstrap, other, 300)
    finally:
        admin.delete_topics([other])
        admin.close()
    assert sorted(v["key"] for _, _, v in ours) == sorted(r["key"] for r in records)
    assert {k.decode(): v for _, k, v in ours} == {r["key"]: r for r in records}
    assert {k: p for p, k, _ in ours} == {k: p for p, k, _ in theirs}
    assert len({p for p, _, _ in ours}) == 3


def test_auto_created_topic_and_settings(kafka_bootstrap):
    """Did: wrote to a result topic that does not exist yet (the broker auto-creates), with SASL-free
    kafka-python style settings. Checked: flush confirms the topic and every result arrives; a
    setting librdkafka has no equivalent for is refused by name."""
    prefix = f"confluent-{uuid.uuid4().hex[:8]}."
    sink = ConfluentKafkaSink(kafka_bootstrap, prefix, {"acks": "all", "linger_ms": 1, "client_id": "t"})
    sink.write("drift", [{"key": f"k{i}", "i": i} for i in range(50)])
    assert sink.pending == 50  # held until its topic is confirmed
    sink.flush()
    assert sink.pending == 0
    sink.close()
    got = _read_with_partitions(kafka_bootstrap, f"{prefix}drift", 50)
    assert sorted(v["i"] for _, _, v in got) == list(range(50))
    with pytest.raises(ValueError, match="'buffer_memory' has no librdkafka equivalent"):
        librdkafka_config({"buffer_memory": 1})
