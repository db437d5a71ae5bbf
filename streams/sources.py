"""Sources of raw inference-log batches, as streamz ``Source`` nodes.

Both sources emit :class:`RawBatch` objects (message values with partition, offset and the
time they were polled). An empty batch is emitted when a poll returns nothing, so that
downstream nodes see processing time pass (idle timeouts) without a timer of their own.

* :class:`from_kafka_batches` — kafka-python consumer group, batched ``poll`` in a dedicated
  thread (the consumer is not thread-safe: every call goes through one thread), manual
  commits, a rebalance listener. streamz's own Kafka sources use confluent-kafka.
* :class:`from_replay` — a file of inference logs (JSONL, Parquet, CSV), as fast as possible
  or at a given rate, event times kept or re-stamped to now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from streamz import Source, Stream

logger = logging.getLogger(__name__)


class SocketReleasedWhileReading(logging.Filter):
    """Drops kafka-python's report of a read on a socket ``close()`` released a moment before.

    kafka-python 3.0.x's network thread can still be reading when the consumer is closed from
    another thread; it logs ``AttributeError: 'NoneType' object has no attribute 'recv'`` with a
    traceback, then drops the connection as it should. Harmless at close; every other record passes.

    >>> import logging
    >>> def record(exc):
    ...     return logging.LogRecord("kafka.net.transport", logging.ERROR, "", 0, "Error receiving", (), (type(exc), exc, None))
    >>> f = SocketReleasedWhileReading()
    >>> f.filter(record(AttributeError("'NoneType' object has no attribute 'recv'")))
    False
    >>> f.filter(record(ConnectionResetError("reset by peer")))
    True
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, AttributeError) and "'NoneType' object has no attribute" in str(exc))


logging.getLogger("kafka.net.transport").addFilter(SocketReleasedWhileReading())


