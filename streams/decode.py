"""Vectorised decoding of inference-log messages into a typed frame, bad records split off.

A whole poll's worth of JSON values is parsed at once with ``pyarrow.json`` against an
explicit schema built from the monitor's feature types. When a batch fails to parse, it is
bisected until the bad records are isolated, so one malformed message costs O(log n) extra
parses and never stops the stream. Each bad record becomes a dead-letter entry with the
reason, its partition and offset.

Examples
--------
>>> decoder = Decoder(model="iris", columns={"x": "numeric", "color": "categorical", "prediction": "numeric"})
>>> values = [
...     b'{"request_id": "a", "model": "iris", "ts": 1000, "features": {"x": 1.5, "color": "red"}, "prediction": 0.2}',
...     b'{"request_id": "b", "model": "iris", "ts": "1970-01-01T00:00:02Z", "features": {"x": null}, "prediction": 0.9}',
...     b'not json',
...     b'{"request_id": "c", "model": "other", "ts": 3000, "features": {"x": 2}, "prediction": 1}',
... ]
>>> batch = decoder.decode(values, partitions=[0, 0, 1, 1], offsets=[10, 11, 12, 13])
>>> batch.frame[["request_id", "ts", "x", "color", "prediction"]].to_dict("list")
{'request_id': ['a', 'b'], 'ts': [1000, 2000], 'x': [1.5, nan], 'color': ['red', None], 'prediction': [0.2, 0.9]}
>>> [(bad["offset"], bad["reason"].split(":")[0]) for bad in batch.bad]
[(12, 'invalid JSON'), (13, 'unknown model')]
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

RAW_PREVIEW = 512
_TOP_FIELDS = frozenset({"request_id", "model", "ts", "features", "prediction"})
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
MAX_FUTURE_MS = 86_400_000  # event times more than a day ahead of the wall clock are dead-lettered
META_COLUMNS = ["request_id", "ts", "partition", "offset"]


@dataclass
class DecodedBatch:
    """A micro-batch: the typed frame of good records and the dead-letter entries."""

    frame: pd.DataFrame
    bad: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


def _arrow_type(kind: str) -> pa.DataType:
    return pa.float64() if kind == "numeric" else pa.string()


class Decoder:
    """Turns raw message values into a typed frame following the spec's schema.

    Parameters
    ----------
    model
        The monitored model; records naming another model are dead-lettered.
    columns
        Column name -> "numeric" | "categorical"; ``prediction`` is read from the record's
        top level, every other name from its ``features`` object.
    max_future_ms
        Event times more than this ahead of the wall clock, or before 1970, are dead-lettered
        (``ts out of range``): one far-future record would otherwise push the watermark ahead
        and make every later record late. ``None`` accepts any representable time.
    """

    def __init__(self, model: str, columns: dict[str, str], max_future_ms: int | None = MAX_FUTURE_MS, clock=None):
        self.model = model
        self.columns = columns
        self.max_future_ms = max_future_ms
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        feature_fields = [pa.field(n, _arrow_type(k)) for n, k in columns.items() if n != "prediction"]
        top = [
            pa.field("request_id", pa.string()),
            pa.field("model", pa.string()),
            pa.field("features", pa.struct(feature_fields)),
        ]
        if "prediction" in columns:
            top.append(pa.field("prediction", _arrow_type(columns["prediction"])))
        self._schema = pa.schema(top)
        self._numeric = [n for n, k in columns.items() if k == "numeric"]
        self._categorical = [n for n, k in columns.items() if k == "categorical"]

    # -- public ---------------------------------------------------------------------------
    def decode(
        self,
        values: Sequence[bytes | None],
        partitions: Sequence[int] | np.ndarray | None = None,
        offsets: Sequence[int] | np.ndarray | None = None,
    ) -> DecodedBatch:
        """Decode a batch; never raises for bad input."""
        n = len(values)
        partitions = np.zeros(n, np.int32) if partitions is None else np.asarray(partitions, np.int32)
        offsets = np.arange(n, dtype=np.int64) if offsets is None else np.asarray(offsets, np.int64)
        bad: list[dict[str, Any]] = []
        tables: list[tuple[pa.Table, np.ndarray]] = []
        good_idx = []
        utf8_ok = _utf8(b"".join(v for v in values if isinstance(v, (bytes, bytearray))))
        for i, v in enumerate(values):
            if not v or not isinstance(v, (bytes, bytearray)):
                bad.append(self._bad("empty message", v, partitions[i], offsets[i]))
            elif (problem := _screen(v, utf8_ok)) is not None:
                # pyarrow would crash on a bare `null` line and accept invalid UTF-8 inside strings
                bad.append(self._bad(problem, v, partitions[i], offsets[i]))
            else:
                good_idx.append(i)
        self._parse(values, np.asarray(good_idx, dtype=np.int64), tables, bad, partitions, offsets)
        frame = self._to_frame(tables, partitions, offsets, bad, values)
        return DecodedBatch(frame, bad)

    def empty_frame(self) -> pd.DataFrame:
        cols: dict[str, Any] = {
            "request_id": pd.Series([], dtype=object),
            "ts": pd.Series([], dtype=np.int64),
            "partition": pd.Series([], dtype=np.int32),
            "offset": pd.Series([], dtype=np.int64),
        }
        for name in self.columns:
            cols[name] = pd.Series([], dtype=np.float64 if name in self._numeric else object)
        return pd.DataFrame(cols)

    # -- parsing ----------------------------------------------------------------------------
    def _parse(self, values, idx, tables, bad, partitions, offsets) -> None:
        """Parse ``values[idx]`` at once; bisect on failure to isolate bad records."""
        if len(idx) == 0:
            return
        payload = b"\n".join(_one_line(values[i]) for i in idx)
        try:
            table = self._read(payload, len(idx))
        except _ARROW_ERRORS as exc:
            if len(idx) == 1:
                i = idx[0]
                # fields outside the schema are inferred by Arrow and may fail to (e.g. a list
                # mixing numbers and objects): they are ignored, so parse the record without them
                known = self._known_fields_only(values[i])
                if known is not None:
                    try:
                        tables.append((self._read(known, 1), idx))
                        return
                    except _ARROW_ERRORS:
                        pass
                bad.append(self._bad(_reason(values[i], exc), values[i], partitions[i], offsets[i]))
                return
            half = len(idx) // 2
            self._parse(values, idx[:half], tables, bad, partitions, offsets)
            self._parse(values, idx[half:], tables, bad, partitions, offsets)
            return
        tables.append((table, idx))

    def _read(self, payload: bytes, rows: int) -> pa.Table:
        table = pj.read_json(
            pa.py_buffer(payload),
            read_options=pj.ReadOptions(block_size=max(len(payload) + 1, 1 << 16), use_threads=False),
            parse_options=pj.ParseOptions(
                explicit_schema=self._schema, unexpected_field_behavior="infer", newlines_in_values=False
            ),
        )
        if table.num_rows != rows:
            raise pa.ArrowInvalid(f"expected {rows} rows, parsed {table.num_rows}")
        return table

    def _known_fields_only(self, value: bytes) -> bytes | None:
        """The record without fields outside the schema, or None if that changes nothing."""
        try:
            record = json.loads(value)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        kept = {k: v for k, v in record.items() if k in _TOP_FIELDS}
        if isinstance(kept.get("features"), dict):
            kept["features"] = {k: v for k, v in kept["features"].items() if k in self.columns}
        if kept == record:
            return None
        return json.dumps(kept, allow_nan=True).encode()

    def _to_frame(self, tables, partitions, offsets, bad, values) -> pd.DataFrame:
        if not tables:
            return self.empty_frame()
        parts = []
        for table, idx in tables:
            frame = self._flatten(table)
            frame["partition"] = partitions[idx]
            frame["offset"] = offsets[idx]
            parts.append(frame)
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        return self._validate(frame, bad, values)

    def _flatten(self, table: pa.Table) -> pd.DataFrame:
        out: dict[str, Any] = {}
        out["request_id"] = table.column("request_id").to_pandas()
        out["model"] = table.column("model").to_pandas()
        out["ts"] = _timestamps_ms(table.column("ts")) if "ts" in table.column_names else np.full(table.num_rows, np.nan)
        features = table.column("features").combine_chunks() if table.num_rows else None
        out["_has_features"] = ~np.asarray(features.is_null()) if features is not None else np.zeros(0, bool)
        for name in self.columns:
            if name == "prediction":
                col = table.column("prediction")
                out["_has_prediction"] = ~np.asarray(col.is_null())
            else:
                col = features.field(name)
            out[name] = _column(col, name in self._numeric)
            if name in self._numeric and len(col):
                nulls = np.asarray(col.is_null())
                out[f"_nan_{name}"] = np.isnan(out[name]) & ~nulls
        return pd.DataFrame(out)

    def _validate(self, frame: pd.DataFrame, bad: list[dict[str, Any]], values) -> pd.DataFrame:
        problems = pd.Series(None, index=frame.index, dtype=object)

        def flag(mask: np.ndarray | pd.Series, reason: str) -> None:
            mask = np.asarray(mask) & problems.isna().to_numpy()
            if mask.any():
                problems[mask] = reason

        flag(frame["request_id"].isna(), "missing field: request_id")
        ts = frame["ts"].to_numpy(np.float64)
        flag(~np.isfinite(ts), "missing or unparseable field: ts (RFC 3339 or epoch ms)")
        latest = float(self._clock() + self.max_future_ms) if self.max_future_ms is not None else float(2**62)
        flag((ts < 0) | (ts > latest), "ts out of range: before 1970 or too far in the future (window.max_future)")
        flag(~frame["_has_features"].to_numpy(), "missing field: features (an object of feature values)")
        if "_has_prediction" in frame:
            flag(~frame["_has_prediction"].to_numpy(), "missing field: prediction")
        models = frame["model"]
        flag(models.notna().to_numpy() & (models != self.model).to_numpy(), "unknown model")
        for name in self._numeric:
            values_ = frame[name].to_numpy(np.float64)
            flag(np.isinf(values_), f"feature '{name}' is not finite (inf)")
            if f"_nan_{name}" in frame:
                flag(frame[f"_nan_{name}"].to_numpy(), f"feature '{name}' is not finite (NaN; send null for a missing value)")
        if problems.notna().any():
            rows = frame[problems.notna()]
            for (i, row), reason in zip(rows.iterrows(), problems[problems.notna()]):
                detail = reason
                if reason == "unknown model":
                    detail = f"unknown model: got '{row['model']}', expected '{self.model}'"
                bad.append(self._bad(detail, None, row["partition"], row["offset"]))
            frame = frame[problems.isna()]
        frame = frame.drop(columns=[c for c in frame.columns if c.startswith("_")] + ["model"])
        frame = frame.astype({"ts": np.int64})
        ordered = META_COLUMNS + list(self.columns)
        return frame[ordered].reset_index(drop=True)

    def _bad(self, reason: str, raw: Any, partition: Any, offset: Any) -> dict[str, Any]:
        if isinstance(raw, (bytes, bytearray)):
            text = bytes(raw[:RAW_PREVIEW]).decode("utf-8", "replace")
        else:
            text = "" if raw is None else str(raw)[:RAW_PREVIEW]
        return {"reason": reason, "partition": int(partition), "offset": int(offset), "raw": text}


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _screen(value: bytes, utf8_ok: bool) -> str | None:
    """Why ``value`` must not reach the Arrow parser (None if it may)."""
    if not utf8_ok:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"invalid UTF-8: {err.reason} at byte {err.start}"
    if value[:1] != b"{" and value.lstrip()[:1] != b"{":
        return "invalid JSON: a record must be a JSON object"
    return None


def _one_line(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ") if (b"\n" in value or b"\r" in value) else value


def _reason(value: bytes, exc: Exception) -> str:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"invalid UTF-8: {err.reason} at byte {err.start}"
    message = str(exc).split("\n")[0]
    if "changed from" in message or "Column(" in message or "convert" in message.lower():
        return f"wrong type: {message}"
    return f"invalid JSON: {message}"


def _column(col: pa.Array | pa.ChunkedArray, numeric: bool) -> np.ndarray:
    if numeric:
        return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False) if len(col) else np.zeros(0)
    out = np.empty(len(col), dtype=object)
    out[:] = col.to_pylist()
    return out


def _timestamps_ms(col: pa.ChunkedArray) -> np.ndarray:
    """Event times in epoch ms from epoch-ms numbers, RFC 3339 strings or inferred timestamps."""
    kind = col.type
    if pa.types.is_timestamp(kind):
        return col.cast(pa.timestamp("ms", tz=kind.tz)).cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return col.to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        parsed = pd.to_datetime(col.to_pandas(), utc=True, errors="coerce", format="ISO8601")
        ms = parsed.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(np.float64)
        ms[parsed.isna().to_numpy()] = np.nan
        return ms
    return np.full(len(col), np.nan)
