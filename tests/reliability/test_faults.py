"""Faults: the engine SIGKILLed three times, a Dask worker SIGKILLed mid-window, the Kafka broker
down for 20 s, a result sink that cannot be written. Nothing is lost, nothing crash-loops.

Each test states what it did and what it checked. The broker-outage test runs its own broker
on port 19092 (never the shared one on 9092).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from driftstream.engine.monitor import Monitor

from reliability_helpers import (
    FEATURES, SCHEMA, baseline, engine, expected_counts, kafka_spec, latest_by_key, now_ms, produce,
    read_topic, records, stop, wait_for, wait_for_monitor_windows, window_counts,
)

pytestmark = pytest.mark.kafka


def test_engine_sigkilled_three_times_loses_no_window(kafka_bootstrap, kafka_topic, tmp_path):
    """Did: produced 24,000 records (event times over 16 s, 2 s windows, out of order by up to
    0.5 s, 1 in 200 malformed) at 1,500 records/s while the engine (`driftstream run` in a
    subprocess, its own process group) was SIGKILLed three times at random points (seeded) and
    restarted each time. Checked: every window is on the stats topic with a count equal to the
    records produced for it, every result key is the deterministic `t/<start>/<feature>/stats`
    and nothing else, and the engine log holds no traceback."""
    rng = random.Random(int(os.environ.get("DRIFTSTREAM_FAULT_SEED", "7")))
    baseline().save(tmp_path / "baseline")
    doc = kafka_spec(kafka_topic, kafka_bootstrap, tmp_path / "out")
    doc["source"]["static_membership"] = True  # a restart takes its partitions back at once
    doc["baseline"] = str(tmp_path / "baseline")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(doc))
    values, valid = records(24_000, start_ms=now_ms() + 3_000, span_ms=16_000, jitter_ms=500, seed=11, bad_every=200)
    expected = expected_counts(valid, 2_000)
    log = tmp_path / "engine.log"
    stats_topic = f"{kafka_topic}.stats"

    proc = engine(tmp_path / "spec.yaml", log)
    producer = threading.Thread(target=produce, args=(kafka_bootstrap, kafka_topic, values, 1_500.0))
    time.sleep(3)
    producer.start()
    kills = []
    try:
        for _ in range(3):
            time.sleep(rng.uniform(4.0, 8.0))  # random points: before, during and after windows close
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            kills.append(len({v["window_start"] for _, v in read_topic(kafka_bootstrap, stats_topic, 2)}))
            proc = engine(tmp_path / "spec.yaml", log)
        producer.join(60)
        try:
            wait_for(
                lambda: window_counts(latest_by_key(read_topic(kafka_bootstrap, stats_topic, 3))) == expected,
                90, interval=2, what="every window with its full count after three kills",
            )
        except AssertionError:
            got = window_counts(latest_by_key(read_topic(kafka_bootstrap, stats_topic, 3)))
            diff = {s: (got.get(s), n) for s, n in expected.items() if got.get(s) != n}
            extra = sorted(set(got) - set(expected))
            raise AssertionError(f"windows (got, expected) differing: {diff}; unexpected windows {extra}; kills {kills}\n"
                                 + log.read_text()[-3000:]) from None
    finally:
        stop(proc)
    stats = read_topic(kafka_bootstrap, stats_topic)
    assert {k.decode() for k, _ in stats} == {f"t/{start}/{f}/stats" for start in expected for f in FEATURES}
    assert all(k.decode() == v["key"] for k, v in stats)
    print(f"windows on the topic at each kill: {kills}; messages {len(stats)} for {len(expected) * len(FEATURES)} keys")
    assert "Traceback" not in log.read_text()


def test_dask_worker_killed_mid_window(kafka_bootstrap, kafka_topic, tmp_path):
    """Did: ran a Monitor on a LocalCluster of 2 worker processes (1 thread each), produced
    12,000 records over 12 s of event time at 1,000/s, and SIGKILLed one worker process while
    windows were open (after the first window was emitted). Checked: the nanny replaces the
    worker, Dask recomputes the lost micro-batch summaries (their frames are embedded in the
    tasks, the analysis object is a task too), and every window is emitted with the right count;
    the monitor never stops."""
    values, valid = records(12_000, start_ms=now_ms() + 2_000, span_ms=12_000, jitter_ms=300, seed=21)
    expected = expected_counts(valid, 2_000)
    doc = kafka_spec(kafka_topic, kafka_bootstrap, None, cluster={"local": {"n_workers": 2, "threads_per_worker": 1, "processes": True, "memory_limit": "1GiB"}})
    doc["sinks"] = {"kafka": None}
    with Monitor(doc, baseline=baseline()) as monitor:
        producer = threading.Thread(target=produce, args=(kafka_bootstrap, kafka_topic, values, 1_000.0))
        producer.start()
        wait_for(lambda: monitor.counters.get("windows_emitted", 0) >= 1, 60, what="the first window")
        async def worker_pids():
            return await monitor.client.run(os.getpid)

        pids = asyncio.run_coroutine_threadsafe(worker_pids(), monitor._loop).result(30)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = monitor.counters.get("windows_emitted", 0)
        producer.join(60)
        wait_for(lambda: len(window_counts({r["key"]: r for r in monitor.hub.history("stats")})) >= len(expected)
                 and window_counts({r["key"]: r for r in monitor.hub.history("stats")}) == expected,
                 120, what="every window after the worker was killed")
        assert monitor.running and monitor.error is None
    assert monitor.error is None
    assert killed_at < len(expected), "the kill should land while windows are still open"


def _windows_from_parquet(folder: Path) -> dict[int, int]:
    files = sorted((folder / "out" / "stats").glob("*.parquet"))
    if not files:
        return {}
    frame = pd.concat([pd.read_parquet(p) for p in files])
    x = frame[frame.feature == "x"].drop_duplicates("key", keep="last")
    return dict(zip(x.window_start, x["count"] + x["missing"]))


def test_parquet_sink_unwritable_then_back(tmp_path, caplog):
    """Did: ran a Monitor (replay source) whose Parquet folder lies under a regular FILE (so the
    folder cannot be created, even by root) for 8 s, then replaced that file by a folder.
    Checked: while the sink fails, the error names the sink, the folder and the cause, writes
    are retried with backoff (warnings 'retrying in 0.2s/0.4s/...'), the stream keeps running
    (windows keep being emitted to the other sinks) and nothing is dropped: once the folder is
    writable every window's stats reach Parquet with the right count."""
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results folder should be")
    start = (now_ms() // 2000) * 2000 - 60_000
    lines = [json.dumps({"request_id": f"r{i}", "model": "t", "ts": start + i * 4, "features": {"x": float(i % 7), "y": 1.0, "c": "a"}, "prediction": 0.5})
             for i in range(3000)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    expected = dict(Counter(((start + i * 4) // 2000) * 2000 for i in range(3000)))
    spec = {
        "model": "t", "schema": SCHEMA,
        "source": {"kind": "replay", "path": str(tmp_path / "in.jsonl"), "rate": 1000},
        "window": {"size": "2s", "watermark": "0s", "idle_timeout": "1s"},
        "outliers": {"detectors": [{"name": "range"}]}, "drift": {"detectors": [{"name": "ks"}]},
        "sinks": {"kafka": None, "parquet": str(blocker / "out")},
        "cluster": {"local": {"processes": False, "n_workers": 1, "threads_per_worker": 2}},
    }
    caplog.set_level(logging.WARNING)
    with Monitor(spec, baseline=baseline()) as monitor:
        wait_for(lambda: monitor.counters.get("windows_emitted", 0) >= 2, 60, what="windows while the sink is down")
        time.sleep(6)
        assert monitor.running and monitor.error is None
        failures = [r.getMessage() for r in caplog.records if "failed after 5 attempts" in r.getMessage() or (r.exc_info and "failed after" in str(r.exc_info[1]))]
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        blocker.unlink()  # the sink comes back
        wait_for(lambda: _windows_from_parquet(blocker) == expected, 60, interval=1, what="every window in Parquet after recovery")
    assert monitor.error is None
    assert any("Parquet" in m and str(blocker) in m for m in retries), retries[:3]
    assert {m.split("retrying in ")[1] for m in retries} >= {"0.2s", "0.4s", "0.8s", "1.6s"}
    text = "\n".join(caplog.text.splitlines())
    assert "SinkError" in text and "Not a directory" in text


@pytest.fixture
def own_broker():
    """A broker of our own on 127.0.0.1:19092 (stopped at the end; the shared one is untouched)."""
    from driftstream.engine import broker

    port = 19092
    broker.down(port=port)
    shutil.rmtree(broker._state_dir(port), ignore_errors=True)  # a fresh broker, as in CI
    broker.up(port=port, heap="512m")
    try:
        yield port
    finally:
        broker.down(port=port)


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_broker_down_20s_and_back(own_broker, tmp_path, client):
    """Did: ran a Monitor against our own broker (port 19092), produced 6,000 records, stopped the
    broker (SIGTERM) for 20 s while windows were open (the idle timeout is 30 s), started it again
    and produced 6,000 more. Checked: the monitor never stops or raises during the outage
    (kafka-python reconnects; unacknowledged results are sent again), no window is flushed by
    idleness while the broker is away, it resumes by itself, and every window is emitted with the
    count of the records produced (nothing lost); the engine's error counter stays bounded (no
    crash loop), and its consumer is not replaced as stalled (stall timeout 15 s)."""
    from kafka import KafkaAdminClient

    from driftstream.engine import broker

    bootstrap = f"127.0.0.1:{own_broker}"
    topic = f"outage-{int(time.time())}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    admin.close()
    t0 = now_ms() + 2_000
    first, valid1 = records(6_000, start_ms=t0, span_ms=6_000, jitter_ms=200, seed=31)
    second, valid2 = records(6_000, start_ms=t0 + 6_000, span_ms=6_000, jitter_ms=200, seed=32)
    expected = expected_counts(valid1 + valid2, 2_000)
    # the idle timeout is shorter than the outage: silence while the broker is away is not idleness
    doc = kafka_spec(topic, bootstrap, None, window={"idle_timeout": "30s"})
    doc["source"]["stall_timeout"] = "15s"  # shorter than the outage: an outage must not count as a stalled consumer
    doc["source"]["client"] = client
    with Monitor(doc, baseline=baseline()) as monitor:
        produce(bootstrap, topic, first)
        wait_for(lambda: monitor.counters.get("records_in", 0) >= 6_000, 60, what="the first half")
        broker.down(port=own_broker)
        down_at = time.monotonic()
        time.sleep(20)
        assert monitor.running and monitor.error is None
        broker.up(port=own_broker, heap="512m")
        outage = time.monotonic() - down_at
        produce(bootstrap, topic, second)
        wait_for_monitor_windows(monitor, expected, 120, what="every window after the broker came back")
        assert monitor.running and monitor.error is None
        assert monitor.source.restarts == 0
        errors = monitor.counters.get("task_errors", 0)
    print(f"outage {outage:.0f} s, task errors {errors}")
    assert errors <= 5
    stats = read_topic(bootstrap, f"{topic}.stats")
    assert window_counts(latest_by_key(stats)) == expected


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_kafka_sink_keeps_results_the_broker_never_acknowledged(own_broker, client):
    """Did: wrote 100 results through the KafkaSink (producer with no retries; kafka-python's or
    librdkafka's), stopped the broker, wrote 100 more, flushed (must fail: nothing acknowledged),
    started the broker again and flushed. Checked: the failed flush raised SinkError naming what was not acknowledged,
    and after the broker came back all 200 results are on the topic (none lost)."""
    from driftstream.engine import broker
    from driftstream.streams.confluent_sink import ConfluentKafkaSink
    from driftstream.streams.sinks import KafkaSink, SinkError

    bootstrap = f"127.0.0.1:{own_broker}"
    prefix = f"sink-{client}-{int(time.time())}."
    sink_class = ConfluentKafkaSink if client == "confluent" else KafkaSink
    sink = sink_class(bootstrap, prefix, {"retries": 0, "request_timeout_ms": 3_000, "max_block_ms": 3_000}, flush_timeout_s=2)
    sink.write("stats", [{"key": f"k{i}", "i": i} for i in range(100)])
    wait_for(lambda: _flushed(sink), 60, interval=1, what="the first flush (the topic is auto-created)")
    broker.down(port=own_broker)
    sink.write("stats", [{"key": f"k{i}", "i": i} for i in range(100, 200)])
    with pytest.raises(SinkError, match="not acknowledged|Flushing results"):
        sink.flush()
    broker.up(port=own_broker, heap="512m")
    wait_for(lambda: _flushed(sink), 90, interval=1, what="the flush after the broker came back")
    sink.close()
    keys = {key.decode() for key, _ in read_topic(bootstrap, f"{prefix}stats")}
    assert keys == {f"k{i}" for i in range(200)}


def _flushed(sink) -> bool:
    from driftstream.streams.sinks import SinkError

    try:
        sink.flush()
        return True
    except SinkError:
        return False


@pytest.fixture
def strict_broker():
    """A broker of our own on 127.0.0.1:19094 that does not auto-create topics."""
    from driftstream.engine import broker

    port = 19094
    broker.down(port=port)
    shutil.rmtree(broker._state_dir(port), ignore_errors=True)
    broker.up(port=port, heap="512m", overrides={"auto.create.topics.enable": "false"})
    try:
        yield port
    finally:
        broker.down(port=port)


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_missing_result_topic_is_reported_and_nothing_is_dropped(strict_broker, caplog, client):
    """Did: ran a Monitor whose result topics do not exist on a broker that does not auto-create
    topics (results through kafka-python or librdkafka), produced 3,000 records, let it run, then
    created the result topics. Checked: the engine keeps running and logs (retrying) a SinkError naming a missing topic; it commits no input
    offset while results are unsent; once the topics exist every window reaches them."""
    from kafka import KafkaAdminClient

    bootstrap = f"127.0.0.1:{strict_broker}"
    topic = f"strict-{client}-{int(time.time())}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    values, valid = records(3_000, start_ms=now_ms(), span_ms=4_000, jitter_ms=100, seed=51)
    expected = expected_counts(valid, 2_000)
    doc = kafka_spec(topic, bootstrap, None, window={"idle_timeout": "2s"})
    doc["sinks"]["kafka"]["client"] = client
    with caplog.at_level(logging.WARNING), Monitor(doc, baseline=baseline()) as monitor:
        produce(bootstrap, topic, values)
        wait_for(lambda: window_counts({r["key"]: r for r in monitor.hub.history("stats")}) == expected, 60,
                 what="every window computed")
        wait_for(lambda: f"The result topic '{topic}." in caplog.text and "is not available" in caplog.text, 90,
                 what="the missing-topic error")
        assert monitor.running and monitor.error is None
        assert monitor.offsets.committed == {}  # no input offset committed while results cannot be written
        kinds = ["stats", "drift", "outliers", "health", "alerts", "dead-letter", "late"]
        admin.create_topics({f"{topic}.{k}": {"num_partitions": 1, "replication_factor": 1} for k in kinds})
        wait_for(lambda: window_counts(latest_by_key(read_topic(bootstrap, f"{topic}.stats", 2))) == expected, 90,
                 interval=2, what="the results after the topics were created")
    admin.close()