class SourceError(RuntimeError):
    """A source that cannot start; the message says what to check."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000

BROKER_CALL_TIMEOUT_MS = 5_000  # commits, committed offsets, end offsets: never block the poll thread longer
CONTACT_GAP_S = 8.0  # no records and no group heartbeat (every 3 s) for this long = unreachable


@dataclass
class RawBatch:
    """Raw message values of one poll; ``assigned``/``revoked`` carry rebalance events."""

    values: list[bytes]
    partitions: np.ndarray
    offsets: np.ndarray
    polled_at: int
    assigned: dict[int, str | None] = field(default_factory=dict)  # partition -> committed metadata
    revoked: list[int] = field(default_factory=list)
    backlogged: set[int] = field(default_factory=set)  # partitions with unread records (lag > 0)
    unreachable: bool = False  # the broker has not answered lately: silence says nothing about idleness
    reachable_since: int = 0  # wall-clock ms since when the broker has answered without a gap

    @classmethod
    def empty(cls, polled_at: int | None = None) -> RawBatch:
        return cls([], np.zeros(0, np.int32), np.zeros(0, np.int64), polled_at or now_ms())

    def __len__(self) -> int:
        return len(self.values)


async def _emit_all(node: Stream, x: Any) -> None:
    """Emit ``x`` and wait for every awaitable downstream (backpressure)."""
    results = node._emit(x)
    if results:
        await asyncio.gather(*results)


# ----------------------------------------------------------------------------------------------
# Kafka
# ----------------------------------------------------------------------------------------------
@Stream.register_api(staticmethod)
class from_kafka_batches(Source):
    """Batches of raw messages from a Kafka topic, through a kafka-python consumer group.

    Parameters
    ----------
    topic
        The inference topic.
    consumer_params
        Keyword arguments for ``kafka.KafkaConsumer`` (``bootstrap_servers``, ``group_id``,
        security settings...). Auto-commit is always off: offsets are committed by the
        engine once every window holding them has been emitted (:meth:`commit`).
    poll_timeout_ms, max_records
        How long one ``poll`` waits and how many records it returns at most.

    Examples
    --------
    >>> src = Stream.from_kafka_batches("iris.inference", {"bootstrap_servers": "127.0.0.1:9092",
    ...                                 "group_id": "g"})  # doctest: +SKIP
    """

    def __init__(self, topic: str, consumer_params: dict[str, Any], poll_timeout_ms: int = 100, max_records: int = 5000,
                 stall_s: float = 60.0, **kwargs):
        self.topic = topic
        self.stall_s = stall_s
        self.restarts = 0  # consumers replaced because they fetched nothing while behind (see _stalled)
        self._last_records = time.monotonic()
        self._empty_polls = 0
        self._last_stall_check = 0.0
        self.consumer_params = consumer_params
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.consumer = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-consumer")
        self._newly_assigned: list[Any] = []
        self.errors = 0
        self._backoff = 0.5
        self._revoked: list[int] = []
        self._next_offset: dict[int, int] = {}  # partition -> one past the last offset emitted
        self.redelivered = 0  # records dropped because this source had already emitted them
        self.resumed = 0  # partitions handed back by a rebalance and continued where we stopped
        self._last_contact = time.monotonic()  # the broker last answered (records or a heartbeat)
        self._last_check = 0.0
        self.reachable_since = 0  # wall-clock ms since when the broker has answered without a gap
        self._rebalancing = False  # partitions revoked, new assignment not yet received
        super().__init__(**kwargs)

    # everything below touching self.consumer runs in self._thread
    def _connect(self) -> None:
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        source = self

        class Listener(ConsumerRebalanceListener):
            # runs on kafka-python's IO thread: record the change only, never block here
            def on_partitions_revoked(self, revoked):
                source._revoked.extend(tp.partition for tp in revoked)
                source._rebalancing = True

            def on_partitions_assigned(self, assigned):
                source._newly_assigned.extend(assigned)
                source._rebalancing = False

        params = {
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": 20,
            "max_poll_records": self.max_records,
            "metadata_max_age_ms": 5000,  # pick up a topic created after we subscribed
            **self.consumer_params,
        }
        params["enable_auto_commit"] = False
        params.setdefault("request_timeout_ms", 30_000)
        try:
            self.consumer = KafkaConsumer(**params)
        except Exception as exc:  # noqa: BLE001 - NoBrokersAvailable, KafkaTimeoutError, auth errors...
            raise SourceError(
                f"Cannot reach Kafka at {params.get('bootstrap_servers')} ({type(exc).__name__}: {exc}). "
                "Is the broker running and are the security settings right? "
                "For the local broker: `driftstream kafka up`."
            ) from exc
        try:  # learn the topic's partitions before joining: a join without them can keep an empty assignment
            self.consumer.partitions_for_topic(self.topic)
        except Exception:  # noqa: BLE001 - a topic created later is still picked up by the metadata refresh
            logger.debug("no metadata yet for %s", self.topic, exc_info=True)
        self.consumer.subscribe([self.topic], listener=Listener())

    def _fetch(self) -> tuple[list[bytes], np.ndarray, np.ndarray]:
        """One ``poll``: the values, with each one's partition and offset."""
        polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
        values: list[bytes] = []
        partitions: list[np.ndarray] = []
        offsets: list[np.ndarray] = []
        for tp, records in polled.items():
            values.extend(r.value for r in records)
            partitions.append(np.full(len(records), tp.partition, np.int32))
            offsets.append(np.fromiter((r.offset for r in records), np.int64, len(records)))
        return (values, np.concatenate(partitions) if partitions else np.zeros(0, np.int32),
                np.concatenate(offsets) if offsets else np.zeros(0, np.int64))

    def _poll(self) -> RawBatch:
        if self.consumer is None:
            self._connect()
        values, partitions, offsets = self._not_yet_emitted(*self._fetch())
        if values:
            self._last_records, self._empty_polls = time.monotonic(), 0
        else:
            self._empty_polls += 1
            if self._stalled():
                self._replace_consumer()
                replaced = RawBatch.empty()
                replaced.unreachable = True  # no consumer until the next poll: silence says nothing
                replaced.revoked, self._revoked = self._revoked, []
                return replaced
        batch = RawBatch(values, partitions, offsets, now_ms())
        # during a rebalance nothing is fetched (and a fresh broker's group coordinator can take
        # seconds to load): that silence says nothing about the partitions' idleness either
        batch.unreachable = not self._broker_answered(bool(values)) or self._rebalancing
        batch.reachable_since = self.reachable_since
        batch.backlogged = self._backlogged()
        batch.revoked, self._revoked = self._revoked, []
        assigned, self._newly_assigned = self._newly_assigned, []
        for tp in assigned:  # committed metadata carries the watermark of the last commit
            try:
                metadata = self._committed_metadata(tp)
            except Exception:  # noqa: BLE001 - the watermark restore is an optimisation; keep the assignment
                logger.warning("could not read the committed offset of partition %d", tp.partition, exc_info=True)
                metadata = None
            batch.assigned[tp.partition] = metadata
            self._resume(tp)
        return batch

    def _committed_metadata(self, tp) -> str | None:
        committed = self.consumer.committed(tp, metadata=True, timeout_ms=BROKER_CALL_TIMEOUT_MS)
        return committed.metadata if committed is not None else None

    def _assigned_partitions(self) -> list[int]:
        return sorted(tp.partition for tp in self.consumer.assignment())

    def _close_consumer(self) -> None:
        self.consumer.close(autocommit=False)

    def _stalled(self, min_empty_polls: int = 20, check_every_s: float = 5.0) -> bool:
        """Partitions assigned and behind their log end, yet nothing fetched for ``stall_s``.

        Seen with kafka-python 3.0.12 after a quick second group join whose sync never completed:
        the consumer kept its partitions and fetched nothing for minutes. A broker that does not
        answer is an outage, not a stall (the lag cannot be read then).
        """
        now = time.monotonic()
        if (self.consumer is None or now - self._last_records < self.stall_s or self._empty_polls < min_empty_polls
                or now - self._last_stall_check < check_every_s):
            return False
        self._last_stall_check = now
        try:
            lag = self._lag()
        except Exception:  # noqa: BLE001 - broker unreachable: kafka-python reconnects by itself
            return False
        return any(behind > 0 for behind in lag.values())

    def _replace_consumer(self) -> None:
        """Close the stuck consumer; the next poll joins the group with a new one (and resumes where we stopped)."""
        assigned = self._assigned_partitions()
        logger.warning("the consumer of %s fetched nothing for %.0f s with partitions %s behind: replacing it",
                       self.topic, time.monotonic() - self._last_records, assigned)
        try:
            self._close_consumer()
        except Exception:  # noqa: BLE001 - it is being replaced anyway
            logger.debug("closing the stalled consumer failed", exc_info=True)
        self.consumer = None
        self._revoked.extend(assigned)  # as a rebalance would: their offsets are committed again once re-read
        self._rebalancing = False
        self.restarts += 1
        self._last_records, self._empty_polls = time.monotonic(), 0

    def _not_yet_emitted(self, values: list[bytes], partitions: np.ndarray,
                         offsets: np.ndarray) -> tuple[list[bytes], np.ndarray, np.ndarray]:
        """Drop records this source already emitted (a rebalance that hands a partition back to us
        rewinds the consumer to the last commit, but the open windows still hold those records);
        note where each partition continues."""
        keep = np.ones(len(offsets), bool)
        for partition, start in self._next_offset.items():
            keep &= (partitions != partition) | (offsets >= start)
        if not keep.all():
            self.redelivered += int((~keep).sum())
            values = [v for v, k in zip(values, keep) if k]
            partitions, offsets = partitions[keep], offsets[keep]
        for partition in np.unique(partitions):
            self._next_offset[int(partition)] = int(offsets[partitions == partition].max()) + 1
        return values, partitions, offsets

    def _resume(self, tp) -> None:
        """Continue a partition handed back to us where we stopped, not at its last commit."""
        start = self._next_offset.get(tp.partition)
        if start is None:
            return
        try:
            behind = self.consumer.position(tp, timeout_ms=BROKER_CALL_TIMEOUT_MS) < start
        except Exception:  # noqa: BLE001 - position unknown yet: the offset filter drops any re-read
            logger.debug("no position for partition %d yet", tp.partition, exc_info=True)
            return
        if behind:
            logger.info("partition %d assigned again: resuming at offset %d", tp.partition, start)
            self.consumer.seek(tp, start)
            self.resumed += 1

    def _broker_answered(self, got_records: bool, check_every_s: float = 1.0) -> bool:
        """Whether the broker answered within ``CONTACT_GAP_S``: records do, and so do the group
        heartbeats kafka-python sends every 3 s (read from its metrics: no extra request).

        A poll returns nothing both when the stream is quiet and when the broker is down; only
        the first may close windows by idleness.
        """
        now = time.monotonic()
        if got_records:
            self._contact(now)
        elif now - self._last_check >= check_every_s:
            self._last_check = now
            ago = self._heartbeat_seconds_ago()
            if ago is not None and now - ago > self._last_contact:
                self._contact(now - ago)
        return now - self._last_contact < CONTACT_GAP_S

    def _heartbeat_seconds_ago(self) -> float | None:
        try:
            ago = self.consumer.metrics().get("consumer-coordinator-metrics", {}).get("last-heartbeat-seconds-ago")
        except Exception:  # noqa: BLE001 - metrics are a hint; no answer means no contact
            return None
        return float(ago) if ago is not None and ago == ago and ago != float("inf") else None

    def _contact(self, now: float) -> None:
        """The broker answered; after a gap (an outage, or a poll thread that was blocked) the
        silence before does not count towards idleness: ``reachable_since`` restarts."""
        if now - self._last_contact >= CONTACT_GAP_S:
            self.reachable_since = now_ms()
            self._last_records = max(self._last_records, now)  # nor towards a stall (see _stalled)
        self._last_contact = now

    def _backlogged(self) -> set[int]:
        """Partitions whose last known high-water mark is beyond our position (no broker request)."""
        out = set()
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None or self.consumer.position(tp) < highwater:
                out.add(tp.partition)
        return out

    def _commit(self, offsets: dict[int, int], metadata: str) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if self.consumer is None:  # replaced after a stall: these partitions are re-read, commit later
            raise SourceError(f"no consumer of {self.topic} at the moment (being replaced); offsets not committed")
        # bounded: the consumer thread also polls, and a commit without a timeout waits for the coordinator forever
        self.consumer.commit({TopicPartition(self.topic, p): OffsetAndMetadata(o, metadata, -1) for p, o in offsets.items()},
                             timeout_ms=BROKER_CALL_TIMEOUT_MS)

    def _lag(self) -> dict[int, int]:
        assigned = list(self.consumer.assignment()) if self.consumer is not None else []
        if not assigned:
            return {}
        ends = self.consumer.end_offsets(assigned, timeout_ms=BROKER_CALL_TIMEOUT_MS)
        positions = {tp: self.consumer.position(tp) for tp in assigned}  # None right after a rebalance
        return {tp.partition: max(0, ends[tp] - positions[tp]) for tp in assigned if positions[tp] is not None}

    # -- asyncio side -----------------------------------------------------------------------------
    async def _call(self, fn: Callable, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def ensure_connected(self) -> None:
        """Connect and subscribe now (raises :class:`SourceError` with what to do when Kafka is unreachable)."""
        if self.consumer is None:
            await self._call(self._connect)

    async def _run(self) -> None:
        try:
            batch = await self._call(self._poll)
        except Exception as exc:  # noqa: BLE001 - keep polling: kafka-python reconnects by itself
            self.errors += 1
            logger.error("polling %s failed (%s: %s); retrying in %.1f s", self.topic, type(exc).__name__, exc, self._backoff)
            stalled = RawBatch.empty()
            stalled.unreachable = True  # windows wait: a failing poll says nothing about idleness
            await _emit_all(self, stalled)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 30.0)
            return
        self._backoff = 0.5
        await _emit_all(self, batch)

    async def commit(self, offsets: dict[int, int], metadata: str = "") -> None:
        """Commit ``partition -> next offset to read`` with ``metadata`` (e.g. the watermark)."""
        if offsets and self.consumer is not None:
            await self._call(self._commit, offsets, metadata)

    async def lag(self) -> dict[int, int]:
        """Messages not yet read, per assigned partition."""
        return await self._call(self._lag)

    async def close(self) -> None:
        self.stop()
        if self.consumer is not None:
            await self._call(self._close_consumer)
        self._thread.shutdown(wait=False)


