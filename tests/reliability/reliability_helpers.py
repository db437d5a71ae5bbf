"""Shared helpers of the reliability tests: the Kafka workload helpers of tests/engine, specs,
engine subprocesses, memory readings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from kafka_helpers import (  # noqa: E402,F401 - re-exported
    COLUMNS,
    baseline,
    expected_counts,
    latest_by_key,
    produce,
    read_topic,
    records,
    wait_for,
    window_counts,
)

SCHEMA = {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"}
FEATURES = ("x", "y", "c", "prediction", "*")


def kafka_spec(topic: str, bootstrap: str, out: Path | None, cluster: dict | None = None, size: str = "2s", **extra: Any) -> dict:
    doc = {
        "model": "t",
        "source": {"kind": "kafka", "topic": topic, "bootstrap_servers": bootstrap, "group_id": f"g-{topic}"},
        "schema": SCHEMA,
        "window": {"size": size, "watermark": "1s", "idle_timeout": "3s"},
        "outliers": {"detectors": [{"name": "range"}, {"name": "zscore"}]},
        "drift": {"detectors": [{"name": "ks"}, {"name": "js"}]},
        "sinks": {"kafka": {"topic_prefix": f"{topic}."}, "parquet": str(out) if out else None},
        "cluster": cluster or {"local": {"processes": False, "n_workers": 1, "threads_per_worker": 2}},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return doc


def engine(spec_path: Path, log: Path, env: dict | None = None) -> subprocess.Popen:
    """``python -m driftstream.engine.cli run spec.yaml`` in its own session (killable as a group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "driftstream.engine.cli", "-v", "run", str(spec_path)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of ``pid`` (and its children) in MB."""
    import psutil

    proc = psutil.Process(pid)
    procs = [proc] + (proc.children(recursive=True) if children else [])
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def wait_for_monitor_windows(monitor, expected: dict[int, int], timeout: float, what: str) -> None:
    """Wait until the Monitor's stats give every window its ``expected`` count; on timeout the
    error lists the differing windows (got, expected) and the engine's counters."""
    def counts() -> dict[int, int]:
        return window_counts({r["key"]: r for r in monitor.hub.history("stats")})

    try:
        wait_for(lambda: counts() == expected, timeout, what=what)
    except AssertionError:
        got = counts()
        diff = {s: (got.get(s), n) for s, n in expected.items() if got.get(s) != n}
        raise AssertionError(f"windows (got, expected) differing: {diff}; unexpected {sorted(set(got) - set(expected))}; "
                             f"counters {dict(monitor.counters)}") from None
