"""Shared framers: the frame-size bound, resumable searches and buffer compaction in one place.

Every protocol's framer is one of these, configured, or a thin wrapper around one:

- `DelimitedFramer`: frames that end with a delimiter (`#`, `;`, `]`, `0x7E`…), optionally begin
  with a start marker; bytes before a start marker are handed out as one `FrameError`.
- `LengthFramer`: frames whose header declares their length; with a delimiter the declared end is
  checked against it and a contradicted length falls back to the delimiter, so one corrupt length
  cannot stall the stream (Traccar Gt06FrameDecoder's rule).
- `PerDatagram`: UDP, where one datagram is framed on its own and nothing is carried over.

Searches resume where they stopped (h11 `_receivebuffer`), so a stream fed a byte at a time stays
linear; no framer ever holds more than `max_frame` bytes of an incomplete frame.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Protocol

from protocols.base import DEFAULT_MAX_FRAME, Frame, FrameError, Malformed

_COMPACT_AFTER = 4096


class _Buffer:
    """A bytearray with a read offset, compacted lazily (deleting from the front is O(n))."""

    __slots__ = ("buf", "start")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.start = 0

    def __len__(self) -> int:
        return len(self.buf) - self.start

    def take(self, n: int) -> bytes:
        data = bytes(self.buf[self.start:self.start + n])
        self.start += n
        if self.start >= len(self.buf):
            self.buf.clear()
            self.start = 0
        elif self.start > _COMPACT_AFTER and self.start * 2 > len(self.buf):
            del self.buf[:self.start]
            self.start = 0
        return data

    def find(self, needle: bytes, begin: int, end: int | None = None) -> int:
        """Offset from `start` of `needle` in [begin, end) (offsets from start), or -1."""
        stop = len(self.buf) if end is None else self.start + end
        i = self.buf.find(needle, self.start + begin, stop)
        return -1 if i < 0 else i - self.start

    def startswith(self, prefix: bytes) -> bool:
        return self.buf.startswith(prefix, self.start)

    def peek(self, n: int) -> bytes:
        return bytes(self.buf[self.start:self.start + n])


class DelimitedFramer:
    """`[start] … end` frames. Without `start`, every byte up to and including `end` is a frame.

    `name` appears in error reasons ("no H02 frame end within 4096 bytes").
    """

    def __init__(self, end: bytes, *, start: bytes | None = None, max_frame: int = DEFAULT_MAX_FRAME,
                 name: str = "frame", min_length: int = 0) -> None:
        if not end:
            raise ValueError("a delimiter is needed")
        self._end = end
        self._start_marker = start or None
        self._max = max(max_frame, len(end) + len(start or b"") + 1)
        self._name = name
        self._min = min_length  # the end delimiter is not searched for before this offset
        self._b = _Buffer()
        self._end_from = 0  # where the end search resumes (offset from the frame start)
        self._marker_from = 0
        # Inside the tail of a frame that overflowed before its end came: drop up to its end, as a
        # frame whose end is already buffered is dropped. Otherwise the tail would come out as a
        # bogus frame (or resynchronise on a start marker inside it) only when the input arrives
        # in small pieces: the frames must not depend on how the bytes were chunked.
        self._discarding = False

    @property
    def buffered(self) -> int:
        return len(self._b)

    def feed(self, data: bytes) -> None:
        self._b.buf += data

    def next(self) -> Frame | FrameError | None:
        b = self._b
        n = len(b)
        if n == 0:
            return None
        if self._discarding:
            return self._discard_tail(n)
        if self._start_marker is not None and not b.startswith(self._start_marker):
            return self._skip_garbage(n)
        first = max(self._end_from, self._min, len(self._start_marker or b""))
        end = b.find(self._end, first)
        if end < 0:
            self._end_from = max(first, n - len(self._end) + 1)
            if n > self._max:
                # Keep what may be the first bytes of the end delimiter.
                error = self._error(f"no {self._name} end within {self._max} bytes", n - len(self._end) + 1)
                self._discarding = True
                return error
            return None
        size = end + len(self._end)
        if size > self._max:
            return self._error(f"{self._name} of {size} bytes exceeds the {self._max}-byte limit", size)
        return self._frame(size)

    def flush(self) -> FrameError | None:
        """What is left when no more bytes will come (the end of a datagram)."""
        n = len(self._b)
        discarding, self._discarding = self._discarding, False
        if not n:
            return None
        if discarding:
            return self._error(f"tail of an oversized {self._name}", n)
        return self._error(f"incomplete {self._name} ({n} bytes, no end)", n)

    def _discard_tail(self, n: int) -> FrameError | None:
        end = self._b.find(self._end, self._end_from)
        if end < 0:
            self._end_from = max(0, n - len(self._end) + 1)
            if n > self._max:
                return self._error(f"tail of an oversized {self._name}", n - len(self._end) + 1)
            return None
        self._discarding = False
        return self._error(f"tail of an oversized {self._name}", end + len(self._end))

    def _skip_garbage(self, n: int) -> FrameError | None:
        marker = self._b.find(self._start_marker, max(self._marker_from, 1))
        if marker >= 0:
            return self._error(f"bytes before a {self._name} start", marker)
        self._marker_from = max(1, n - len(self._start_marker) + 1)
        if n > self._max:
            keep = len(self._start_marker) - 1
            return self._error(f"no {self._name} start within {self._max} bytes", n - keep)
        return None

    def _frame(self, size: int) -> Frame:
        self._end_from = self._marker_from = 0
        return Frame(self._b.take(size))

    def _error(self, reason: str, size: int) -> FrameError:
        self._end_from = self._marker_from = 0
        return FrameError(reason, self._b.take(size))


# `length_of(head)` gets the first `header_size` bytes of a frame and returns the whole frame's
# length in bytes, or raises Malformed when the header cannot begin a frame.
LengthOf = Callable[[bytes], int]


class LengthFramer:
    """Frames whose header declares their length.

    With `end`: a frame whose declared end is not `end` is cut at the first `end` instead (the
    decoder then judges it), and a header `length_of` rejects is resynchronised at the next `end`.
    Without `end` there is nothing to resynchronise on: a rejected header or an oversized length
    discards everything buffered as one FrameError.
    """

    def __init__(self, header_size: int, length_of: LengthOf, *, end: bytes | None = None,
                 max_frame: int = DEFAULT_MAX_FRAME, name: str = "frame") -> None:
        self._header = header_size
        self._length_of = length_of
        self._end = end or None
        self._max = max(max_frame, header_size + 1)
        self._name = name
        self._b = _Buffer()
        # Cuts one frame at the delimiter when the length cannot be trusted; it works on our own
        # buffer, so entering and leaving it copies nothing (a stream of wrong lengths stays linear).
        self._fallback: DelimitedFramer | None = None
        if self._end is not None:
            self._fallback = DelimitedFramer(self._end, max_frame=self._max, name=name, min_length=1)
            self._fallback._b = self._b
        self._in_fallback = False

    @property
    def buffered(self) -> int:
        return len(self._b)

    def feed(self, data: bytes) -> None:
        self._b.buf += data

    def next(self) -> Frame | FrameError | None:
        if self._in_fallback:
            assert self._fallback is not None
            item = self._fallback.next()
            if item is not None and not self._fallback._discarding:
                self._in_fallback = False
            return item
        n = len(self._b)
        if n < self._header:
            return None
        try:
            declared = self._length_of(self._b.peek(self._header))
        except Malformed as exc:
            return self._bad_header(str(exc))
        if declared < self._header or declared > self._max:
            return self._bad_header(f"{self._name} declares {declared} bytes (limit {self._max})")
        if n < declared:
            return None
        if self._end is not None and self._b.find(self._end, declared - len(self._end), declared) < 0:
            return self._enter_fallback()
        return Frame(self._b.take(declared))

    def flush(self) -> FrameError | None:
        if self._in_fallback:
            assert self._fallback is not None
            self._in_fallback = False
            return self._fallback.flush()
        n = len(self._b)
        return FrameError(f"incomplete {self._name} ({n} bytes)", self._b.take(n)) if n else None

    def _bad_header(self, reason: str) -> FrameError | Frame | None:
        if self._end is None:
            return FrameError(f"{reason}; {len(self._b)} buffered bytes discarded", self._b.take(len(self._b)))
        return self._enter_fallback()

    def _enter_fallback(self) -> Frame | FrameError | None:
        # Cut at the delimiter until the delimiter framer yields one item, then trust lengths again.
        self._in_fallback = True
        return self.next()


class _StreamFramer(Protocol):
    def feed(self, data: bytes) -> None: ...

    def next(self) -> Frame | FrameError | None: ...

    def flush(self) -> FrameError | None: ...


class PerDatagram:
    """UDP: each datagram is framed by a fresh framer; what is left incomplete is an error."""

    def __init__(self, make: Callable[[], _StreamFramer]) -> None:
        self._make = make
        self._ready: deque[Frame | FrameError] = deque()

    @property
    def buffered(self) -> int:
        return sum(len(item.data) for item in self._ready)

    def feed(self, data: bytes) -> None:
        framer = self._make()
        framer.feed(data)
        while (item := framer.next()) is not None:
            self._ready.append(item)
        if (rest := framer.flush()) is not None:
            self._ready.append(rest)

    def next(self) -> Frame | FrameError | None:
        return self._ready.popleft() if self._ready else None
