"""Replay benchmark: the reference system's experiment reproduced on this machine.

Requests from a real scikit-learn model (``driftstream.engine.workload.Workload``: the
diabetes data, numeric + categorical features, drift half-way, ~1% injected outliers) are
produced into the local Kafka broker by C concurrent producer *processes* at a target rate,
each message stamped with its request time at send (``ts`` = epoch ms when sent). A
:class:`~driftstream.engine.monitor.Monitor` (15 s tumbling windows, 6 s watermark, windowed
stats with histograms, descriptive outliers range + stddev, KL / JS / Wasserstein-hist drift,
plus the default detectors) runs in this process on a Dask ``LocalCluster``, writing its
results to Kafka topics like the reference did.

Latency after request time = ``emitted_at`` - request ``ts``:

* outliers: per flagged request (the first result record of each flagged request). ``emit_all``
  is off (scores for every request x feature x detector would multiply the output ~40x), so
  this is measured on the requests the detectors flag (the ~1% injected outliers plus natural
  tail values), a sample of requests spread evenly over the run.
* stats, drift: per request, from the per-request ``ts`` list the producers return: each
  request's latency is the ``emitted_at`` of its window's first result minus its ``ts``.

Accounting check: for every window and every monitored column, the stats record's
``count + missing`` equals the number of produced requests whose ``ts`` falls in that window,
and no other window is emitted.

Usage::

    .venv/bin/python bench/replay.py                       # the default levels, ~10 minutes
    .venv/bin/python bench/replay.py --rates 5000 --requests 75000 --producers 4
    .venv/bin/python bench/replay.py --write               # also rewrite the "## Replay" section of RESULTS.md

Importable (``bench/`` is not a package): ``run_level(...)`` returns the result dict of one level.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
REFERENCE_P75 = {"outliers": 5.9, "stats": 29.92, "drift": 30.86}
QUANTILES = (50, 75, 95, 99)

# payloads handed to the forked producer processes (copy-on-write), never pickled
_PAYLOADS: list[tuple[bytes, bytes]] = []
_KEYS: list[bytes] = []


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def floor_p75(size_s: float, watermark_s: float) -> float:
    """p75 latency floor of a windowed result for evenly spread requests."""
    return size_s + watermark_s - 0.25 * size_s


# ------------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------------
def local_cluster(n_workers: int = 1, threads_per_worker: int = 2):
    """The benchmark's LocalCluster. Its scheduler runs in this process, the engine's, so it is started with
    the engine's limit on Dask's debugging message logs (``engine.dask_message_log``): with Dask's default the
    scheduler's log of messages sent to the worker keeps the last 1,000 micro-batch frames alive here."""
    from distributed import LocalCluster

    from driftstream.engine.monitor import dask_message_log
    from driftstream.engine.spec import EngineSpec

    with dask_message_log(EngineSpec().dask_message_log):
        return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, host="127.0.0.1",
                            dashboard_address="127.0.0.1:0", memory_limit="4GiB")


def build_payloads(n: int, seed: int = 0) -> tuple[list[tuple[bytes, bytes]], list[bytes], np.ndarray, Any]:
    """``n`` pre-encoded requests: (JSON prefix up to ``"ts": ``, suffix) so ``ts`` is stamped at send."""
    from driftstream.engine.workload import Workload

    workload = Workload(seed=seed)
    records, truth = workload.requests(n, start_ms=0, rate=1000.0, drift_at=0.5)
    payloads, keys = [], []
    for r in records:
        r = dict(r)
        r.pop("ts")
        body = json.dumps(r).encode()
        payloads.append((body[:-1] + b', "ts": ', b"}"))
        keys.append(r["request_id"].encode())
    return payloads, keys, truth["outlier"].to_numpy(), workload


def baseline_for(workload) -> Any:
    from driftstream.detectors.baseline import Baseline
    from driftstream.engine.workload import spec_dict

    columns = {**spec_dict()["schema"]["features"], "prediction": "numeric"}
    return Baseline.fit(workload.training_frame(), columns)


