"""Smoke test of the replay benchmark (bench/replay.py) in a reduced configuration.

20,000 requests at 4,000/s through the real local broker, 2 s windows and a 1 s watermark:
asserts correctness only -- every produced request is counted in exactly the window it
belongs to, and stats, outlier and drift results all arrive. Never timings: those are the
benchmark's job (bench/RESULTS.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka

BENCH = Path(__file__).resolve().parents[2] / "bench" / "replay.py"


def _replay():
    spec = importlib.util.spec_from_file_location("driftstream_bench_replay", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the forked producers find their payloads through the module
    spec.loader.exec_module(module)
    return module


def test_reduced_replay_accounts_for_every_request(kafka_bootstrap):
    replay = _replay()
    # the idle timeout outlasts the load generator's start-up stalls (forked producers send a few
    # records, then nothing for up to ~4 s on this machine): a shorter one rightly flushes windows early
    result = replay.run_level(20_000, 4_000, producers=2, partitions=3, size="2s", watermark="1s", idle_timeout="8s",
                              bootstrap=kafka_bootstrap, timeout=240)
    assert result["produced"] == result["consumed"] == 20_000
    accounting = result["accounting"]
    assert accounting["ok"], accounting
    assert accounting["windows_emitted_distinct"] == accounting["windows_expected"] >= 3
    assert result["requests_without_result"] == {"stats": 0, "drift": 0}
    latency = result["latency_s"]
    assert latency["stats"]["n"] == latency["drift"]["n"] == 20_000
    assert latency["outliers"]["n"] >= result["outliers"]["injected"] > 0  # every injected outlier is flagged (and some tails)
    assert {"kl", "js", "wasserstein_hist"} <= set(result["drift_detectors"])
