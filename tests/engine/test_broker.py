"""The local Kafka broker (driftstream.engine.broker) against real kafka-python clients."""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter

import pytest
from kafka import (
    AsyncConsumerRebalanceListener,
    DefaultSerializer,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
)

from driftstream.engine import broker

pytestmark = pytest.mark.kafka

N = 1000


def _produce(bootstrap: str, topic: str, n: int = N, start: int = 0) -> None:
    # kafka-python 3: plain callables as (de)serializers are deprecated; use Serializer objects.
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             key_serializer=DefaultSerializer(), value_serializer=DefaultSerializer())
    try:
        for i in range(start, start + n):
            producer.send(topic, key=f"req-{i}", value=f"value-{i}")
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def _consumer(bootstrap: str, group: str, **kw: object) -> KafkaConsumer:
    config: dict[str, object] = dict(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=100, max_poll_records=500,
        key_deserializer=DefaultSerializer(), value_deserializer=DefaultSerializer())
    config.update(kw)
    return KafkaConsumer(**config)


def _port(bootstrap: str) -> int:
    return int(bootstrap.rsplit(":", 1)[1])


def test_broker_answers(kafka_bootstrap: str) -> None:
    assert kafka_bootstrap == broker.bootstrap_servers(_port(kafka_bootstrap))
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    assert [b["port"] for b in cluster["brokers"]] == [_port(kafka_bootstrap)]
    assert cluster["brokers"][0]["host"] == "127.0.0.1"
    assert cluster["controller_id"] >= 0


def test_status_reports_running(kafka_bootstrap: str) -> None:
    st = broker.status(_port(kafka_bootstrap))
    assert st["running"] is True
    assert st["bootstrap_servers"] == kafka_bootstrap
    assert st["jars"] is True
    if st["managed"]:
        assert isinstance(st["pid"], int)
    # up() again reuses the running broker.
    again = broker.up(_port(kafka_bootstrap))
    assert again["running"] and again["started"] is False


def test_crc32c_uses_c_extension() -> None:
    import crc32c
    from kafka.record import util

    assert util.calc_crc32c.__defaults__[0] is crc32c.crc32c
    assert util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283


def test_produce_consume_1000_with_manual_commit(kafka_bootstrap: str, kafka_topic: str) -> None:
    _produce(kafka_bootstrap, kafka_topic)
    group = f"g-{kafka_topic}"
    consumer = _consumer(kafka_bootstrap, group)
    consumer.subscribe([kafka_topic])
    seen: list[str] = []
    per_partition: Counter[int] = Counter()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < N and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                continue
            offsets = {}
            for tp, records in batch.items():
                seen.extend(r.value for r in records)
                per_partition[tp.partition] += len(records)
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            consumer.commit(offsets)
        parts = [TopicPartition(kafka_topic, p) for p in range(3)]
        end = consumer.end_offsets(parts)
        committed = {tp: consumer.committed(tp) for tp in parts}
    finally:
        consumer.close()
    assert sorted(seen) == sorted(f"value-{i}" for i in range(N))
    assert set(per_partition) == {0, 1, 2}
    assert sum(end.values()) == N
    assert committed == end  # lag 0 everywhere

    # A new member of the same group resumes from the committed offsets: nothing left.
    again = _consumer(kafka_bootstrap, group)
    again.subscribe([kafka_topic])
    try:
        leftover = sum(len(v) for _ in range(3) for v in again.poll(timeout_ms=500).values())
    finally:
        again.close()
    assert leftover == 0


class _CommittingListener(AsyncConsumerRebalanceListener):
    """Commits this member's processed-but-uncommitted offsets when partitions are revoked.

    kafka-python 3 runs listener callbacks on its IO thread (while the poll() caller is
    blocked inside poll()): a blocking ``consumer.commit()`` there raises RuntimeError, so the
    listener is async and awaits ``consumer.commit_async()`` (a kafka.future.Future).
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self.assigned: list[set[TopicPartition]] = []
        self.revoked: list[set[TopicPartition]] = []
        self.committed_on_revoke = 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.revoked.append(set(revoked))
        mine = {tp: om for tp, om in self.pending.items() if tp in revoked}
        if mine:
            await self.consumer.commit_async(mine)
            self.committed_on_revoke += 1
        for tp in revoked:
            self.pending.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.append(set(assigned))


def _wait(cond, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_group_rebalance_with_listener_commit(kafka_bootstrap: str, kafka_topic: str) -> None:
    """A second member joins mid-stream: the first one's listener commits on revoke, the
    partitions are split, no record is lost and none is seen twice."""
    group = f"g-{kafka_topic}"
    values: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    listeners: dict[str, _CommittingListener] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            # heartbeat_interval_ms bounds how fast a member notices a rebalance (default 3 s)
            c = _consumer(kafka_bootstrap, group, max_poll_records=50, heartbeat_interval_ms=500)
            lst = listeners[name] = _CommittingListener(c)
            c.subscribe([kafka_topic], listener=lst)
            try:
                polls = 0
                while not stop.is_set():
                    batch = c.poll(timeout_ms=200)
                    for tp, records in batch.items():
                        with lock:
                            values.extend(r.value for r in records)
                        lst.pending[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
                    polls += 1
                    if lst.pending and polls % 20 == 0:  # rare commits: revokes find pending work
                        c.commit(dict(lst.pending))
                        lst.pending.clear()
                    time.sleep(0.01)
            finally:
                c.close()
        except BaseException as exc:  # surfaced by the assertions below
            errors.append(exc)
            stop.set()

    def assigned(name: str) -> set[TopicPartition]:
        lst = listeners.get(name)
        return lst.assigned[-1] if lst and lst.assigned else set()

    threads = {n: threading.Thread(target=run, args=(n,), daemon=True) for n in ("a", "b")}
    try:
        threads["a"].start()
        assert _wait(lambda: len(assigned("a")) == 3 or bool(errors)), "a never got 3 partitions"
        _produce(kafka_bootstrap, kafka_topic, N // 2)
        assert _wait(lambda: len(values) >= N // 2 or bool(errors))
        threads["b"].start()
        assert _wait(lambda: bool(assigned("b")) and len(assigned("a")) < 3 or bool(errors)), \
            "second member never got partitions"
        _produce(kafka_bootstrap, kafka_topic, N - N // 2, start=N // 2)
        assert _wait(lambda: len(values) >= N or bool(errors))
        time.sleep(0.5)  # anything duplicated would show up now
    finally:
        stop.set()
        for t in threads.values():
            if t.is_alive():
                t.join(60)
    assert not errors, errors
    assert any(listeners["a"].revoked), "first member's partitions were never revoked"
    assert listeners["a"].committed_on_revoke >= 1
    assert assigned("a") | assigned("b") == {TopicPartition(kafka_topic, p) for p in range(3)}
    assert not assigned("a") & assigned("b")
    assert len(values) == N and set(values) == {f"value-{i}" for i in range(N)}


def test_cli_status(kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="driftstream")
    broker.register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["kafka", "status", "--port", str(_port(kafka_bootstrap))])
    assert args.func(args) == 0
    assert '"running": true' in capsys.readouterr().out


def test_repo_root_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(broker.HOME_ENV, str(tmp_path))
    assert broker.repo_root() == tmp_path.resolve()
    monkeypatch.delenv(broker.HOME_ENV)
    assert (broker.repo_root() / "kafka" / "pom.xml").is_file()
