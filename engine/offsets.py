"""At-least-once offset bookkeeping: commit a partition only up to what every holder released.

Holders are open windows (until emitted and past their allowed lateness) and micro-batches
whose per-request results are not yet written. For each partition the commit point is the
lowest offset still held, or one past the highest offset consumed when nothing is held.

Examples
--------
>>> book = OffsetBook()
>>> book.consumed({0: 10, 1: 7})          # highest offsets read so far
>>> book.hold("window:0", {0: 3, 1: 5})   # lowest offsets a window holds
>>> book.commit_points()
{0: 3, 1: 5}
>>> book.release("window:0")
>>> book.commit_points()
{0: 11, 1: 8}
"""

from __future__ import annotations

from collections.abc import Hashable


class OffsetBook:
    def __init__(self) -> None:
        self.highest: dict[int, int] = {}
        self.holds: dict[Hashable, dict[int, int]] = {}
        self.committed: dict[int, int] = {}

    def consumed(self, highest: dict[int, int]) -> None:
        for p, o in highest.items():
            self.highest[p] = max(self.highest.get(p, -1), int(o))

    def hold(self, holder: Hashable, lowest: dict[int, int]) -> None:
        current = self.holds.setdefault(holder, {})
        for p, o in lowest.items():
            current[p] = min(current.get(p, int(o)), int(o))

    def release(self, holder: Hashable) -> None:
        self.holds.pop(holder, None)

    def forget(self, partitions) -> None:
        """Stop committing revoked partitions (until consumed again).

        Holds stay: if the partition is handed back, its open windows still hold those records.
        """
        for p in partitions:
            self.highest.pop(p, None)
            self.committed.pop(p, None)

    def commit_points(self) -> dict[int, int]:
        points = {p: o + 1 for p, o in self.highest.items()}
        for held in self.holds.values():
            for p, o in held.items():
                if p in points:
                    points[p] = min(points[p], o)
        return points

    def to_commit(self) -> dict[int, int]:
        """Commit points that moved since the last :meth:`mark_committed`."""
        return {p: o for p, o in self.commit_points().items() if self.committed.get(p) != o}

    def mark_committed(self, points: dict[int, int]) -> None:
        self.committed.update(points)


def lowest_offsets(partitions, offsets) -> dict[int, int]:
    """Lowest offset per partition of a batch (numpy arrays)."""
    import numpy as np

    partitions = np.asarray(partitions)
    offsets = np.asarray(offsets)
    return {int(p): int(offsets[partitions == p].min()) for p in np.unique(partitions)}


def highest_offsets(partitions, offsets) -> dict[int, int]:
    import numpy as np

    partitions = np.asarray(partitions)
    offsets = np.asarray(offsets)
    return {int(p): int(offsets[partitions == p].max()) for p in np.unique(partitions)}
