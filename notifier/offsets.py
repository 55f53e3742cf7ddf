"""Which offsets may be committed: an offset counts as done only when every webhook it went to
has finished with it (2xx, or its dead letter acknowledged by Kafka). Pure.

Per partition the committable offset is the lowest offset not yet done (everything before it is
done), so a restart re-reads exactly the alerts some webhook had not finished, and nothing else
that was unfinished is lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable


class _Partition:
    __slots__ = ("pending", "remaining", "next_offset")

    def __init__(self) -> None:
        self.pending: deque[int] = deque()  # offsets in arrival (= increasing) order, done or not
        self.remaining: dict[int, int] = {}  # offset -> webhooks still to finish it
        self.next_offset: int | None = None  # one past the highest offset seen


class OffsetTracker:
    def __init__(self) -> None:
        self._parts: dict[Hashable, _Partition] = {}

    def add(self, tp: Hashable, offset: int, webhooks: int) -> None:
        """A message read at `offset`, going to `webhooks` webhooks (0: done at once)."""
        part = self._parts.get(tp)
        if part is None:
            part = self._parts[tp] = _Partition()
        part.next_offset = offset + 1
        if webhooks > 0:
            part.pending.append(offset)
            part.remaining[offset] = webhooks

    def done(self, tp: Hashable, offset: int) -> None:
        """One webhook finished the message at `offset`."""
        part = self._parts.get(tp)
        if part is None or offset not in part.remaining:
            return  # the partition was revoked meanwhile
        part.remaining[offset] -= 1
        if part.remaining[offset] == 0:
            del part.remaining[offset]
            while part.pending and part.pending[0] not in part.remaining:
                part.pending.popleft()

    def unfinished(self) -> int:
        return sum(len(p.remaining) for p in self._parts.values())

    def committable(self) -> dict[Hashable, int]:
        """Per partition, the offset to commit: the lowest unfinished one, or one past the last read."""
        out: dict[Hashable, int] = {}
        for tp, part in self._parts.items():
            if part.next_offset is None:
                continue
            out[tp] = part.pending[0] if part.pending else part.next_offset
        return out

    def forget(self, tps: Iterable[Hashable]) -> None:
        for tp in tps:
            self._parts.pop(tp, None)
