"""The sequential drive's queue of ready transitions: smallest index first, O(1) amortized.

``drive()`` always fires the earliest ready transition in net order. A binary heap gives
that at O(log n) a step; this queue exploits how a drive moves: forward through the net.
Indexes at or after the last one popped are flags in a byte array, found with one
C-speed scan from that position (the position only moves forward, so all the scanning of
a drive costs O(transitions) together); the few indexes that arrive behind it (a run step
near the start of the net, a slice earlier in the file) wait in a small heap.
"""

from __future__ import annotations

import heapq

__all__ = ["ReadyQueue"]


class ReadyQueue:
    """A set of transition indexes in ``range(size)``, popped smallest first."""

    __slots__ = ("_ahead", "_behind", "_cursor", "_queued")

    def __init__(self, size: int) -> None:
        """An empty queue for indexes ``0 <= i < size``."""
        self._queued = bytearray(size)  # 1 for every index in the set
        self._cursor = 0  # the last index popped from the flags
        self._ahead = 0  # how many queued indexes are >= the cursor
        self._behind: list[int] = []  # a heap of the queued indexes < the cursor

    def __len__(self) -> int:
        return self._ahead + len(self._behind)

    def push(self, i: int) -> None:
        """Add index ``i`` (no effect when it is queued already)."""
        if self._queued[i]:
            return
        self._queued[i] = 1
        if i >= self._cursor:
            self._ahead += 1
        else:
            heapq.heappush(self._behind, i)

    def pop(self) -> int:
        """Remove and return the smallest queued index, or -1 when the queue is empty."""
        if self._behind:  # every index behind the cursor is smaller than any ahead of it
            i = heapq.heappop(self._behind)
        elif self._ahead:
            i = self._queued.find(1, self._cursor)
            self._cursor = i
            self._ahead -= 1
        else:
            return -1
        self._queued[i] = 0
        return i
