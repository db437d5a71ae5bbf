"""streamz nodes between the sources and the engine: decoding and event-time windowing.

``source.decode_batches(decoder).event_time_windows(windower)`` turns :class:`RawBatch` objects
into :class:`WindowedBatch` objects: the typed frame, its dead letters, the late records, and
the windows each record belongs to and those that closed.

Examples
--------
>>> from streamz import Stream
>>> from driftstream.streams.decode import Decoder
>>> from driftstream.streams.windowing import Windower
>>> from driftstream.streams.sources import RawBatch
>>> import numpy as np
>>> source = Stream()
>>> out = source.decode_batches(Decoder("m", {"x": "numeric"})).event_time_windows(
...     Windower(size_ms=1000, watermark_ms=0), clock=lambda: 0).sink_to_list()
>>> values = [b'{"request_id": "a", "model": "m", "ts": 10, "features": {"x": 1}}',
...           b'{"request_id": "b", "model": "m", "ts": 1500, "features": {"x": 2}}', b'{']
>>> source.emit(RawBatch(values, np.zeros(3, np.int32), np.arange(3), 0))
>>> step = out[0]
>>> len(step.frame), len(step.bad), sorted(step.step.windows), [w.start for w in step.step.closed]
(2, 1, [0, 1000], [0])
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from streamz import Stream

from .decode import DecodedBatch, Decoder
from .sources import RawBatch
from .windowing import Windower, WindowStep


@dataclass
class WindowedBatch:
    """A decoded micro-batch with its window assignment (``frame`` holds only on-time records)."""

    frame: pd.DataFrame
    bad: list[dict[str, Any]]
    late: pd.DataFrame
    step: WindowStep
    raw: RawBatch
    watermark: int


@Stream.register_api()
class decode_batches(Stream):
    """RawBatch -> (RawBatch, DecodedBatch), decoded at once; bad records never raise."""

    def __init__(self, upstream: Stream, decoder: Decoder, **kwargs):
        self.decoder = decoder
        super().__init__(upstream, **kwargs)

    def update(self, x: RawBatch, who: Any = None, metadata: Any = None):
        decoded = self.decoder.decode(x.values, x.partitions, x.offsets) if len(x) else DecodedBatch(self.decoder.empty_frame())
        return self._emit((x, decoded), metadata=metadata)


@Stream.register_api()
class event_time_windows(Stream):
    """(RawBatch, DecodedBatch) -> WindowedBatch through a :class:`Windower` state machine."""

    def __init__(self, upstream: Stream, windower: Windower, clock: Callable[[], int] | None = None,
                 stall_ms: int = 3_000, **kwargs):
        self.windower = windower
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.stall_ms = stall_ms  # no batch for this long: the source was stalled, not the stream idle
        self._last_batch_at: int | None = None
        super().__init__(upstream, **kwargs)

    def update(self, x: tuple[RawBatch, DecodedBatch], who: Any = None, metadata: Any = None):
        raw, decoded = x
        now = self.clock()
        if raw.revoked:
            self.windower.revoke_partitions(raw.revoked)
        if raw.assigned:
            self.windower.assign_partitions(raw.assigned, now)
            for metadata in raw.assigned.values():
                restored = _restored_watermark(metadata)
                if restored is not None:
                    self.windower.restore(restored)
        # silence nobody could observe is not idleness: the broker unreachable now, unreachable
        # until ``reachable_since``, or no batch at all for a while (the source delivers one, maybe
        # empty, every poll; a long gap means it was blocked, e.g. in kafka-python during an outage)
        stalled = self._last_batch_at is not None and now - self._last_batch_at > self.stall_ms
        if raw.unreachable or stalled:
            self.windower.contact_resumed(now)
        elif raw.reachable_since:
            self.windower.contact_resumed(raw.reachable_since)
        self._last_batch_at = now
        frame = decoded.frame
        if len(frame):
            step = self.windower.on_batch(frame["ts"].to_numpy(), frame["partition"].to_numpy(), now, raw.backlogged)
        else:
            step = self.windower.on_tick(now, raw.backlogged)
        late = frame[step.late] if step.late.any() else frame.iloc[:0]
        if step.late.any():
            keep = np.flatnonzero(~step.late)
            remap = np.full(len(frame), -1)
            remap[keep] = np.arange(len(keep))
            step.windows = {s: remap[p] for s, p in step.windows.items()}
            frame = frame.iloc[keep].reset_index(drop=True)
        batch = WindowedBatch(frame, decoded.bad, late, step, raw, self.windower.watermark)
        return self._emit(batch, metadata=metadata)


def _restored_watermark(metadata: str | None) -> int | None:
    """The watermark the engine stored with its last commit (``{"wm": ms}``), if any."""
    if not metadata:
        return None
    try:
        return int(json.loads(metadata)["wm"])
    except (ValueError, KeyError, TypeError):
        return None
