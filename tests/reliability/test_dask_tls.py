"""Dask TLS settings pass through the spec: a monitor runs on a TLS-only scheduler.

Did: started a real LocalCluster whose scheduler and worker speak only ``tls://`` (temporary
certificates from ``distributed.security.Security.temporary()`` written to PEM files), then ran
a Monitor with ``cluster: {address: tls://..., tls: {...}}``. Checked: every window is emitted
with its count, and the same spec without ``tls`` is refused with a clear error.
"""

from __future__ import annotations

import time

import pytest
from distributed import LocalCluster
from distributed.security import Security

from driftstream.engine.monitor import Monitor
from driftstream.engine.spec import SpecError, load_spec

from reliability_helpers import baseline, expected_counts, records


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    temporary = Security.temporary()
    (folder / "ca.pem").write_text(temporary.tls_ca_file)
    (folder / "client.pem").write_text(temporary.tls_client_cert)
    (folder / "client.key").write_text(temporary.tls_client_key)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, protocol="tls", host="127.0.0.1",
                      security=temporary, dashboard_address="127.0.0.1:0") as cluster:
        yield cluster.scheduler_address, folder


def _spec(tmp_path, address, tls):
    values, valid = records(2_000, start_ms=1_700_000_000_000, span_ms=4_000, jitter_ms=0, seed=9)
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(values) + b"\n")
    spec = {
        "model": "t",
        "source": {"kind": "replay", "path": str(tmp_path / "log.jsonl")},
        "schema": {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"},
        "window": {"size": "1s", "watermark": "0s", "idle_timeout": "1s"},
        "sinks": {"kafka": None},
        "cluster": {"address": address, **({"tls": tls} if tls else {})},
    }
    return spec, expected_counts(valid, 1_000)


def test_monitor_runs_on_a_tls_only_scheduler(tmp_path, tls_cluster):
    address, folder = tls_cluster
    assert address.startswith("tls://")
    tls = {"ca_file": str(folder / "ca.pem"), "client_cert": str(folder / "client.pem"), "client_key": str(folder / "client.key")}
    spec, expected = _spec(tmp_path, address, tls)
    with Monitor(spec, baseline=baseline()) as monitor:
        deadline = time.monotonic() + 60
        while monitor.counters.get("windows_emitted", 0) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.3)
    stats = monitor.results("stats")
    x = stats[stats.feature == "x"]
    assert dict(zip(x.window_start, x["count"])) == expected


def test_tls_scheduler_without_tls_settings_is_refused(tmp_path, tls_cluster):
    address, _ = tls_cluster
    spec, _ = _spec(tmp_path, address, None)
    with pytest.raises(RuntimeError, match="failed to start"):
        Monitor(spec, baseline=baseline()).start(timeout=60)


def test_tls_needs_an_address():
    with pytest.raises(SpecError, match="cluster.tls applies to an existing scheduler"):
        load_spec({"model": "m", "schema": {"features": {"x": "numeric"}}, "cluster": {"tls": {"ca_file": "a", "client_cert": "b"}}})
