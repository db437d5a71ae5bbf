"""The streamz windowing node: how the source's signals reach the windower."""

from __future__ import annotations

import json

import numpy as np
from streamz import Stream

from driftstream.streams import nodes  # noqa: F401 - registers decode_batches / event_time_windows
from driftstream.streams.decode import Decoder
from driftstream.streams.sources import RawBatch
from driftstream.streams.windowing import Windower


def _raw(ts: list[int], partitions: list[int]) -> RawBatch:
    values = [json.dumps({"request_id": f"r{i}", "model": "m", "ts": t, "features": {"x": 1.0}, "prediction": 0.5}).encode()
              for i, t in enumerate(ts)]
    return RawBatch(values, np.asarray(partitions, np.int32), np.arange(len(ts), dtype=np.int64), 0)


def _pipeline(clock):
    source = Stream()
    out = []
    windower = Windower(size_ms=10, watermark_ms=2, idle_timeout_ms=1_000)
    source.decode_batches(Decoder("m", {"x": "numeric", "prediction": "numeric"})).event_time_windows(
        windower, clock=lambda: clock[0]).sink(lambda wb: out.extend(b.start for b in wb.step.closed))
    return source, out


def test_a_stalled_source_does_not_make_partitions_idle():
    """No batch at all for 10 s (the poll thread was blocked): the first batch after does not flush."""
    clock = [0]
    source, closed = _pipeline(clock)
    source.emit(_raw([3, 12], [0, 1]))
    clock[0] = 10_000
    source.emit(RawBatch.empty(10_000))
    assert closed == []
    clock[0] = 11_500  # polled steadily since, still silent: now idle
    for t in range(10_100, 11_600, 100):
        clock[0] = t
        source.emit(RawBatch.empty(t))
    assert closed == [0, 10]


def test_an_unreachable_broker_keeps_every_partition_busy():
    clock = [0]
    source, closed = _pipeline(clock)
    source.emit(_raw([3, 12], [0, 1]))
    for t in range(100, 5_000, 100):  # polls keep coming, the broker does not answer
        clock[0] = t
        batch = RawBatch.empty(t)
        batch.unreachable = True
        source.emit(batch)
    assert closed == []
