"""Shared pytest fixtures.

Kafka: ``kafka_bootstrap`` (session) starts the local broker with
:func:`driftstream.engine.broker.up` -- or reuses one already answering on the port -- and
stops it at session end only if this session started it (set ``DRIFTSTREAM_KAFKA_KEEP=1``
to leave it running for the next run). ``DRIFTSTREAM_KAFKA_PORT`` overrides the port 9092.
``kafka_topic`` creates a fresh 3-partition topic per test and deletes it afterwards.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest


# ----------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers ("127.0.0.1:9092") of a running local Kafka broker."""
    from driftstream.engine import broker

    port = int(os.environ.get("DRIFTSTREAM_KAFKA_PORT", broker.DEFAULT_PORT))
    info = broker.up(port=port)
    try:
        _warm_up(info["bootstrap_servers"])
        yield info["bootstrap_servers"]
    finally:
        if info["started"] and os.environ.get("DRIFTSTREAM_KAFKA_KEEP", "") in ("", "0"):
            broker.down(port=port)


def _warm_up(bootstrap: str, timeout_s: float = 90) -> None:
    """One consumer-group round trip before the first test: a broker that has just started loads its
    group coordinator and elects its first leaders meanwhile (NotCoordinator errors, producers retrying),
    which the first test would otherwise absorb as delays."""
    import time

    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    name = f"warm-up-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="driftstream-tests")
    try:
        admin.create_topics({name: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        for i in range(3):
            producer.send(name, key=str(i).encode(), value=b"{}", partition=i)
        producer.flush(timeout=30)
        producer.close()
        consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, group_id=name, auto_offset_reset="earliest",
                                 enable_auto_commit=False)
        seen, deadline = 0, time.monotonic() + timeout_s
        while seen < 3 and time.monotonic() < deadline:
            seen += sum(len(v) for v in consumer.poll(timeout_ms=500).values())
        consumer.commit()
        consumer.close()
        admin.delete_topics([name])
    finally:
        admin.close()


@pytest.fixture
def kafka_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, uniquely named topic with 3 partitions (RF 1); deleted after the test."""
    from kafka import KafkaAdminClient

    base = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:100].strip("-.")
    name = f"t-{base}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="driftstream-tests")
    try:
        admin.create_topics({name: {"num_partitions": 3, "replication_factor": 1}},
                            wait_for_metadata=True)
        yield name
        admin.delete_topics([name], raise_errors=False)
    finally:
        admin.close()


# ----------------------------------------------------------------------------- Dask


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    """Address of a real Dask LocalCluster (one worker process, 2 threads) shared by the session."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", memory_limit="4GiB") as cluster:
        yield cluster.scheduler_address
