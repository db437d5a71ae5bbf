"""The event-time windower as a pure state machine, driven with a hand-made clock."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftstream.streams.windowing import Windower


def batch(w: Windower, ts, partitions=None, now=0):
    ts = np.asarray(ts, dtype=np.int64)
    partitions = np.zeros(len(ts), np.int32) if partitions is None else np.asarray(partitions)
    return w.on_batch(ts, partitions, now)


def starts(step):
    return [c.start for c in step.closed]


def test_window_emits_when_watermark_passes_end():
    w = Windower(size_ms=10_000, watermark_ms=2_000)
    assert starts(batch(w, [1_000, 9_000])) == []
    assert starts(batch(w, [11_999])) == []  # watermark 9_999 < end 10_000
    step = batch(w, [12_000])
    assert starts(step) == [0] and w.watermark == 10_000


def test_out_of_order_records_within_the_watermark_land_in_their_window():
    w = Windower(size_ms=10, watermark_ms=5)
    first = batch(w, [12, 3, 14])  # watermark 9: window 0 still open
    assert {s: p.tolist() for s, p in first.windows.items()} == {0: [1], 10: [0, 2]}
    second = batch(w, [7, 16])
    assert second.windows[0].tolist() == [0] and not second.late.any()
    assert starts(second) == [0]


def test_late_records_are_counted_and_marked():
    w = Windower(size_ms=10, watermark_ms=0)
    batch(w, [25])  # closes nothing yet: no window opened before 20
    step = batch(w, [5, 26, 15])
    assert step.late.tolist() == [True, False, True]
    assert w.late_count == 2
    assert list(step.windows) == [20]


def test_allowed_lateness_reemits_the_window_then_expires_it():
    w = Windower(size_ms=10, watermark_ms=0, allowed_lateness_ms=10)
    batch(w, [5])
    first = batch(w, [12])  # watermark 12: window 0 closes, kept until watermark 20
    assert starts(first) == [0] and first.closed[0].final and first.expired == []
    again = batch(w, [8])  # late but allowed: re-emitted, not final
    assert not again.late.any()
    assert [(c.start, c.final) for c in again.closed] == [(0, False)]
    gone = batch(w, [21])
    assert 0 in gone.expired
    assert batch(w, [9]).late.tolist() == [True]


def test_sliding_windows_overlap():
    w = Windower(size_ms=10, slide_ms=5, watermark_ms=0)
    step = batch(w, [7])
    assert sorted(step.windows) == [0, 5]
    step = batch(w, [16])  # watermark 16 closes [0,10) and [5,15)
    assert starts(step) == [0, 5]
    assert sorted(step.windows) == [10, 15]


def test_watermark_is_the_minimum_over_partitions():
    w = Windower(size_ms=10, watermark_ms=0, idle_timeout_ms=1_000)
    w.assign_partitions([0, 1], now_ms=0)
    step = batch(w, [25], [0], now=10)
    assert starts(step) == [] and w.watermark < 0  # partition 1 has sent nothing yet
    step = batch(w, [3, 12], [1, 1], now=20)
    assert starts(step) == [0] and w.watermark == 12


def test_idle_partition_is_left_out_of_the_minimum():
    w = Windower(size_ms=10, watermark_ms=0, idle_timeout_ms=1_000)
    w.assign_partitions([0, 1], now_ms=0)
    batch(w, [3], [1], now=0)
    batch(w, [5], [0], now=500)
    step = batch(w, [25], [0], now=1_500)  # partition 1 idle since 0
    assert starts(step) == [0] and w.watermark == 25


def test_idle_timeout_flushes_the_last_windows_when_data_stops():
    w = Windower(size_ms=10, watermark_ms=5, idle_timeout_ms=1_000)
    batch(w, [1, 12], now=0)
    assert starts(w.on_tick(now_ms=999)) == []
    step = w.on_tick(now_ms=1_000)
    assert starts(step) == [0, 10]
    assert batch(w, [15], now=1_100).late.tolist() == [True]


def test_restore_treats_windows_before_the_watermark_as_emitted():
    w = Windower(size_ms=10, watermark_ms=0)
    w.restore(20)
    step = batch(w, [5, 15, 25])
    assert step.late.tolist() == [True, True, False]


def test_invalid_slide_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="slide_ms dividing it"):
        Windower(size_ms=10, slide_ms=3)


@settings(max_examples=60, deadline=None)
@given(
    ts=st.lists(st.integers(0, 10_000), min_size=1, max_size=200),
    size=st.sampled_from([10, 100, 1000]),
    hops=st.sampled_from([1, 2, 5]),
    chunk=st.integers(1, 50),
)
def test_every_record_is_either_late_or_in_each_window_holding_it(ts, size, hops, chunk):
    slide = size // hops
    w = Windower(size_ms=size, slide_ms=slide, watermark_ms=size // 2)
    counts: dict[int, int] = {}
    on_time = []  # (event time, watermark when it arrived)
    emitted: list[int] = []
    for i in range(0, len(ts), chunk):
        part = np.array(ts[i : i + chunk], dtype=np.int64)
        watermark_before = w.watermark
        step = batch(w, part)
        for start, positions in step.windows.items():
            assert ((part[positions] >= start) & (part[positions] < start + size)).all()
            counts[start] = counts.get(start, 0) + len(positions)
        on_time.extend((t, watermark_before) for t in part[~step.late].tolist())
        emitted += starts(step)
    emitted += starts(w.flush())
    assert len(emitted) == len(set(emitted))  # each window emitted once (no allowed lateness)
    expected: dict[int, int] = {}
    for t, watermark in on_time:  # a record joins each of its windows still open when it arrives
        first = (t // slide) * slide
        for k in range(hops):
            s = first - k * slide
            if s + size > watermark:
                expected[s] = expected.get(s, 0) + 1
    assert counts == expected
    assert sorted(emitted) == sorted(expected)


def test_a_partition_with_unread_records_is_never_idle():
    w = Windower(size_ms=10, watermark_ms=0, idle_timeout_ms=1_000)
    w.assign_partitions([0, 1], now_ms=0)
    step = w.on_batch(np.array([25]), np.array([0]), 5_000, backlogged={1})
    assert starts(step) == [] and w.watermark < 0
    step = w.on_batch(np.array([3]), np.array([1]), 5_100, backlogged=set())
    assert not step.late.any() and list(step.windows) == [0] and w.watermark == 3


def test_revoking_every_partition_does_not_flush_open_windows():
    """An eager rebalance takes all partitions away and hands them back: the open windows wait."""
    w = Windower(size_ms=10, watermark_ms=2, idle_timeout_ms=1_000)
    batch(w, [3, 5, 12], [0, 1, 0], now=0)  # partition 1 at 5 holds the watermark at 3
    w.revoke_partitions([0, 1])
    assert starts(w.on_tick(100)) == [] and w.open == {0, 10}
    w.assign_partitions([0, 1], now_ms=150)
    assert w.partitions[0].max_ts == 12  # handed back with the event time it had reached
    step = batch(w, [13], [1], now=200)  # partition 1 catches up: watermark 11, window 0 closes
    assert starts(step) == [0] and not step.late.any()


def test_a_revoked_partition_that_never_comes_back_stops_holding_the_watermark():
    w = Windower(size_ms=10, watermark_ms=2, idle_timeout_ms=1_000)
    batch(w, [3, 25], [0, 1], now=0)  # partition 0 at 3 holds window 0 open
    w.revoke_partitions([0])
    assert starts(batch(w, [26], [1], now=500)) == []
    step = batch(w, [27], [1], now=1_200)  # partition 0 now idle: watermark from partition 1 alone
    assert starts(step) == [0] and w.revoked == {}


def test_nothing_goes_idle_while_the_broker_cannot_be_reached():
    """A broker outage longer than the idle timeout: silence is not idleness, no window flushes."""
    w = Windower(size_ms=10, watermark_ms=2, idle_timeout_ms=1_000)
    batch(w, [3, 12], [0, 1], now=0)
    w.revoke_partitions([1])  # the outage also made the group rebalance
    w.contact_resumed(5_000)  # what the node does on each batch while the broker is unreachable
    assert starts(w.on_tick(5_000)) == [] and w.open == {0, 10}
    assert set(w.partitions) | set(w.revoked) == {0, 1}
    assert starts(w.on_tick(6_000)) == [0, 10]  # reachable and still silent: now idle, flushed


def test_silence_before_contact_resumed_is_not_idleness():
    """The poll thread was blocked (or the broker away) for longer than the idle timeout: the
    first tick after contact resumes must not flush, the idle clock restarts at the contact."""
    w = Windower(size_ms=10, watermark_ms=2, idle_timeout_ms=1_000)
    batch(w, [3, 12], [0, 1], now=0)
    w.contact_resumed(5_000)
    assert starts(w.on_tick(5_100)) == [] and w.open == {0, 10}
    assert starts(w.on_tick(6_000)) == [0, 10]  # silent for the idle timeout after contact: flushed
