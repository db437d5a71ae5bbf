"""Overload and soak: memory of the engine (and its Dask workers) stays bounded.

* Overload: a backlog far beyond what the engine processes per second (200,000 records produced
  as fast as the producer can, while the engine runs) -- the engine takes at most
  ``max_poll_records`` per poll and at most 8 micro-batches in flight, so the lag grows, memory
  does not, and the lag drains.
* Soak (``slow``, about 4 minutes): 1,000,000 records at a steady 5,000/s.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import yaml

from reliability_helpers import baseline, engine, kafka_spec, now_ms, produce, records, rss_mb, stop, wait_for, read_topic

pytestmark = pytest.mark.kafka


def _run(kafka_bootstrap, kafka_topic, tmp_path, n: int, rate: float | None, bound_mb: float, flat_mb: float | None = None) -> dict:
    baseline().save(tmp_path / "baseline")
    doc = kafka_spec(kafka_topic, kafka_bootstrap, None, cluster={"local": {"n_workers": 1, "threads_per_worker": 2, "processes": True, "memory_limit": "2GiB"}})
    doc["baseline"] = str(tmp_path / "baseline")
    doc["sinks"] = {"kafka": {"topic_prefix": f"{kafka_topic}."}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(doc))
    span = int(n / (rate or 20_000) * 1000)
    values, valid = records(n, start_ms=now_ms() + 2_000, span_ms=span, jitter_ms=300, seed=51)
    proc = engine(tmp_path / "spec.yaml", tmp_path / "engine.log")
    samples: list[float] = []
    try:
        time.sleep(8)
        rss0 = rss_mb(proc.pid)
        producer = threading.Thread(target=produce, args=(kafka_bootstrap, kafka_topic, values, rate))
        t0 = time.monotonic()
        producer.start()

        def drained() -> bool:
            samples.append(rss_mb(proc.pid))
            health = read_topic(kafka_bootstrap, f"{kafka_topic}.health", 2)
            return bool(health) and max(v["records_in"] for _, v in health) >= n

        wait_for(drained, 900, interval=3, what=f"{n} records consumed")
        elapsed = time.monotonic() - t0
        producer.join(5)
    finally:
        stop(proc)
    peak = max(samples)
    half = len(samples) // 2
    figures = {"records": n, "seconds": round(elapsed, 1), "rate": round(n / elapsed), "rss_start_mb": round(rss0), "rss_peak_mb": round(peak),
               "growth_mb": round(peak - rss0), "rss_at_half_mb": round(samples[half]), "rss_end_mb": round(samples[-1]),
               "growth_second_half_mb": round(max(samples[half:]) - samples[half])}
    print(figures)
    assert peak - rss0 < bound_mb, figures
    if flat_mb is not None:  # warm-up growth is allowed; the second half of the run must stay flat
        assert figures["growth_second_half_mb"] < flat_mb, figures
    return figures


def test_overload_backlog_memory_bounded(kafka_bootstrap, kafka_topic, tmp_path):
    """Did: started the engine (subprocess, 1 Dask worker process) and produced 200,000 records
    as fast as one producer can (several times what the engine windows per second), sampling the
    resident memory of the engine and its workers every 3 s. Checked: every record is consumed
    (health records_in), and memory growth stays under 600 MB however large the backlog."""
    _run(kafka_bootstrap, kafka_topic, tmp_path, int(os.environ.get("DRIFTSTREAM_OVERLOAD_N", "200000")), None, 600)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_soak_one_million(kafka_bootstrap, kafka_topic, tmp_path):
    """Did: 1,000,000 records at a steady 5,000/s through the engine (subprocess, one Dask worker
    process), resident memory sampled every 3 s. Checked: all consumed; memory growth of the engine
    and its worker under 600 MB overall and under 100 MB over the second half of the run (flat
    after warm-up, not growing with the records)."""
    _run(kafka_bootstrap, kafka_topic, tmp_path, 1_000_000, 5_000.0, 600, flat_mb=100)