def _kafka_python_client(topic: str, bootstrap: str):
    """(send(key, value), idle(), finish()) over a kafka-python producer."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1, batch_size=256 * 1024,
                             max_in_flight_requests_per_connection=5)

    def send(key: bytes, value: bytes) -> None:
        producer.send(topic, key=key, value=value)

    def finish() -> None:
        producer.flush()
        producer.close()

    return send, lambda: None, finish


def _confluent_client(topic: str, bootstrap: str):
    """(send(key, value), idle(), finish()) over confluent-kafka (librdkafka, C): a model server's
    logger costs little CPU, so on this 2-core machine the load generator takes less from the engine."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": 1, "queue.buffering.max.messages": 1_000_000})

    def send(key: bytes, value: bytes) -> None:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                return
            except BufferError:  # local queue full: let librdkafka send
                producer.poll(0.01)

    return send, lambda: producer.poll(0), lambda: producer.flush(60)


CLIENTS = {"kafka-python": _kafka_python_client, "confluent": _confluent_client}


def _producer_main(index: int, count: int, rate: float, topic: str, bootstrap: str, go, out_path: str,
                   client: str = "kafka-python", nice: int = 0) -> None:
    """One producer process: requests ``index::count`` at ``rate``/s, ``ts`` stamped at send.

    ``nice`` > 0 lowers its CPU priority: the model servers it stands for run elsewhere, and on a
    saturated machine it should fall behind its rate (reported as produced/s) rather than the engine."""
    if nice:
        os.nice(nice)
    send, idle, finish = CLIENTS[client](topic, bootstrap)
    mine = range(index, len(_PAYLOADS), count)
    stamps = np.zeros(len(mine), np.int64)
    go.wait()
    t0 = time.monotonic()
    sent = 0
    total = len(mine)
    while sent < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1) if rate else total
        if due <= sent:
            idle()
            time.sleep(max(0.0, min(0.002, (sent + 1) / rate - (time.monotonic() - t0))))
            continue
        for k in range(sent, min(due, sent + 2000)):
            i = mine[k]
            ts = time.time_ns() // 1_000_000
            prefix, suffix = _PAYLOADS[i]
            send(_KEYS[i], prefix + str(ts).encode() + suffix)
            stamps[k] = ts
            sent = k + 1
        idle()
    finish()
    elapsed = time.monotonic() - t0
    cpu = os.times()
    header = [int(elapsed * 1e6), int((cpu.user + cpu.system) * 1e6)]
    np.save(out_path, np.concatenate([header, np.asarray(mine, np.int64), stamps]))


def create_topic(bootstrap: str, partitions: int) -> str:
    from kafka import KafkaAdminClient

    name = f"bench-replay-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="driftstream-bench")
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True)
    finally:
        admin.close()
    # a consumer group joining before the broker serves the topic's partition metadata can get an
    # empty assignment and keep it (kafka-python): wait until a fresh client sees every partition
    from kafka import KafkaConsumer

    probe = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        deadline = time.monotonic() + 30
        while len(probe.partitions_for_topic(name) or ()) < partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            probe.topics()
    finally:
        probe.close()
    time.sleep(0.5)
    return name


def delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="driftstream-bench")
    try:
        admin.delete_topics(names, raise_errors=False)
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    finally:
        admin.close()


