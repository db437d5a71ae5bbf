"""Event-time windows and watermarks as a pure state machine (no Kafka, no Dask, no clock).

The :class:`Windower` is fed batches of (event time, partition) and processing-time ticks,
and answers which windows each record belongs to, which records are late, and which windows
closed. Processing time is always passed in (``now_ms``), so tests drive it by hand.

Semantics
---------
* Windows are ``[start, start + size)`` with starts on multiples of ``slide`` (tumbling when
  ``slide == size``); a record belongs to ``size / slide`` windows.
* Watermark = min over active partitions of (max event time seen - ``watermark_delay``).
  A partition that has sent nothing for ``idle_timeout`` of processing time is idle and
  left out of the minimum. When every partition is idle, all open windows are flushed, so
  the last windows are emitted when data stops.
* A window closes (is emitted) when the watermark reaches its end. Its state is kept until
  the watermark passes ``end + allowed_lateness``; records arriving in between update it and
  it is emitted again (same deterministic key, so the result is replaced).
* A record none of whose windows is still kept is late: counted and sent to the late sink.

Examples
--------
>>> w = Windower(size_ms=10, watermark_ms=2)
>>> w.assign_partitions([0], now_ms=0)
>>> step = w.on_batch(np.array([1, 5, 11]), np.array([0, 0, 0]), now_ms=0)
>>> step.windows, step.closed
({0: array([0, 1]), 10: array([2])}, [])
>>> step = w.on_batch(np.array([3, 21]), np.array([0, 0]), now_ms=1)
>>> step.windows, [(c.start, c.end) for c in step.closed], w.watermark
({0: array([0]), 20: array([1])}, [(0, 10)], 19)
>>> step = w.on_batch(np.array([4]), np.array([0]), now_ms=2)
>>> step.late.tolist(), w.late_count
([True], 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEG_INF = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class WindowBounds:
    """One event-time window ``[start, end)`` (ms). ``final`` is False when it may be re-emitted."""

    start: int
    end: int
    final: bool = True


@dataclass
class WindowStep:
    """What one batch or tick did.

    Attributes
    ----------
    windows
        window start -> positions (into the batch) of the records it received.
    late
        Boolean mask over the batch: records that fell in no kept window.
    closed
        Windows to emit now, oldest first (a re-emission after late data has ``final=False``
        only while the window is still within its allowed lateness).
    expired
        Window starts whose state can be dropped (watermark past end + allowed lateness).
    """

    windows: dict[int, np.ndarray] = field(default_factory=dict)
    late: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    closed: list[WindowBounds] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)


@dataclass
class _Partition:
    max_ts: int = NEG_INF
    last_seen_ms: int = 0


class Windower:
    """Tumbling or sliding event-time windows with a per-partition watermark.

    Parameters
    ----------
    size_ms, slide_ms
        Window length and hop (``slide_ms=None`` means tumbling). ``slide`` divides ``size``.
    watermark_ms
        How far the watermark trails the largest event time seen on a partition.
    allowed_lateness_ms
        How long after its end (in watermark time) a closed window still accepts records.
    idle_timeout_ms
        Processing time without records after which a partition is idle.
    """

    def __init__(
        self,
        size_ms: int,
        slide_ms: int | None = None,
        watermark_ms: int = 0,
        allowed_lateness_ms: int = 0,
        idle_timeout_ms: int = 10_000,
    ):
        self.size_ms = int(size_ms)
        self.slide_ms = int(slide_ms or size_ms)
        if self.size_ms <= 0 or self.slide_ms <= 0 or self.size_ms % self.slide_ms:
            raise ValueError(
                f"Windower needs size_ms > 0 and a slide_ms dividing it; got size_ms={size_ms}, slide_ms={slide_ms}"
            )
        self.watermark_ms = int(watermark_ms)
        self.allowed_lateness_ms = int(allowed_lateness_ms)
        self.idle_timeout_ms = int(idle_timeout_ms)
        self.partitions: dict[int, _Partition] = {}
        self.revoked: dict[int, _Partition] = {}  # taken away by a rebalance, silent until handed back or idle
        self.watermark: int = NEG_INF
        self.open: set[int] = set()  # window starts not yet emitted
        self.kept: set[int] = set()  # emitted windows still accepting late records
        self.dirty: set[int] = set()  # kept windows that received records since emitted
        self.late_count = 0
        self.flushed_to: int = NEG_INF

    # -- partitions -----------------------------------------------------------------------
    def assign_partitions(self, partitions, now_ms: int) -> None:
        """Start tracking ``partitions`` (e.g. after a Kafka rebalance).

        A partition handed back keeps the event time it had reached.
        """
        for p in map(int, partitions):
            state = self.revoked.pop(p, None) or self.partitions.get(p) or _Partition()
            state.last_seen_ms = max(state.last_seen_ms, now_ms)
            self.partitions[p] = state

    def revoke_partitions(self, partitions) -> None:
        """Stop reading ``partitions``. They still hold the watermark back until idle: a rebalance
        that takes every partition away and hands them back must not flush the open windows."""
        for p in map(int, partitions):
            state = self.partitions.pop(p, None)
            if state is not None:
                self.revoked[p] = state

    def contact_resumed(self, at_ms: int) -> None:
        """The source has reached the broker without a gap since ``at_ms``: silence before that was
        an outage (or a blocked poll), not idleness, so no partition's idle clock starts earlier."""
        for state in (*self.partitions.values(), *self.revoked.values()):
            state.last_seen_ms = max(state.last_seen_ms, int(at_ms))

    def restore(self, watermark: int) -> None:
        """Resume after a restart: windows ending at or before ``watermark`` were emitted."""
        self.watermark = max(self.watermark, int(watermark))
        self.flushed_to = max(self.flushed_to, int(watermark))

    # -- events -----------------------------------------------------------------------------
    def window_starts(self, ts: np.ndarray) -> np.ndarray:
        """Start of the latest window holding each event time (the others are k*slide earlier)."""
        return (np.asarray(ts, dtype=np.int64) // self.slide_ms) * self.slide_ms

    def on_batch(self, ts: np.ndarray, partitions: np.ndarray, now_ms: int, backlogged=()) -> WindowStep:
        """Assign a batch's records to windows, update watermarks, report closed windows.

        ``backlogged`` names partitions known to have unread records (consumer lag): they are
        never idle, however long since they last delivered.
        """
        ts = np.asarray(ts, dtype=np.int64)
        partitions = np.asarray(partitions)
        step = WindowStep(late=np.ones(len(ts), dtype=bool))
        if len(ts):
            self._assign(ts, step)
            self._observe(ts, partitions, now_ms)
        self.late_count += int(step.late.sum())
        self._advance(now_ms, step, backlogged)
        return step

    def on_tick(self, now_ms: int, backlogged=()) -> WindowStep:
        """Processing time passed with no records: idle partitions may advance the watermark."""
        step = WindowStep()
        self._advance(now_ms, step, backlogged)
        return step

    def flush(self) -> WindowStep:
        """Close every open window (end of input)."""
        step = WindowStep()
        self._close_until(max((s + self.size_ms for s in self.open | self.kept), default=NEG_INF), step, force=True)
        return step

    # -- internals --------------------------------------------------------------------------
    def _assign(self, ts: np.ndarray, step: WindowStep) -> None:
        latest = self.window_starts(ts)
        per_record = self.size_ms // self.slide_ms
        horizon = self.watermark - self.allowed_lateness_ms  # windows ending at or before this are gone
        for k in range(per_record):
            starts = latest - k * self.slide_ms
            alive = (starts + self.size_ms > horizon) & (starts + self.size_ms > self.flushed_to)
            if not alive.any():
                continue
            step.late &= ~alive
            positions = np.flatnonzero(alive)
            order = np.argsort(starts[positions], kind="stable")
            positions = positions[order]
            sorted_starts = starts[positions]
            bounds = np.flatnonzero(np.diff(sorted_starts)) + 1
            for chunk in np.split(positions, bounds):
                start = int(starts[chunk[0]])
                prev = step.windows.get(start)
                step.windows[start] = chunk if prev is None else np.sort(np.concatenate([prev, chunk]))
                if start in self.kept:
                    self.dirty.add(start)
                else:
                    self.open.add(start)

    def _observe(self, ts: np.ndarray, partitions: np.ndarray, now_ms: int) -> None:
        for p in map(int, np.unique(partitions)):
            if p in self.revoked:
                self.partitions[p] = self.revoked.pop(p)
            state = self.partitions.setdefault(p, _Partition())
            state.max_ts = max(state.max_ts, int(ts[partitions == p].max()))
            state.last_seen_ms = now_ms

    def _advance(self, now_ms: int, step: WindowStep, backlogged=()) -> None:
        for p in backlogged:  # unread records: the idle clock starts once they are read
            state = self.partitions.get(p) or self.revoked.get(p)
            if state is not None:
                state.last_seen_ms = max(state.last_seen_ms, now_ms)
        self.revoked = {
            p: s for p, s in self.revoked.items() if now_ms - s.last_seen_ms < self.idle_timeout_ms or p in backlogged
        }
        active = [
            s for p, s in self.partitions.items() if now_ms - s.last_seen_ms < self.idle_timeout_ms or p in backlogged
        ] + list(self.revoked.values())
        if active:
            candidate = min(s.max_ts for s in active) - self.watermark_ms
            if candidate > self.watermark:
                self.watermark = candidate
            self._close_until(self.watermark, step)
        elif self.open or self.dirty:
            # every partition idle: flush what is open so the last windows are emitted
            self._close_until(max(s + self.size_ms for s in self.open | self.dirty), step, force=True)
        if not active and self.kept:
            # no records can arrive for kept windows while idle: release them
            step.expired.extend(sorted(self.kept))
            self.kept.clear()

    def _close_until(self, watermark: int, step: WindowStep, force: bool = False) -> None:
        for start in sorted(self.open):
            if start + self.size_ms <= watermark:
                self.open.discard(start)
                step.closed.append(WindowBounds(start, start + self.size_ms))
                if force:
                    self.flushed_to = max(self.flushed_to, start + self.size_ms)
                    step.expired.append(start)
                elif self.allowed_lateness_ms > 0:
                    self.kept.add(start)
                else:
                    step.expired.append(start)
        for start in sorted(self.dirty):
            self.dirty.discard(start)
            step.closed.append(WindowBounds(start, start + self.size_ms, final=False))
        for start in sorted(self.kept):
            if start + self.size_ms + self.allowed_lateness_ms <= self.watermark or force:
                self.kept.discard(start)
                step.expired.append(start)
        step.closed.sort(key=lambda b: b.start)
        step.expired = sorted(set(step.expired))
