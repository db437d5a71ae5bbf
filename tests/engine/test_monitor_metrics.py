"""A running monitor exposes Prometheus metrics that agree with its own counters."""

from __future__ import annotations

import json
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from driftstream.engine.monitor import Monitor

from kafka_helpers import baseline, records


def test_monitor_serves_metrics_matching_its_counters(tmp_path, dask_address):
    values, valid = records(3_000, start_ms=1_700_000_000_000, span_ms=6_000, jitter_ms=0, bad_every=50)
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(v for v in values if v.startswith(b"{\"request_id\": \"r")) + b"\n")
    spec = {
        "model": "t",
        "source": {"kind": "replay", "path": str(tmp_path / "log.jsonl")},
        "schema": {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"},
        "window": {"size": "2s", "watermark": "0s", "idle_timeout": "1s"},
        "sinks": {"kafka": None},
        "metrics": {"enabled": True, "port": 0},
        "cluster": {"address": dask_address},
    }
    with Monitor(spec, baseline=baseline()) as monitor:
        deadline = time.monotonic() + 60
        while monitor.counters.get("windows_emitted", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.5)  # one more health tick
        body = urllib.request.urlopen(monitor.metrics_url + "/metrics", timeout=5).read().decode()
    samples = {s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples if not s.labels.get("kind")}
    assert samples["driftstream_records_in_total"] == len(valid)
    assert samples["driftstream_windows_emitted_total"] == 3
