"""Throughput benchmark: the highest rate the engine sustains, and where its time goes.

The topic is pre-filled (producer processes, as fast as they go) with requests from the
diabetes workload whose event times are spaced as a ``--nominal-rate`` stream (so windows of
15 s close as they would at that rate), then a Monitor with the reference analyses (the same
spec as ``bench/replay.py``) consumes the backlog. The consumption rate over ``--duration``
seconds of a non-empty backlog is the rate the engine sustains without growing lag (anything
produced faster than this accumulates as lag). With ``--profile`` the engine process is
sampled by py-spy (threads and native frames off) and the top functions by thread are written.

Usage::

    .venv/bin/python bench/throughput.py --records 600000 --duration 60 --profile
    .venv/bin/python bench/throughput.py --write      # also rewrite "## Throughput" in RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import replay  # noqa: E402  (bench/ is not a package)


def _prefill_main(index: int, count: int, base_ms: int, nominal_rate: float, topic: str, bootstrap: str, n: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1, batch_size=512 * 1024)
    payloads, keys = replay._PAYLOADS, replay._KEYS
    m = len(payloads)
    for i in range(index, n, count):
        prefix, suffix = payloads[i % m]
        ts = base_ms + int(i * 1000 / nominal_rate)
        producer.send(topic, key=keys[i % m] + b"-%d" % (i // m), value=prefix + str(ts).encode() + suffix)
    producer.flush()
    producer.close()


def prefill(topic: str, bootstrap: str, n: int, nominal_rate: float, producers: int, distinct: int = 100_000) -> int:
    """``n`` requests into ``topic`` (``distinct`` payloads reused with new ids); returns the first event time."""
    payloads, keys, _, _ = replay.build_payloads(min(n, distinct))
    replay._PAYLOADS, replay._KEYS = payloads, keys
    base_ms = replay.now_ms() - int(n * 1000 / nominal_rate) - 60_000
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_prefill_main, args=(i, producers, base_ms, nominal_rate, topic, bootstrap, n), daemon=True) for i in range(producers)]
    for p in procs:
        p.start()
    replay._PAYLOADS, replay._KEYS = [], []
    for p in procs:
        p.join()
    return base_ms


GENERIC = ("threading.py", "asyncio/", "concurrent/futures", "selectors.py", "distributed/utils.py", "distributed/compatibility.py",
           "tornado/", "<module>", "runpy", "streamz/core.py")


def summarise_profile(raw: Path, top: int = 25) -> dict[str, Any]:
    """Share of the engine process's samples per thread, per leaf function and per (non-plumbing) function."""
    threads: Counter = Counter()
    leaf: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        n = int(n)
        body = [f for f in stack.split(";") if not f.startswith(("thread", "process"))]
        total += n
        threads[_thread_name(body)] += n
        if body:
            leaf[body[-1]] += n
        for f in set(body):
            if not any(g in f for g in GENERIC):
                inclusive[f] += n
    pct = lambda c: [(f, round(100 * v / max(total, 1), 1)) for f, v in c.most_common(top)]  # noqa: E731
    return {"samples": total, "threads": pct(threads), "leaf": pct(leaf), "inclusive": pct(inclusive)}


def _thread_name(frames: list[str]) -> str:
    text = ";".join(frames)
    for marker, name in (("Monitor._thread_main", "engine loop (asyncio: decode, window, submit, emit)"),
                         ("kafka_batches._", "kafka consumer thread (poll, commit, lag)"),
                         ("Sender.run", "kafka producer I/O thread (result sink)"),
                         ("LoopRunner", "dask client/scheduler event loop"),
                         ("KafkaNetClient", "kafka-python consumer I/O thread"), ("bench-sampler", "bench sampler"),
                         ("ResourceSampler", "bench sampler"), ("throughput.py", "bench main thread")):
        if marker in text:
            return name
    return frames[0] if frames else "?"