# ----------------------------------------------------------------------------------------------
# File replay
# ----------------------------------------------------------------------------------------------
def read_inference_log(path: str | Path, batch_size: int = 2000, keep_bad_lines: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Inference-log records from JSONL, Parquet or CSV, in batches of dicts.

    Parquet and CSV rows are flat: ``request_id, ts, model, prediction`` plus one column per
    feature (or a ``features`` column holding JSON objects). With ``keep_bad_lines`` a JSONL
    line that is not valid UTF-8 JSON is passed on as its raw bytes (for the decoder to
    dead-letter) instead of raising.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No inference log at {path}.")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in (".jsonl", ".json", ".ndjson", ".jsonl.gz"):
        import gzip

        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            batch: list[dict[str, Any]] = []
            for line in fh:
                if line.strip():
                    try:
                        batch.append(json.loads(line))
                    except ValueError:  # JSONDecodeError and UnicodeDecodeError
                        if not keep_bad_lines:
                            raise
                        batch.append(line.rstrip(b"\r\n"))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        return
    import pandas as pd

    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        raise ValueError(f"Cannot replay {path}: expected a .jsonl, .parquet or .csv file, got '{suffix}'.")
    for start in range(0, len(frame), batch_size):
        yield [flat_row_to_record(row) for row in frame.iloc[start : start + batch_size].to_dict("records")]


META = ("request_id", "ts", "model", "model_version", "prediction", "label")


def flat_row_to_record(row: dict[str, Any]) -> dict[str, Any]:
    """A flat table row -> an inference-log record in the contract format."""
    import pandas as pd

    record = {k: row[k] for k in META if k in row}
    if "features" in row and isinstance(row["features"], str):
        record["features"] = json.loads(row["features"])
    else:
        record["features"] = {k: (None if _is_missing(v) else v) for k, v in row.items() if k not in META and k != "features"}
    if isinstance(record.get("ts"), pd.Timestamp):
        record["ts"] = int(record["ts"].value // 1_000_000)
    return record


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


@Stream.register_api(staticmethod)
class from_replay(Source):
    """Batches of raw inference-log messages replayed from a file.

    Parameters
    ----------
    path
        JSONL, Parquet or CSV inference log.
    rate
        Records per second; ``None`` replays as fast as downstream takes them.
    restamp
        Replace each record's ``ts`` with the time it is replayed.
    """

    def __init__(self, path: str | Path, rate: float | None = None, restamp: bool = False, batch_size: int = 2000, tick_ms: int = 100, **kwargs):
        self.path = path
        self.rate = rate
        self.restamp = restamp
        self.batch_size = batch_size
        self.tick_ms = tick_ms
        self._batches: Iterator[list[dict[str, Any]]] | None = None
        self.done = False
        self.offset = 0
        self._started_at: float | None = None
        super().__init__(**kwargs)

    async def _run(self) -> None:
        if self._batches is None:
            size = self.batch_size if self.rate is None else max(1, min(self.batch_size, int(self.rate * self.tick_ms / 1000)))
            self._batches = read_inference_log(self.path, size, keep_bad_lines=True)
            self._started_at = time.monotonic()
        if self.done:
            await asyncio.sleep(self.tick_ms / 1000)
            await _emit_all(self, RawBatch.empty())
            return
        batch = next(self._batches, None)
        if batch is None:
            self.done = True
            return
        if self.rate is not None:
            due = self._started_at + (self.offset + len(batch)) / self.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        stamp = now_ms()
        if self.restamp:
            for record in batch:
                if isinstance(record, dict):
                    record["ts"] = stamp
        values = [r if isinstance(r, bytes) else json.dumps(r, allow_nan=True).encode() for r in batch]
        offsets = np.arange(self.offset, self.offset + len(values), dtype=np.int64)
        self.offset += len(values)
        await _emit_all(self, RawBatch(values, np.zeros(len(values), np.int32), offsets, stamp))
