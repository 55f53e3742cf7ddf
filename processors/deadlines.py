"""When each device next needs the timer: a heap of deadlines, so a tick costs O(due · log n).

The timer never scans every device: each processed frame sets its device's next deadline (offline
after the silence, end of an SOS episode), and a tick pops only those that are due. Entries are
replaced lazily: the heap may hold stale ones, recognised because the device's current deadline
differs; the heap is compacted when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable


class DeadlineIndex:
    def __init__(self) -> None:
        self._due: dict[Hashable, int] = {}
        self._heap: list[tuple[int, int, Hashable]] = []
        self._seq = 0  # tie-breaker: keys need not be comparable

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._due

    def get(self, key: Hashable) -> int | None:
        return self._due.get(key)

    def set(self, key: Hashable, deadline: int | None) -> None:
        """Set (or with None, remove) the key's deadline."""
        if deadline is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == deadline:
            return
        self._due[key] = deadline
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, key))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def pop_due(self, now: int, limit: int | None = None) -> list[Hashable]:
        """Keys whose deadline is <= now, earliest first (at most `limit`); they are removed."""
        out: list[Hashable] = []
        heap = self._heap
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            deadline, _, key = heapq.heappop(heap)
            if self._due.get(key) == deadline:
                del self._due[key]
                out.append(key)
        return out

    def next_due(self) -> int | None:
        heap = self._heap
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()

    def rebuild(self, entries: Iterable[tuple[Hashable, int | None]]) -> None:
        self.clear()
        for key, deadline in entries:
            if deadline is not None:
                self._due[key] = deadline
        self._compact()

    def _compact(self) -> None:
        self._heap = []
        for key, deadline in self._due.items():
            self._seq += 1
            self._heap.append((deadline, self._seq, key))
        heapq.heapify(self._heap)


class StreamClock:
    """"Now" per partition for the timer: the wall clock once the partition is caught up, else the
    time of the latest frame processed on it.

    A worker that starts behind (after an outage, or after taking over a partition with a backlog)
    must not declare devices offline whose frames are still waiting in that backlog: while a
    partition has unprocessed messages, its time only advances as its frames are processed.

    A partition just assigned is *held*: its time is unknown until its first message is processed
    or it is seen to have nothing to process (`settle`). Before this, the timer judged it by the
    wall clock between the assignment and the first batch, and raised `offline` for a device whose
    frames were next in the backlog (seen once the recovery waited for its seek, processors/recovery.py).
    """

    def __init__(self) -> None:
        self._behind: dict[int, int] = {}  # partition -> time (ms) of the latest frame processed there
        self._held: set[int] = set()

    def hold(self, partitions: Iterable[int]) -> None:
        """Partitions (re)assigned: no time for them until `observe` or `settle`."""
        self._held.update(partitions)

    def settle(self, partition: int) -> None:
        """The partition has nothing to process: its time is the wall clock."""
        self._held.discard(partition)

    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    def observe(self, partition: int, offset: int, highwater: int | None, frame_ms: int) -> None:
        """After processing the message at `offset`; `highwater` = the partition's end offset."""
        self._held.discard(partition)
        if highwater is not None and highwater > offset + 1:
            self._behind[partition] = frame_ms
        else:
            self._behind.pop(partition, None)

    def now(self, partition: int, wall_ms: int) -> int | None:
        """None while the partition is held: judge none of its devices yet."""
        if partition in self._held:
            return None
        behind = self._behind.get(partition)
        return wall_ms if behind is None else min(wall_ms, behind)

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._behind.pop(partition, None)
            self._held.discard(partition)
