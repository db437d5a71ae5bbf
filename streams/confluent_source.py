"""The Kafka source on librdkafka (confluent-kafka): the same batches, commits and rebalances.

kafka-python parses every record of a fetch in Python; at 20,000-40,000 requests/s that was a
quarter of the engine's time (bench/RESULTS.md, Throughput). librdkafka fetches and parses in C,
off the GIL, in its own threads. Opt in with ``pip install 'driftstream[fast]'`` and
``source: {client: confluent}`` in the monitor spec.

Everything but the consumer calls is :class:`~driftstream.streams.sources.from_kafka_batches`'s:
one thread owns the consumer, records already emitted are dropped after a rebalance, offsets are
committed with the watermark as metadata, a consumer that fetches nothing while behind is replaced.

Examples
--------
>>> from streamz import Stream
>>> src = Stream.from_confluent_kafka_batches("iris.inference", {"bootstrap_servers": "127.0.0.1:9092",
...                                           "group_id": "g"})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
from streamz import Stream

from .confluent_sink import librdkafka_config
from .sources import BROKER_CALL_TIMEOUT_MS, SourceError, from_kafka_batches

logger = logging.getLogger(__name__)

_IGNORED = {"max_poll_records", "request_timeout_ms", "enable_auto_commit"}  # consume(num_messages), manual commits


def consumer_config(params: dict[str, Any]) -> dict[str, Any]:
    """kafka-python style consumer settings -> librdkafka properties, with the engine's fixed ones.

    >>> config = consumer_config({"bootstrap_servers": "127.0.0.1:9092", "group_id": "g", "fetch_max_wait_ms": 20})
    >>> config["group.id"], config["fetch.wait.max.ms"], config["enable.auto.commit"]
    ('g', 20, False)
    """
    config = {
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 20,
        "topic.metadata.refresh.interval.ms": 5000,  # pick up a topic created after we subscribed
        "statistics.interval.ms": 1000,  # broker states, read to tell a quiet stream from an unreachable broker
        **librdkafka_config({k: v for k, v in params.items() if k not in _IGNORED}),
    }
    config["enable.auto.commit"] = False  # offsets are committed once every window holding them is emitted
    config["enable.auto.offset.store"] = False
    return config


@Stream.register_api(staticmethod)
class from_confluent_kafka_batches(from_kafka_batches):
    """Batches of raw messages from a Kafka topic, through a librdkafka consumer group.

    Parameters are :class:`~driftstream.streams.sources.from_kafka_batches`'s; ``consumer_params``
    take kafka-python's names (``bootstrap_servers``, ``group_id``, security settings...) or
    librdkafka's dotted ones.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._committed_at_assign: dict[int, str | None] = {}
        self._broker_up_at: float | None = None
        self._last_take = 0.0

    # everything below touching self.consumer runs in self._thread
    def _connect(self) -> None:
        try:
            from confluent_kafka import Consumer
        except ImportError as exc:
            raise SourceError("source.client 'confluent' needs confluent-kafka: pip install 'driftstream[fast]'") from exc
        config = consumer_config(self.consumer_params)
        config.update({"stats_cb": self._on_stats, "error_cb": self._on_error, "logger": logger})
        consumer = Consumer(config)
        try:  # reach the broker now (librdkafka connects lazily) and learn the topic's partitions before joining
            consumer.list_topics(self.topic, timeout=10)
        except Exception as exc:  # noqa: BLE001 - KafkaException: broker unreachable, auth failed...
            consumer.close()
            raise SourceError(
                f"Cannot reach Kafka at {config.get('bootstrap.servers')} ({type(exc).__name__}: {exc}). "
                "Is the broker running and are the security settings right? "
                "For the local broker: `driftstream kafka up`."
            ) from exc
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self.consumer = consumer

    # rebalance callbacks: librdkafka calls them from consume(), on this thread
    def _on_assign(self, consumer, partitions) -> None:
        """Take the partitions, continuing one handed back to us where we stopped (not at its last commit)."""
        try:
            committed = consumer.committed(partitions, timeout=BROKER_CALL_TIMEOUT_MS / 1000)
        except Exception:  # noqa: BLE001 - start at the commit; the offset filter drops any re-read
            logger.warning("could not read the committed offsets of %s", self.topic, exc_info=True)
            committed = [None] * len(partitions)
        for tp, done in zip(partitions, committed):
            self._committed_at_assign[tp.partition] = done.metadata if done is not None else None
            start = self._next_offset.get(tp.partition)
            if start is not None and (done is None or done.offset < start):
                logger.info("partition %d assigned again: resuming at offset %d", tp.partition, start)
                tp.offset = start
                self.resumed += 1
        consumer.assign(partitions)
        self._newly_assigned.extend(partitions)
        self._rebalancing = False

    def _on_revoke(self, consumer, partitions) -> None:
        self._revoked.extend(tp.partition for tp in partitions)
        self._rebalancing = True

    def _on_stats(self, stats: str) -> None:
        brokers = json.loads(stats).get("brokers", {}).values()
        if any(b.get("nodeid", -1) >= 0 and b.get("state") == "UP" for b in brokers):
            self._broker_up_at = time.monotonic()

    def _on_error(self, error) -> None:
        logger.warning("Kafka consumer of %s: %s", self.topic, error)

    def _fetch(self) -> tuple[list[bytes], np.ndarray, np.ndarray]:
        values, partitions, offsets = [], [], []
        for message in self._take():
            if message.error() is not None:
                self.errors += 1
                logger.warning("Kafka consumer of %s: %s", self.topic, message.error())
                continue
            values.append(message.value())
            partitions.append(message.partition())
            offsets.append(message.offset())
        return values, np.array(partitions, np.int32), np.array(offsets, np.int64)

    def _take(self) -> list:
        """What librdkafka has fetched, up to ``max_records``, as soon as there is anything, at most one batch
        per ``fetch_max_wait_ms`` (records arriving meanwhile join it: fewer, larger micro-batches).

        ``consume`` with a timeout waits until it has ``max_records`` or the timeout passes (100 ms of
        latency at any rate that fills fewer), so: wait for one message, then take the rest without waiting.
        """
        pause = self._last_take + self.consumer_params.get("fetch_max_wait_ms", 20) / 1000 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        messages = self._take_ready(self.max_records)
        if not messages:
            first = self.consumer.poll(self.poll_timeout_ms / 1000)
            messages = [] if first is None else [first, *self._take_ready(self.max_records - 1)]
        self._last_take = time.monotonic()
        return messages

    def _take_ready(self, n: int) -> list:
        """Up to ``n`` messages already fetched, without waiting."""
        return self.consumer.consume(num_messages=n, timeout=0) if n > 0 else []

    def _committed_metadata(self, tp) -> str | None:
        return self._committed_at_assign.pop(tp.partition, None)

    def _resume(self, tp) -> None:
        """Done in :meth:`_on_assign`, before fetching starts."""

    def _close_consumer(self) -> None:
        self.consumer.close()

    def _heartbeat_seconds_ago(self) -> float | None:
        return None if self._broker_up_at is None else time.monotonic() - self._broker_up_at

    def _backlogged(self) -> set[int]:
        """Partitions whose last fetched high-water mark is beyond our position (no broker request)."""
        assigned = self.consumer.assignment()
        out = set()
        for tp in self.consumer.position(assigned) if assigned else []:
            _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high < 0 or tp.offset < 0 or tp.offset < high:
                out.add(tp.partition)
        return out

    def _commit(self, offsets: dict[int, int], metadata: str) -> None:
        from confluent_kafka import TopicPartition

        if self.consumer is None:  # replaced after a stall: these partitions are re-read, commit later
            raise SourceError(f"no consumer of {self.topic} at the moment (being replaced); offsets not committed")
        self.consumer.commit(offsets=[TopicPartition(self.topic, p, o, metadata) for p, o in offsets.items()],
                             asynchronous=False)

    def _lag(self) -> dict[int, int]:
        assigned = self.consumer.assignment() if self.consumer is not None else []
        if not assigned:
            return {}
        lag = {}
        timeout = BROKER_CALL_TIMEOUT_MS / 1000
        for tp in self.consumer.position(assigned):
            low, high = self.consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            position = tp.offset if tp.offset >= 0 else self._start_offset(tp, low, high, timeout)
            lag[tp.partition] = max(0, high - position)
        return lag

    def _start_offset(self, tp, low: int, high: int, timeout: float) -> int:
        """Where a partition without a position yet (nothing fetched since its assignment) will start:
        its committed offset, else the log start or end (``auto_offset_reset``)."""
        committed = self.consumer.committed([tp], timeout=timeout)[0].offset
        if committed >= 0:
            return committed
        return high if self.consumer_params.get("auto_offset_reset") == "latest" else low
