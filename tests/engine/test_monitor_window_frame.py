"""Each window's rows stay available on the Dask cluster, as pandas or as a Dask dataframe."""

from __future__ import annotations

import time

import dask
import pytest

from driftstream.engine.monitor import Monitor

from kafka_helpers import baseline, expected_counts, records


@pytest.mark.parametrize("keep", [4, 1])
def test_window_rows_are_available_and_match_the_stats(tmp_path, dask_address, keep):
    values, valid = records(4_000, start_ms=1_700_000_000_000, span_ms=8_000, jitter_ms=0)
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(values) + b"\n")
    spec = {
        "model": "t",
        "source": {"kind": "replay", "path": str(tmp_path / "log.jsonl"), "batch_size": 700},
        "schema": {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"},
        "window": {"size": "2s", "watermark": "0s", "idle_timeout": "1s"},
        "sinks": {"kafka": None},
        "cluster": {"address": dask_address},
        "engine": {"keep_closed_windows": keep},
    }
    expected = expected_counts(valid, 2_000)
    with Monitor(spec, baseline=baseline()) as monitor:
        deadline = time.monotonic() + 60
        while monitor.counters.get("windows_emitted", 0) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.3)
        # engine.dask_message_log (0): Dask's debugging log of sent messages keeps no micro-batch frame alive
        assert monitor.client.scheduler_comm.recent_message_log.maxlen == 0
        starts = monitor.window_starts()
        assert len(starts) == keep  # the last `keep` closed windows are kept (all four are closed)
        for start in starts:
            rows = monitor.window_frame(start)
            assert len(rows) == expected[start]
            assert ((rows.ts >= start) & (rows.ts < start + 2_000)).all()
        ddf = monitor.window_dask_frame(starts[-1])
        assert ddf.npartitions >= 2 and list(ddf.columns) == list(rows.columns)
    assert dask.config.get("distributed.admin.low-level-log-length") == 1000  # the process's setting is back
