"""``driftstream demo``: the main job end to end on a bundled dataset.

Trains a gradient-boosting model on scikit-learn's diabetes data, profiles a baseline,
starts the local Kafka broker (or, where Java or Maven is missing, says so and replays from a
file), replays inference logs with drift injected halfway, runs the monitor on a Dask
LocalCluster and prints windowed results as they arrive.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from .workload import MODEL, Workload, spec_dict


def _kafka_available() -> tuple[bool, str]:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        return False, f"{' and '.join(missing)} not found (the local Kafka broker needs Java 17 and Maven)"
    return True, ""


def _create_topic(topic: str, partitions: int = 3) -> None:
    from kafka import KafkaAdminClient

    from . import broker

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers(), client_id="driftstream-demo")
    try:
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True)
    finally:
        admin.close()


def _printer(events: queue.Queue) -> Any:
    def show() -> None:
        while True:
            try:
                kind, record = events.get_nowait()
            except queue.Empty:
                return
            start = time.strftime("%H:%M:%S", time.localtime(record["window_start"] / 1000))
            if kind == "stats" and record["feature"] == "bmi":
                print(f"\n[window {start}] n={record['count']:>5}  bmi mean={record['mean']:.2f} sd={record['stddev_sample']:.2f}  "
                      f"p50={record['p50']:.2f}", flush=True)
            elif kind == "drift" and record["drift"]:
                p = record.get("p_value_adjusted")
                pv = f" p_adj={p:.2g}" if p is not None else ""
                print(f"[window {start}] DRIFT {record['feature']:<10} {record['detector']:<16} stat={record['statistic']:.3f}{pv}", flush=True)
            elif kind == "alerts":
                print(f"[window {start}] ALERT {record['severity']}: {record.get('message', record['detector'])}", flush=True)

    return show


def run_demo(duration: float = 60.0, rate: float = 400.0, use_kafka: bool = True, dashboard: bool = False, out: str = "demo-out") -> int:
    from driftstream.detectors.baseline import Baseline
    from driftstream.streams.producer import replay_to_kafka
    from driftstream.streams.sources import now_ms

    from .cli import run_with_status
    from .monitor import Monitor

    folder = Path(out).resolve()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    print(f"training a model on scikit-learn's diabetes data and profiling the baseline -> {folder / 'baseline'}")
    workload = Workload(seed=0)
    baseline = Baseline.fit(workload.training_frame(), {**{k: v for k, v in spec_dict()["schema"]["features"].items()}, "prediction": "numeric"})
    baseline.save(folder / "baseline")

    n = int(rate * duration)
    records, _ = workload.requests(n, start_ms=now_ms() + 2000, rate=rate, drift_at=0.5)
    window = {"size": "10s", "watermark": "2s", "idle_timeout": "3s"}
    overrides: dict[str, Any] = {"window": window, "sinks": {"parquet": str(folder / "results")}, "baseline": str(folder / "baseline")}
    if dashboard:
        overrides["dashboard"] = {"enabled": True}

    if use_kafka:
        ok, why = _kafka_available()
        if not ok:
            print(f"note: {why}; falling back to the file-replay source")
            use_kafka = False
    topic = f"{MODEL}.inference"
    if use_kafka:
        from . import broker

        print("starting the local Kafka broker (127.0.0.1:9092)...")
        broker.fetch_jars()
        broker.up()
        topic = f"{MODEL}.demo-{int(time.time())}.inference"
        _create_topic(topic)
        overrides["source"] = {"kind": "kafka", "topic": topic, "group_id": f"driftstream-demo-{int(time.time())}"}
        overrides["sinks"]["kafka"] = {"topic_prefix": f"{MODEL}.demo."}
    else:
        log = folder / "inference.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in records))
        overrides["source"] = {"kind": "replay", "path": str(log), "rate": rate}
    spec = spec_dict(**overrides)

    events: queue.Queue = queue.Queue()
    monitor = Monitor(spec, baseline=baseline)
    monitor.hub.subscribe(lambda kind, recs: [events.put((kind, r)) for r in recs if kind in ("stats", "drift", "alerts")])
    print(f"starting the monitor on a Dask LocalCluster ({n} requests at {rate:.0f}/s, drift injected halfway; 10 s windows)")
    monitor.start()
    if monitor.dashboard_url:
        print(f"dashboard: {monitor.dashboard_url}")
    producer = None
    if use_kafka:
        producer = threading.Thread(target=replay_to_kafka, args=([records[i : i + 200] for i in range(0, n, 200)], topic), kwargs={"rate": rate}, daemon=True)
        producer.start()
    run_with_status(monitor, duration + 20, printer=_printer(events))
    _printer(events)()
    print(f"Parquet results under {folder / 'results'}; `driftstream report {folder / 'results'} -o report.html` renders them.")
    return 0
