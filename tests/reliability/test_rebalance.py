"""A consumer-group rebalance while windows are open must not count any record twice.

An eager rebalance (another member joins the group, then leaves) revokes every partition and
hands them back; kafka-python then rewinds each partition to its last commit, which an engine
holding open windows keeps behind what it has read. The source continues where it stopped.
"""

from __future__ import annotations

import time

import pytest

from driftstream.engine.monitor import Monitor

from reliability_helpers import baseline, expected_counts, kafka_spec, now_ms, produce, records, wait_for, wait_for_monitor_windows

pytestmark = pytest.mark.kafka


def _join_and_leave(bootstrap: str, topic: str, group: str) -> int:
    """A second group member that takes partitions, reads without committing, and leaves."""
    from kafka import KafkaConsumer

    rogue = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest")
    deadline = time.monotonic() + 60
    read = 0
    while not rogue.assignment() and time.monotonic() < deadline:
        read += sum(len(v) for v in rogue.poll(timeout_ms=500).values())
    assert rogue.assignment(), "the second member never got a partition"
    for _ in range(4):
        read += sum(len(v) for v in rogue.poll(timeout_ms=250).values())
    rogue.close()  # leaves the group: the engine gets every partition back
    return read


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_rebalance_with_open_windows_counts_every_record_once(kafka_bootstrap, kafka_topic, client):
    """Did: ran a Monitor, produced 4,000 records (event times over 4 s, 2 s windows) so that the
    last windows stay open, had a second member join the engine's consumer group and leave
    again (two eager rebalances: every partition revoked and re-assigned, the consumer rewound
    to the last commit), then produced 4,000 more. Checked: the engine resumed the handed-back
    partitions where it stopped and every window's count equals the records produced for it."""
    t0 = now_ms()
    first, valid1 = records(4_000, start_ms=t0, span_ms=4_000, jitter_ms=200, seed=41)
    second, valid2 = records(4_000, start_ms=t0 + 4_000, span_ms=4_000, jitter_ms=200, seed=42)
    expected = expected_counts(valid1 + valid2, 2_000)
    doc = kafka_spec(kafka_topic, kafka_bootstrap, None, window={"idle_timeout": "30s"})
    doc["source"]["client"] = client
    with Monitor(doc, baseline=baseline()) as monitor:
        produce(kafka_bootstrap, kafka_topic, first)
        wait_for(lambda: monitor.counters.get("records_in", 0) >= 4_000, 60, what="the first half")
        assert monitor.offsets.holds, "no window open: the rebalance would test nothing"
        _join_and_leave(kafka_bootstrap, kafka_topic, doc["source"]["group_id"])
        wait_for(lambda: len(monitor.source.consumer.assignment()) == 3, 60, what="the engine to get its partitions back")
        produce(kafka_bootstrap, kafka_topic, second)
        wait_for_monitor_windows(monitor, expected, 90, what="every window with its count")
        assert monitor.error is None
        assert monitor.source.resumed + monitor.source.redelivered >= 1  # the rewind happened, and was undone
    assert monitor.counters.get("records_in", 0) == 8_000


def test_consumer_fetching_nothing_while_behind_is_replaced(kafka_bootstrap, kafka_topic):
    """Did: ran a Monitor (stall timeout 4 s), produced 3,000 records, then paused every partition
    inside its kafka-python consumer (assigned, yet fetching nothing: what a group sync that never
    completes leaves behind) and produced 3,000 more. Checked: the source replaced its consumer
    once, the new one resumed where the old one stopped, and every window's count equals the
    records produced for it (nothing lost, nothing twice)."""
    import asyncio

    t0 = now_ms()
    first, valid1 = records(3_000, start_ms=t0, span_ms=3_000, jitter_ms=200, seed=43)
    second, valid2 = records(3_000, start_ms=t0 + 3_000, span_ms=3_000, jitter_ms=200, seed=44)
    expected = expected_counts(valid1 + valid2, 2_000)
    doc = kafka_spec(kafka_topic, kafka_bootstrap, None, window={"idle_timeout": "30s"})
    doc["source"]["stall_timeout"] = "4s"
    with Monitor(doc, baseline=baseline()) as monitor:
        source = monitor.source
        produce(kafka_bootstrap, kafka_topic, first)
        wait_for(lambda: monitor.counters.get("records_in", 0) >= 3_000, 60, what="the first half")

        def pause_all() -> None:
            source.consumer.pause(*source.consumer.assignment())

        asyncio.run_coroutine_threadsafe(source._call(pause_all), monitor._loop).result(30)
        assert source.restarts == 0
        produce(kafka_bootstrap, kafka_topic, second)
        wait_for(lambda: source.restarts >= 1, 60, what="the stalled consumer to be replaced")
        wait_for_monitor_windows(monitor, expected, 90, what="every window with its count")
        assert monitor.error is None
        assert source.restarts == 1
    assert monitor.counters.get("records_in", 0) == 6_000