# ------------------------------------------------------------------------------------------------
# measurement helpers
# ------------------------------------------------------------------------------------------------
class Collector:
    """Hub subscriber keeping what the latency and accounting figures need (not the records)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stats_counts: dict[int, dict[str, int]] = defaultdict(dict)  # window -> feature -> count+missing (last)
        self.stats_first: dict[int, int] = {}  # window -> first emitted_at
        self.stats_emissions: dict[int, int] = defaultdict(int)
        self.drift_first: dict[int, int] = {}
        self.drift_detectors: set[str] = set()
        self.outlier_first: dict[str, tuple[int, int]] = {}  # request_id -> (ts, first emitted_at)
        self.outlier_records = 0
        self.health: list[dict[str, Any]] = []
        self.alerts = 0

    def __call__(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self.lock:
            if kind == "stats":
                seen = set()
                for r in records:
                    w = r["window_start"]
                    if r["feature"] == "*":
                        continue
                    self.stats_counts[w][r["feature"]] = int(r["count"]) + int(r["missing"])
                    self.stats_first.setdefault(w, r["emitted_at"])
                    seen.add(w)
                for w in seen:
                    self.stats_emissions[w] += 1
            elif kind == "drift":
                for r in records:
                    self.drift_first.setdefault(r["window_start"], r["emitted_at"])
                    self.drift_detectors.add(r["detector"])
            elif kind == "outliers":
                self.outlier_records += len(records)
                for r in records:
                    self.outlier_first.setdefault(r["request_id"], (r["ts"], r["emitted_at"]))
            elif kind == "health":
                for r in records:
                    self.health.append({"t": r["emitted_at"], "records_in": r["records_in"],
                                        "events_per_s": r["events_per_s"], "lag": sum(r["lag"].values()) if r["lag"] else None})
            elif kind == "alerts":
                self.alerts += len(records)


class ResourceSampler(threading.Thread):
    """Samples RSS of the engine process, the Dask workers and the producers every ``interval`` s."""

    def __init__(self, groups: dict[str, list[int]], interval: float = 0.5):
        super().__init__(daemon=True, name="bench-sampler")
        import psutil

        self.procs = {g: [psutil.Process(p) for p in pids] for g, pids in groups.items()}
        self.interval = interval
        self.peak_rss = {g: 0 for g in groups}
        self.rss_series: dict[str, list[tuple[float, int]]] = {g: [] for g in groups}
        self.cpu0 = {g: self._cpu(g) for g in groups}
        self.t0 = time.monotonic()
        self._halt = threading.Event()

    def _cpu(self, group: str) -> float:
        total = 0.0
        for p in self.procs[group]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except Exception:  # noqa: BLE001 - process gone
                pass
        return total

    def add(self, group: str, pids: list[int]) -> None:
        import psutil

        self.procs.setdefault(group, []).extend(psutil.Process(p) for p in pids)
        self.peak_rss.setdefault(group, 0)
        self.rss_series.setdefault(group, [])
        self.cpu0.setdefault(group, 0.0)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            for group, procs in self.procs.items():
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except Exception:  # noqa: BLE001
                        pass
                self.peak_rss[group] = max(self.peak_rss[group], rss)
                self.rss_series[group].append((time.monotonic() - self.t0, rss))

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join(2)
        wall = time.monotonic() - self.t0
        out = {}
        for g in self.procs:
            cpu = self._cpu(g) - self.cpu0[g]
            series = self.rss_series[g]
            half = series[len(series) // 2][1] if series else 0
            out[g] = {
                "peak_rss_mb": round(self.peak_rss[g] / 2**20, 1),
                "rss_mid_run_mb": round(half / 2**20, 1),
                "rss_end_mb": round(series[-1][1] / 2**20, 1) if series else None,
                "cpu_s": round(cpu, 1),
                "cpu_cores_avg": round(cpu / wall, 2) if wall else None,
                "rss_series_mb": [(round(t, 1), round(v / 2**20)) for t, v in series[:: max(1, len(series) // 30)]],
            }
        return out


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {f"p{q}": None for q in QUANTILES} | {"max": None, "n": 0}
    qs = np.percentile(values, QUANTILES)
    out = {f"p{q}": round(float(v) / 1000, 3) for q, v in zip(QUANTILES, qs)}
    out["max"] = round(float(values.max()) / 1000, 3)
    out["n"] = int(len(values))
    return out


def window_latencies(ts: np.ndarray, size_ms: int, first_emitted: dict[int, int]) -> tuple[np.ndarray, int]:
    """Per request: emitted_at of its window's first result - ts (ms); and how many had no result."""
    windows = (ts // size_ms) * size_ms
    emitted = np.array([first_emitted.get(int(w), -1) for w in np.unique(windows)], np.int64)
    lookup = dict(zip(np.unique(windows).tolist(), emitted.tolist()))
    per = np.fromiter((lookup[w] for w in windows.tolist()), np.int64, len(windows)) if len(windows) else np.zeros(0, np.int64)
    ok = per >= 0
    return (per[ok] - ts[ok]), int((~ok).sum())


# ------------------------------------------------------------------------------------------------
# one level
# ------------------------------------------------------------------------------------------------
def run_level(
    requests: int,
    rate: float,
    producers: int = 4,
    partitions: int = 3,
    size: str = "15s",
    watermark: str = "6s",
    idle_timeout: str = "5s",
    bootstrap: str = "127.0.0.1:9092",
    n_workers: int = 1,
    threads_per_worker: int = 2,
    kafka_sink: bool = True,
    seed: int = 0,
    timeout: float | None = None,
    prepared: tuple | None = None,
    keep_series: bool = False,
    producer_client: str = "kafka-python",
    sink_client: str = "kafka-python",
    producer_nice: int = 0,
    source_client: str = "kafka-python",
    log=print,
) -> dict[str, Any]:
    """Produce ``requests`` at ``rate``/s through Kafka into a Monitor; measure; return the result dict."""
    global _PAYLOADS, _KEYS
    from distributed import Client

    from driftstream.engine.hub import ResultHub
    from driftstream.engine.monitor import Monitor
    from driftstream.engine.spec import parse_duration
    from driftstream.engine.workload import spec_dict

    size_ms, watermark_ms = parse_duration(size), parse_duration(watermark)
    payloads, keys, injected, workload = prepared or build_payloads(requests, seed)
    payloads, keys = payloads[:requests], keys[:requests]
    base = baseline_for(workload)
    topic = create_topic(bootstrap, partitions)
    tmp = Path(tempfile.mkdtemp(prefix="driftstream-replay-"))
    ctx = mp.get_context("fork")
    go = ctx.Event()
    _PAYLOADS, _KEYS = payloads, keys
    procs = [
        ctx.Process(target=_producer_main, args=(i, producers, rate / producers, topic, bootstrap, go, str(tmp / f"p{i}.npy"), producer_client, producer_nice),
                    name=f"bench-producer-{i}", daemon=True)
        for i in range(producers)
    ]
    for p in procs:
        p.start()
    _PAYLOADS, _KEYS = [], []  # the children hold their copy
    del payloads, keys

    cluster = local_cluster(n_workers, threads_per_worker)
    client = Client(cluster)
    worker_pids = list(client.run(os.getpid).values())
    spec = spec_dict(
        source={"kind": "kafka", "client": source_client, "topic": topic, "bootstrap_servers": bootstrap, "group_id": f"g-{topic}"},
        window={"size": size, "watermark": watermark, "idle_timeout": idle_timeout},
        sinks={"kafka": {"topic_prefix": f"{topic}.", "client": sink_client} if kafka_sink else None, "parquet": None},
    )
    spec["cluster"] = {"address": cluster.scheduler_address}
    hub = ResultHub(history=1000)
    collector = Collector()
    hub.subscribe(collector)
    sampler = ResourceSampler({"engine": [os.getpid()], "workers": worker_pids, "producers": [p.pid for p in procs]})
    monitor = Monitor(spec, baseline=base, hub=hub)
    result: dict[str, Any] = {"requests": requests, "target_rate": rate, "producers": producers, "producer_client": producer_client, "producer_nice": producer_nice, "sink_client": sink_client if kafka_sink else None, "source_client": source_client, "partitions": partitions,
                              "window": size, "watermark": watermark, "idle_timeout": idle_timeout, "topic": topic}
    try:
        monitor.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not monitor.lag:  # partitions assigned: the group has joined
            time.sleep(0.2)
        if not monitor.lag:
            raise RuntimeError(f"the monitor's consumer got no partitions of {topic} within 60 s")
        sampler.start()
        t_start = now_ms()
        go.set()
        log(f"  producing {requests:,} requests at {rate:,.0f}/s with {producers} producers -> {topic}")
        expected_done = requests / rate + (size_ms + watermark_ms) / 1000 + parse_duration(idle_timeout) / 1000
        limit = time.monotonic() + (timeout or max(120.0, 3 * expected_done + 60))
        t_all_in = None
        while time.monotonic() < limit:
            time.sleep(0.25)
            if monitor.error:
                raise RuntimeError(f"monitor failed: {monitor.error}")
            got = monitor.counters.get("records_in", 0)
            if t_all_in is None and got >= requests:
                t_all_in = now_ms()
            if not any(p.is_alive() for p in procs) and got >= requests and not monitor.windower.open and not monitor.pending_closes:
                break
        time.sleep(1.5)  # the last results through the sinks, one more health tick
        t_end = now_ms()
    finally:
        resources = sampler.stop() if sampler.is_alive() else {}
        monitor.stop()
        client.close()
        cluster.close()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    # -- what the producers sent
    ts = np.full(requests, -1, np.int64)
    produce_elapsed, produce_cpu = [], 0.0
    for i in range(producers):
        arr = np.load(tmp / f"p{i}.npy")
        k = (len(arr) - 2) // 2
        produce_elapsed.append(arr[0] / 1e6)
        produce_cpu += arr[1] / 1e6
        ts[arr[2 : 2 + k]] = arr[2 + k :]
    if resources:
        resources["producers"] = {"cpu_s": round(produce_cpu, 1), "cpu_cores_avg": round(produce_cpu / max(produce_elapsed), 2),
                                  "peak_rss_mb": resources.get("producers", {}).get("peak_rss_mb")}
    if (ts < 0).any():
        raise RuntimeError(f"{int((ts < 0).sum())} requests were not produced")
    summary = monitor.summary()
    # -- latency
    outl = np.array([e - t for t, e in collector.outlier_first.values()], np.int64)
    stats_lat, stats_missing = window_latencies(ts, size_ms, collector.stats_first)
    drift_lat, drift_missing = window_latencies(ts, size_ms, collector.drift_first)
    # -- accounting
    windows, per_window = np.unique((ts // size_ms) * size_ms, return_counts=True)
    expected = dict(zip(windows.tolist(), per_window.tolist()))
    mismatches = []
    for w, n in expected.items():
        got = collector.stats_counts.get(w)
        if not got:
            mismatches.append({"window": w, "expected": n, "got": None})
            continue
        bad = {f: c for f, c in got.items() if c != n}
        if bad:
            mismatches.append({"window": w, "expected": n, "got": bad})
    extra = sorted(set(collector.stats_counts) - set(expected))
    # the run's first window is partial (the load starts inside it: its requests sit near its end), and
    # the windows the load stops less than a watermark after close by the idle timeout, not the
    # watermark: the "whole windows" are the others
    inner = [w for w in sorted(expected)[1:] if w + size_ms + watermark_ms <= int(ts.max())]
    whole = np.isin((ts // size_ms) * size_ms, inner)
    stats_whole, _ = window_latencies(ts[whole], size_ms, collector.stats_first)
    drift_whole, _ = window_latencies(ts[whole], size_ms, collector.drift_first)
    lags = [h["lag"] for h in collector.health if h["lag"] is not None]
    eps = [h["events_per_s"] for h in collector.health]
    consume_s = ((t_all_in or t_end) - t_start) / 1000
    result.update(
        {
            "produced": int(len(ts)),
            "produce_seconds": round(max(produce_elapsed), 2),
            "produce_rate": round(requests / max(produce_elapsed), 1),
            "consumed": summary["records_in"],
            "consume_seconds": round(consume_s, 2),
            "sustained_events_per_s": round(summary["records_in"] / consume_s, 1) if consume_s > 0 else None,
            "peak_events_per_s_1s": round(max(eps), 1) if eps else None,
            "max_consumer_lag": int(max(lags)) if lags else None,
            "bad": summary["bad"],
            "late": summary["late"],
            "windows_emitted": summary["windows_emitted"],
            "closes": {**summary["closes"], "last": list(monitor.recent_closes)},
            "latency_s": {
                "outliers": percentiles(outl),
                "stats": percentiles(stats_lat),
                "drift": percentiles(drift_lat),
            },
            "latency_whole_windows_s": {"windows": len(inner), "stats": percentiles(stats_whole),
                                        "drift": percentiles(drift_whole)},
            "requests_without_result": {"stats": stats_missing, "drift": drift_missing},
            "outliers": {
                "flagged_requests": len(collector.outlier_first),
                "records": collector.outlier_records,
                "injected": int(injected[:requests].sum()),
                "measured_on": "flagged requests (emit_all off): first result of each flagged request",
            },
            "accounting": {
                "ok": not mismatches and not extra and summary["late"] == 0 and summary["bad"] == 0,
                "windows_expected": len(expected),
                "windows_emitted_distinct": len(collector.stats_counts),
                "mismatches": mismatches[:10],
                "extra_windows": extra[:10],
                "re_emitted_windows": sum(1 for v in collector.stats_emissions.values() if v > 1),
            },
            # per window: when its first stats result came out, after its end + watermark (the floor's
            # close time); a window the stream stopped in closes by the idle timeout instead
            "windows": [{"start": w, "requests": n, "last_request_after_end_s": round((int(ts[(ts // size_ms) * size_ms == w].max()) - w - size_ms) / 1000, 2),
                         "first_stats_after_end_plus_watermark_s": round((collector.stats_first[w] - w - size_ms - watermark_ms) / 1000, 2)
                         if w in collector.stats_first else None} for w, n in expected.items()],
            "drift_detectors": sorted(collector.drift_detectors),
            "alerts": collector.alerts,
            "resources": resources,
            "run_seconds": round((t_end - t_start) / 1000, 1),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    result["health"] = [{"t_s": round((h["t"] - t_start) / 1000, 1), "records_in": h["records_in"], "lag": h["lag"],
                         "events_per_s": round(h["events_per_s"])} for h in collector.health]
    if keep_series:
        result["_latencies_ms"] = {"outliers": outl, "stats": stats_lat, "drift": drift_lat}
    try:
        delete_topics(bootstrap, [topic] + [f"{topic}.{k}" for k in ("stats", "outliers", "drift", "alerts", "health", "dead-letter", "late")])
    except Exception:  # noqa: BLE001
        pass
    return result


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def plot(levels: list[dict[str, Any]], path: Path) -> None:
    """ECDFs of latency after request time, per analysis and level, to a static HTML file."""
    from bokeh.io import output_file, save
    from bokeh.layouts import column
    from bokeh.models import Span
    from bokeh.plotting import figure

    colors = {"outliers": "#1f77b4", "stats": "#2ca02c", "drift": "#d62728"}
    figs = []
    for level in levels:
        series = level.get("_latencies_ms") or {}
        for log_axis, title in ((True, "log"), (False, "linear")):
            f = figure(width=900, height=320, x_axis_type="log" if log_axis else "linear",
                       title=f"{level['target_rate']:,.0f} req/s, {level['requests']:,} requests: latency after request time ({title} axis)",
                       x_axis_label="seconds", y_axis_label="share of requests (ECDF)")
            for kind, values in series.items():
                if not len(values):
                    continue
                v = np.sort(np.maximum(values, 1)) / 1000
                step = max(1, len(v) // 2000)
                f.line(v[::step], (np.arange(len(v)) / len(v))[::step], color=colors[kind], legend_label=kind, line_width=2)
            f.add_layout(Span(location=0.75, dimension="width", line_dash="dashed", line_color="gray"))
            f.legend.location = "bottom_right"
            figs.append(f)
            if log_axis is False:
                break
    output_file(path, title="driftstream replay latency")
    save(column(*figs))


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    floor = run["floor_p75_s"]
    lines = [
        "## Replay",
        "",
        f"`bench/replay.py` (run by hand: `{run['command']}`). {run['window']} tumbling windows, {run['watermark']} watermark, "
        f"results to Kafka topics (written with {run['levels'][0].get('sink_client') or 'kafka-python'}); analyses: stats with histograms (+ percentiles, correlation), outliers range + stddev "
        "(+ mahalanobis, unseen_category), drift KL + JS + Wasserstein-hist (+ KS, PSI, chi2), BH correction, alerts. "
        f"Requests from the diabetes workload (real scikit-learn model, 10 features incl. one categorical, drift half-way, "
        f"~1% injected outliers), produced by {run['levels'][0]['producers']} concurrent {run['levels'][0].get('producer_client', 'kafka-python')} producer processes{' at nice +' + str(run['levels'][0]['producer_nice']) if run['levels'][0].get('producer_nice') else ''} into a "
        f"{run['levels'][0]['partitions']}-partition topic, `ts` stamped at send. One Dask worker process (2 threads), engine "
        "and scheduler in the bench process.",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; shared with other engineers' work: load average "
        f"{m['loadavg_start']} at the start, {run['levels'][-1]['loadavg_end']} at the end. Latencies are seconds after request time; "
        "outliers measured on the flagged requests (emit_all off), stats/drift on every request (its window's first result).",
        "",
        "| level | requests | produced/s | consumed/s | max lag | outliers p50 / p75 / p95 / p99 / max | stats p50 / p75 / p95 / p99 / max | drift p50 / p75 / p95 / p99 / max | engine RSS peak (MB) | workers RSS peak (MB) | CPU cores engine / workers / producers | accounting |",
        "|---|---:|---:|---:|---:|---|---|---|---:|---:|---|---|",
    ]

    def q(d: dict[str, Any]) -> str:
        return " / ".join("-" if d.get(k) is None else f"{d[k]:.2f}" for k in ("p50", "p75", "p95", "p99", "max"))

    for lv in run["levels"]:
        r = lv["resources"]
        lat = lv["latency_s"]
        acc = "ok" if lv["accounting"]["ok"] else f"FAILED ({len(lv['accounting']['mismatches'])} windows off)"
        lines.append(
            f"| {lv['target_rate']:,.0f}/s | {lv['requests']:,} | {lv['produce_rate']:,.0f} | {lv['sustained_events_per_s']:,.0f} | "
            f"{lv['max_consumer_lag'] if lv['max_consumer_lag'] is not None else '-'} | {q(lat['outliers'])} | {q(lat['stats'])} | {q(lat['drift'])} | "
            f"{r['engine']['peak_rss_mb']:.0f} | {r['workers']['peak_rss_mb']:.0f} | "
            f"{r['engine']['cpu_cores_avg']} / {r['workers']['cpu_cores_avg']} / {r['producers']['cpu_cores_avg']} | {acc} |"
        )
    lines += [
        "",
        "p75 latency after request time, side by side:",
        "",
        "| | outliers p75 (s) | stats p75 (s) | drift p75 (s) | stats / drift p75, whole windows only (s) |",
        "|---|---:|---:|---:|---:|",
        f"| reference (Spark, 7 nodes, 250,000 requests) | {REFERENCE_P75['outliers']} | {REFERENCE_P75['stats']} | {REFERENCE_P75['drift']} | - |",
        f"| floor for windowed results ({run['window']} + {run['watermark']}) | - | {floor} | {floor} | {floor} |",
        f"| target | 0.25 | {floor + 0.5} | {floor + 0.5} | {floor + 0.5} |",
    ]
    for lv in run["levels"]:
        lat = lv["latency_s"]
        whole = lv.get("latency_whole_windows_s") or {"windows": 0}
        fmt = lambda d: "-" if d is None or d["p75"] is None else f"{d['p75']:.2f}"  # noqa: E731
        n = whole["windows"]
        inner = f"{fmt(whole.get('stats'))} / {fmt(whole.get('drift'))} ({n} window{'s' if n != 1 else ''})" if n else "-"
        lines.append(f"| driftstream, {lv['target_rate']:,.0f}/s, {lv['requests']:,} requests, 2 cores | {fmt(lat['outliers'])} | "
                     f"{fmt(lat['stats'])} | {fmt(lat['drift'])} | {inner} |")
    lines += ["", f"Raw figures: `{run['json']}`; latency distributions (ECDF): `{run['plot']}`.", ""]
    return "\n".join(lines)


def write_section(text: str, heading: str, path: Path = HERE / "RESULTS.md") -> None:
    """Replace (or append) the ``heading`` section of RESULTS.md, keeping the others."""
    doc = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = doc.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == heading), None)
    if start is None:
        doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        doc = "\n".join(lines[:start] + text.rstrip("\n").splitlines() + [""] + lines[end:]).rstrip("\n") + "\n"
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="1000,5000,20000", help="target request rates, comma-separated")
    ap.add_argument("--requests", default="60000,150000,250000",
                    help="requests per level (one number for all, or one per rate); 250,000 is the reference's count")
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--producer-client", choices=("kafka-python", "confluent"), default="kafka-python",
                    help="the load generator's Kafka client (confluent: librdkafka, needs `pip install confluent-kafka`)")
    ap.add_argument("--producer-nice", type=int, default=0,
                    help="nice increment of the load generator's processes (they stand for model servers elsewhere)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--size", default="15s")
    ap.add_argument("--watermark", default="6s")
    ap.add_argument("--bootstrap", default=os.environ.get("DRIFTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--no-kafka-sink", action="store_true", help="results to the in-memory hub only")
    ap.add_argument("--sink-client", choices=("kafka-python", "confluent"), default="kafka-python",
                    help="the engine's result sink client (spec sinks.kafka.client)")
    ap.add_argument("--source-client", choices=("kafka-python", "confluent"), default="kafka-python",
                    help="the engine's Kafka source client (spec source.client)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "replay.json"))
    ap.add_argument("--write", action="store_true", help="rewrite the '## Replay' section of bench/RESULTS.md")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("distributed", "kafka.producer.kafka", "kafka.cluster"):
        logging.getLogger(noisy).setLevel(logging.ERROR if noisy != "kafka.cluster" else logging.CRITICAL)
    rates = [float(r) for r in args.rates.split(",")]
    counts = [int(float(c)) for c in args.requests.split(",")]
    counts = counts * len(rates) if len(counts) == 1 else counts
    if len(counts) != len(rates):
        ap.error("--requests needs one number or one per rate")
    print(f"building {max(counts):,} requests from the workload...", flush=True)
    prepared = build_payloads(max(counts))
    run: dict[str, Any] = {"machine": machine(), "command": "python " + " ".join(["bench/replay.py"] + (argv or sys.argv[1:])),
                           "window": args.size, "watermark": args.watermark, "levels": []}
    from driftstream.engine.spec import parse_duration

    run["floor_p75_s"] = floor_p75(parse_duration(args.size) / 1000, parse_duration(args.watermark) / 1000)
    for rate, n in zip(rates, counts):
        print(f"level {rate:,.0f}/s, {n:,} requests (load {os.getloadavg()[0]:.2f})", flush=True)
        level = run_level(n, rate, producers=args.producers, partitions=args.partitions, size=args.size, watermark=args.watermark,
                          bootstrap=args.bootstrap, kafka_sink=not args.no_kafka_sink, prepared=prepared, keep_series=True,
                          producer_client=args.producer_client, sink_client=args.sink_client, producer_nice=args.producer_nice,
                          source_client=args.source_client)
        lat = level["latency_s"]
        print(f"  p75 outliers {lat['outliers']['p75']} s, stats {lat['stats']['p75']} s, drift {lat['drift']['p75']} s; "
              f"consumed {level['sustained_events_per_s']:,}/s, max lag {level['max_consumer_lag']}, accounting "
              f"{'ok' if level['accounting']['ok'] else 'FAILED'}", flush=True)
        run["levels"].append(level)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_path = out.with_suffix(".html")
    plot(run["levels"], plot_path)
    for lv in run["levels"]:
        lv.pop("_latencies_ms", None)
    run["json"] = str(out.relative_to(HERE.parent)) if out.is_relative_to(HERE.parent) else str(out)
    run["plot"] = str(plot_path.relative_to(HERE.parent)) if plot_path.is_relative_to(HERE.parent) else str(plot_path)
    out.write_text(json.dumps(run, indent=2, default=str))
    text = markdown(run)
    print(text)
    if args.write:
        write_section(text, "## Replay")
    return 0 if all(lv["accounting"]["ok"] for lv in run["levels"]) else 1


if __name__ == "__main__":
    sys.exit(main())
