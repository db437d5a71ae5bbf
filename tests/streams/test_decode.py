"""Batch decoding: good records become a typed frame, every bad one a dead letter with its reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftstream.streams.decode import Decoder

COLUMNS = {"x": "numeric", "y": "numeric", "color": "categorical", "prediction": "numeric"}


def good(i: int, **extra) -> dict:
    record = {"request_id": f"r{i}", "model": "m", "ts": 1_000 + i, "features": {"x": float(i), "y": 1.0, "color": "red"}, "prediction": 0.5}
    record.update(extra)
    return record


def encode(records) -> list[bytes]:
    return [r if isinstance(r, bytes) else json.dumps(r).encode() for r in records]


@pytest.fixture
def decoder() -> Decoder:
    return Decoder("m", COLUMNS)


def test_good_records_become_a_typed_frame(decoder):
    batch = decoder.decode(encode([good(i) for i in range(5)]), np.array([0, 1, 2, 0, 1]), np.arange(5) + 100)
    assert batch.bad == []
    assert list(batch.frame.columns) == ["request_id", "ts", "partition", "offset", "x", "y", "color", "prediction"]
    assert batch.frame["x"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert batch.frame["ts"].dtype == np.int64 and batch.frame["offset"].tolist() == [100, 101, 102, 103, 104]


def test_rfc3339_and_epoch_ms_timestamps_agree(decoder):
    batch = decoder.decode(encode([good(0, ts="2024-01-01T00:00:01.500Z"), good(1, ts=1704067201500)]))
    assert batch.frame["ts"].tolist() == [1704067201500, 1704067201500]


def test_missing_feature_values_are_kept_as_missing(decoder):
    record = good(0)
    record["features"] = {"x": None, "color": None}
    batch = decoder.decode(encode([record]))
    assert batch.bad == [] and np.isnan(batch.frame["x"][0]) and np.isnan(batch.frame["y"][0])
    assert batch.frame["color"][0] is None


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe{}", "invalid UTF-8"),
        (b'{"request_id": "a", "model": ', "invalid JSON"),
        (b'{"request_id": "a", "model": "m", "ts": 1, "features": {"x": NaN}, "prediction": 1}', "not finite"),
        (b'{"request_id": "a", "model": "m", "ts": 1, "features": {"x": 1e400}, "prediction": 1}', "invalid JSON"),
        (json.dumps(good(0, features={"x": "high"})).encode(), "wrong type"),
        (json.dumps({k: v for k, v in good(0).items() if k != "ts"}).encode(), "ts"),
        (json.dumps({k: v for k, v in good(0).items() if k != "request_id"}).encode(), "request_id"),
        (json.dumps({k: v for k, v in good(0).items() if k != "features"}).encode(), "features"),
        (json.dumps({k: v for k, v in good(0).items() if k != "prediction"}).encode(), "prediction"),
        (json.dumps(good(0, model="other")).encode(), "unknown model"),
        (json.dumps(good(0, ts="yesterday")).encode(), "ts"),
        (b'{"request_id": "a", "model": "m", "ts": 1, "features": {"y": -Infinity}, "prediction": 1}', "not finite"),
        (b"", "empty message"),
    ],
)
def test_bad_records_go_to_the_dead_letter_with_a_reason(decoder, raw, reason):
    values = encode([good(1), raw, good(2)])
    batch = decoder.decode(values, np.array([0, 1, 2]), np.array([10, 11, 12]))
    assert batch.frame["request_id"].tolist() == ["r1", "r2"]
    assert len(batch.bad) == 1
    bad = batch.bad[0]
    assert reason in bad["reason"], bad
    assert (bad["partition"], bad["offset"]) == (1, 11)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.integers(0, 1000).map(lambda i: json.dumps(good(i)).encode())), max_size=60))
def test_every_value_is_either_decoded_or_dead_lettered(values):
    values = list(values)
    batch = Decoder("m", COLUMNS).decode(values, None, np.arange(len(values)))
    assert len(batch.frame) + len(batch.bad) == len(values)
    assert sorted(batch.frame["offset"].tolist() + [b["offset"] for b in batch.bad]) == list(range(len(values)))
