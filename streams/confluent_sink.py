"""The Kafka result sink on librdkafka (confluent-kafka): same topics, keys, JSON and guarantees.

kafka-python builds record batches, partitions keys (murmur2) and tracks one future per message
in Python: about 40 us per result, a third of the engine's time at 20,000 requests/s (see
bench/RESULTS.md). librdkafka does that in C, off the GIL. Opt in with ``pip install
'driftstream[fast]'`` and ``sinks: {kafka: {client: confluent}}`` in the monitor spec.

Examples
--------
>>> librdkafka_config({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "linger_ms": 5})
{'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN', 'linger.ms': 5}
>>> librdkafka_config({"batch_size": 1})
Traceback (most recent call last):
...
ValueError: Kafka setting 'batch_size' has no librdkafka equivalent here; known: acks, linger_ms, ...
"""

from __future__ import annotations

import time
from typing import Any

from .sinks import KafkaSink, SinkError

# kafka-python keyword -> librdkafka property (the settings the engine and its spec pass)
_PROPERTIES = {
    "acks": "acks",
    "linger_ms": "linger.ms",
    "retries": "retries",
    "request_timeout_ms": "request.timeout.ms",
    "max_request_size": "message.max.bytes",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanisms",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "client_id": "client.id",
    # consumer settings (streams/confluent_source.py)
    "bootstrap_servers": "bootstrap.servers",
    "group_id": "group.id",
    "group_instance_id": "group.instance.id",
    "auto_offset_reset": "auto.offset.reset",
    "fetch_max_wait_ms": "fetch.wait.max.ms",
    "metadata_max_age_ms": "topic.metadata.refresh.interval.ms",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
}
_IGNORED = {"max_block_ms"}  # librdkafka's produce() never blocks: a full queue raises BufferError


def librdkafka_config(params: dict[str, Any]) -> dict[str, Any]:
    """kafka-python style settings -> librdkafka properties (dotted names pass through)."""
    config = {}
    for key, value in params.items():
        if "." in key:
            config[key] = value
        elif key in _PROPERTIES:
            config[_PROPERTIES[key]] = value
        elif key not in _IGNORED:
            raise ValueError(f"Kafka setting {key!r} has no librdkafka equivalent here; known: {', '.join(list(_PROPERTIES)[:2])}, ...")
    return config


class ConfluentKafkaSink(KafkaSink):
    """:class:`KafkaSink` on a librdkafka producer.

    Keys are partitioned with murmur2, like the Java and kafka-python clients, so a result lands
    on the same partition whichever client wrote it. Only failed deliveries call back (and are
    kept for the next flush); a flush raises while any result is unacknowledged, and those stay
    queued in librdkafka until the broker takes them.
    """

    @property
    def producer(self):
        if self._producer is None:
            try:
                from confluent_kafka import Producer
            except ImportError as exc:
                raise SinkError("sinks.kafka.client 'confluent' needs confluent-kafka: pip install 'driftstream[fast]'") from exc
            config = {"bootstrap.servers": self.bootstrap_servers, "linger.ms": 5, "acks": 1, "message.max.bytes": 8 << 20,
                      "partitioner": "murmur2_random", "delivery.report.only.error": True, "on_delivery": self._delivered,
                      **librdkafka_config(self.producer_params)}
            self._producer = Producer(config)
        return self._producer

    def write(self, kind: str, records: list[dict[str, Any]]) -> None:
        super().write(kind, records)
        if self._producer is not None:
            self._producer.poll(0)  # serve failed-delivery callbacks

    def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        try:
            self.producer.produce(topic, value, key)
        except Exception as exc:  # noqa: BLE001 - BufferError (queue full), KafkaException: kept for the next flush
            self._keep_failed(topic, key, value, exc)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            from confluent_kafka import KafkaException

            self._keep_failed(msg.topic(), msg.key(), msg.value(), KafkaException(err))

    def _confirm_topic(self, topic: str, wait_s: float = 10.0) -> None:
        deadline = time.monotonic() + wait_s
        while True:  # an auto-created topic answers "leader not available" at first
            try:
                meta = self.producer.list_topics(topic, timeout=max(0.5, deadline - time.monotonic())).topics.get(topic)
                problem = "no metadata" if meta is None else meta.error
            except Exception as exc:  # noqa: BLE001 - KafkaException: broker not reachable
                problem = exc
            if problem is None:
                return
            if time.monotonic() >= deadline:
                raise SinkError(
                    f"The result topic {topic!r} is not available on {self.bootstrap_servers} "
                    f"({problem}); create it, or let the broker auto-create topics"
                )
            time.sleep(0.2)

    def _flush_producer(self) -> None:
        left = self.producer.flush(self.flush_timeout_s)
        if left:
            raise SinkError(f"{left} results not acknowledged by {self.bootstrap_servers} within {self.flush_timeout_s} s")

    def close(self) -> None:
        if self._producer is not None:
            self.flush()
            self._producer = None
