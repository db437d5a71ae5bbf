"""End to end on the real local broker and a real Dask cluster.

20,000 inference logs over 3 partitions with out-of-order event times and malformed records:
every window is emitted once, with a count equal to the valid records whose event time falls
in it; bad records land in the dead-letter topic with their reasons; results reach Kafka and
Parquet. Then the engine (a separate process) is killed with SIGKILL mid-stream and restarted:
no window is missing and every result carries its deterministic key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from driftstream.engine.monitor import Monitor

from kafka_helpers import baseline, expected_counts, latest_by_key, produce, read_topic, records, wait_for, window_counts

pytestmark = pytest.mark.kafka

SCHEMA = {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"}


def spec(topic: str, bootstrap: str, parquet: Path, cluster: dict, size: str = "2s") -> dict:
    return {
        "model": "t",
        "source": {"kind": "kafka", "topic": topic, "bootstrap_servers": bootstrap, "group_id": f"g-{topic}"},
        "schema": SCHEMA,
        "window": {"size": size, "watermark": "1s", "idle_timeout": "3s"},
        "outliers": {"detectors": [{"name": "range"}, {"name": "zscore"}]},
        "drift": {"detectors": [{"name": "ks"}, {"name": "js"}, {"name": "chi2"}]},
        "sinks": {"kafka": {"topic_prefix": f"{topic}."}, "parquet": str(parquet)},
        "cluster": cluster,
    }


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_every_window_emitted_once_with_the_right_count(kafka_bootstrap, kafka_topic, dask_address, tmp_path, client):
    values, valid = records(20_000, start_ms=1_700_000_000_000, span_ms=20_000, jitter_ms=800, bad_every=100)
    produce(kafka_bootstrap, kafka_topic, values)
    expected = expected_counts(valid, 2_000)
    doc = spec(kafka_topic, kafka_bootstrap, tmp_path / "out", {"address": dask_address})
    doc["source"]["client"] = client

    with Monitor(doc, baseline=baseline()) as monitor:
        wait_for(lambda: monitor.counters.get("windows_emitted", 0) >= len(expected), 120, what="every window")
        time.sleep(1.5)  # one more commit/flush cycle
    assert monitor.error is None
    summary = monitor.summary()
    assert summary["records_in"] == 20_000 and summary["bad"] == 20_000 - len(valid) and summary["late"] == 0

    stats = read_topic(kafka_bootstrap, f"{kafka_topic}.stats")
    per_key = Counter(key for key, _ in stats)
    assert max(per_key.values()) == 1, "a window was emitted twice"
    assert window_counts(latest_by_key(stats)) == expected

    dead = read_topic(kafka_bootstrap, f"{kafka_topic}.dead-letter")
    assert len(dead) == 20_000 - len(valid)
    reasons = Counter(v["reason"].split(":")[0] for _, v in dead)
    assert set(reasons) == {"invalid JSON", "invalid UTF-8", "missing field"}, reasons
    assert all({"partition", "offset", "raw"} <= set(v) for _, v in dead)

    drift = read_topic(kafka_bootstrap, f"{kafka_topic}.drift")
    assert {v["detector"] for _, v in drift} == {"ks", "js", "chi2"}
    assert all(v["emitted_at"] >= v["window_end"] for _, v in drift)

    parquet = pd.read_parquet(tmp_path / "out" / "stats")
    x = parquet[parquet.feature == "x"]
    assert dict(zip(x.window_start, x["count"])) == expected


def _engine(spec_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "driftstream.engine.cli", "run", str(spec_path)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_engine_killed_and_restarted_loses_no_window(kafka_bootstrap, kafka_topic, tmp_path, client):
    baseline().save(tmp_path / "baseline")
    doc = spec(kafka_topic, kafka_bootstrap, tmp_path / "out", {"local": {"processes": False, "n_workers": 1, "threads_per_worker": 2}})
    doc["baseline"] = str(tmp_path / "baseline")
    doc["source"]["client"] = client
    doc["source"]["static_membership"] = True  # a restart takes its partitions back at once
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(doc))
    now = int(time.time() * 1000)
    values, valid = records(20_000, start_ms=now + 2_000, span_ms=12_000, jitter_ms=500, seed=5, bad_every=200)
    expected = expected_counts(valid, 2_000)
    log = tmp_path / "engine.log"

    first = _engine(tmp_path / "spec.yaml", log)
    producer = threading.Thread(target=produce, args=(kafka_bootstrap, kafka_topic, values, 20_000 / 12.0))
    time.sleep(3)
    producer.start()
    stats_topic = f"{kafka_topic}.stats"
    wait_for(lambda: len(read_topic(kafka_bootstrap, stats_topic, 2)) >= 8, 60, what="the first windows before the kill")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    emitted_before = {v["window_start"] for _, v in read_topic(kafka_bootstrap, stats_topic)}
    assert 0 < len(emitted_before) < len(expected), "the kill should land mid-stream"

    second = _engine(tmp_path / "spec.yaml", log)
    try:
        producer.join(60)
        wait_for(
            lambda: window_counts(latest_by_key(read_topic(kafka_bootstrap, stats_topic, 3))) == expected,
            120, interval=2, what="every window with its full count after the restart",
        )
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
    stats = read_topic(kafka_bootstrap, stats_topic)
    keys = {k.decode() for k, _ in stats}
    assert keys == {f"t/{start}/{feature}/stats" for start in expected for feature in ("x", "y", "c", "prediction", "*")}
    assert "Traceback" not in log.read_text()
