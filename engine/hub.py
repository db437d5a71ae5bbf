"""In-process fan-out of result records to live consumers (dashboard, notebooks, metrics).

The engine publishes every batch of result records it emits, per kind
(``stats``, ``outliers``, ``drift``, ``alerts``, ``health``, ``dead_letter``, ``late``).
Subscribers are plain callables ``callback(kind, records)``; each also keeps a bounded
in-memory history per kind so a late subscriber (a browser tab opened later) can catch up.

Examples
--------
>>> hub = ResultHub(history=2)
>>> seen = []
>>> unsubscribe = hub.subscribe(lambda kind, records: seen.append((kind, len(records))))
>>> hub.publish("stats", [{"feature": "x", "mean": 1.0}])
>>> seen
[('stats', 1)]
>>> hub.publish("stats", [{"feature": "x", "mean": 2.0}, {"feature": "x", "mean": 3.0}])
>>> [r["mean"] for r in hub.history("stats")]
[2.0, 3.0]
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable

Record = dict[str, Any]
Subscriber = Callable[[str, list[Record]], None]

logger = logging.getLogger(__name__)


class ResultHub:
    """Thread-safe publish/subscribe of result records, with a bounded history per kind."""

    def __init__(self, history: int = 5000):
        self.history_size = history
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._history: dict[str, deque[Record]] = {}

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback(kind, records)``; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, kind: str, records: list[Record]) -> None:
        """Record ``records`` in the history of ``kind`` and hand them to every subscriber."""
        if not records:
            return
        with self._lock:
            queue = self._history.setdefault(kind, deque(maxlen=self.history_size))
            queue.extend(records)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(kind, records)
            except Exception:  # a broken dashboard must never stop the stream
                logger.exception("result subscriber %r failed", callback)

    def history(self, kind: str) -> list[Record]:
        """The most recent records of ``kind`` (at most ``history`` of them)."""
        with self._lock:
            return list(self._history.get(kind, ()))