def run(records: int, nominal_rate: float, duration: float, producers: int, bootstrap: str, profile: bool,
        size: str = "15s", watermark: str = "6s", kafka_sink: bool = True, sink_client: str = "kafka-python",
        engine: dict[str, Any] | None = None, source_client: str = "kafka-python", log=print) -> dict[str, Any]:
    from distributed import Client

    from driftstream.engine.hub import ResultHub
    from driftstream.engine.monitor import Monitor
    from driftstream.engine.workload import spec_dict

    topic = replay.create_topic(bootstrap, 3)
    t = time.monotonic()
    log(f"pre-filling {topic} with {records:,} requests...")
    prefill(topic, bootstrap, records, nominal_rate, producers)
    prefill_s = time.monotonic() - t
    log(f"  {records / prefill_s:,.0f} requests/s produced")
    _, _, _, workload = replay.build_payloads(10)
    base = replay.baseline_for(workload)
    cluster = replay.local_cluster(1, 2)
    client = Client(cluster)
    worker_pids = list(client.run(os.getpid).values())
    spec = spec_dict(
        source={"kind": "kafka", "client": source_client, "topic": topic, "bootstrap_servers": bootstrap, "group_id": f"g-{topic}"},
        window={"size": size, "watermark": watermark, "idle_timeout": "5s"},
        sinks={"kafka": {"topic_prefix": f"{topic}.", "client": sink_client} if kafka_sink else None, "parquet": None},
    )
    spec["cluster"] = {"address": cluster.scheduler_address}
    spec["engine"] = engine or {}
    hub = ResultHub(history=1000)
    collector = replay.Collector()
    hub.subscribe(collector)
    monitor = Monitor(spec, baseline=base, hub=hub)
    sampler = replay.ResourceSampler({"engine": [os.getpid()], "workers": worker_pids})
    spy = None
    raw = Path(tempfile.mkdtemp(prefix="driftstream-tp-")) / "profile.raw"
    series = []
    try:
        monitor.start()
        sampler.start()
        if profile and shutil.which("py-spy", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")):
            exe = shutil.which("py-spy", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
            spy = subprocess.Popen([exe, "record", "--pid", str(os.getpid()), "--rate", "50", "--format", "raw", "--threads",
                                    "--duration", str(int(duration)), "--output", str(raw), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.monotonic()
        first = None
        while time.monotonic() - t0 < duration + 60:
            time.sleep(1.0)
            got = monitor.counters.get("records_in", 0)
            now = time.monotonic()
            if first is None and got > 0:
                first = (now, got)
            series.append((round(now - t0, 2), got))
            if first and (now - first[0] >= duration or got >= records):
                break
            if monitor.error:
                raise RuntimeError(monitor.error)
        last = series[-1]
        resources = sampler.stop()
    finally:
        monitor.stop()
        client.close()
        cluster.close()
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
    elapsed = last[0] - (first[0] - t0)
    consumed = last[1] - first[1]
    lags = [h["lag"] for h in collector.health if h["lag"] is not None]
    result = {
        "records": records, "sink_client": sink_client if kafka_sink else None, "source_client": source_client, "nominal_rate": nominal_rate, "prefill_rate": round(records / prefill_s, 1),
        "measured_seconds": round(elapsed, 1), "consumed": int(consumed),
        "sustained_events_per_s": round(consumed / elapsed, 1) if elapsed > 0 else None,
        "backlog_left": max(lags[-1:] or [0]), "windows_emitted": monitor.counters.get("windows_emitted", 0),
        "engine_settings": engine or {}, "series": series, "resources": resources, "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    if spy is not None and raw.exists():
        result["profile"] = summarise_profile(raw)
    elif spy is not None:
        result["profile_error"] = spy.stderr.read().decode(errors="replace")[-2000:] if spy.stderr else "no output"
    replay.delete_topics(bootstrap, [topic] + [f"{topic}.{k}" for k in ("stats", "outliers", "drift", "alerts", "health")])
    return result


def markdown(res: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    r = res["resources"]
    lines = [
        "## Throughput",
        "",
        f"`bench/throughput.py` (run by hand: `{command}`). The topic (3 partitions) is pre-filled with "
        f"{res['records']:,} diabetes-workload requests (event times spaced as a {res['nominal_rate']:,.0f}/s stream), then the "
        "monitor with the replay benchmark's spec (reference analyses + default detectors, results to Kafka) consumes the "
        f"backlog; the rate over {res['measured_seconds']} s is what it sustains without growing lag.",
        "",
        f"Machine: {machine['cores']} cores, {machine['cpu']}; load average {machine['loadavg_start']} at the start, "
        f"{res['loadavg_end']} at the end (shared machine).",
        "",
        "| sustained events/s | measured over (s) | windows emitted | engine CPU (cores) | workers CPU (cores) | engine RSS peak (MB) | workers RSS peak (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {res['sustained_events_per_s']:,.0f} | {res['measured_seconds']} | {res['windows_emitted']} | {r['engine']['cpu_cores_avg']} | "
        f"{r['workers']['cpu_cores_avg']} | {r['engine']['peak_rss_mb']:.0f} | {r['workers']['peak_rss_mb']:.0f} |",
        "",
    ]
    prof = res.get("profile")
    if prof:
        lines += ["Where the engine process's time goes (py-spy, share of samples of the engine process, all threads):", "",
                  "| thread | % |", "|---|---:|"]
        lines += [f"| {t} | {p} |" for t, p in prof["threads"][:8]]
        lines += ["", "| function (inclusive, plumbing frames left out) | % |", "|---|---:|"]
        lines += [f"| `{f}` | {p} |" for f, p in prof["inclusive"][:30]]
        lines += [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=600_000)
    ap.add_argument("--nominal-rate", type=float, default=20_000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--bootstrap", default=os.environ.get("DRIFTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-kafka-sink", action="store_true")
    ap.add_argument("--sink-client", choices=("kafka-python", "confluent"), default="kafka-python")
    ap.add_argument("--source-client", choices=("kafka-python", "confluent"), default="kafka-python")
    ap.add_argument("--engine", default="{}", help='engine settings of the spec as JSON, e.g. \'{"gc_threshold": null}\'')
    ap.add_argument("--out", default=str(replay.RESULTS_DIR / "throughput.json"))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    machine = replay.machine()
    res = run(args.records, args.nominal_rate, args.duration, args.producers, args.bootstrap, args.profile, kafka_sink=not args.no_kafka_sink,
              sink_client=args.sink_client, engine=json.loads(args.engine), source_client=args.source_client)
    command = "python " + " ".join(["bench/throughput.py"] + (argv if argv is not None else sys.argv[1:]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "command": command, **res}, indent=2, default=str))
    text = markdown(res, machine, command)
    print(text)
    if args.write:
        replay.write_section(text, "## Throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
