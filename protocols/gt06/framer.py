"""GT06 detection (from the first bytes) and the stream framer: length first, `0D 0A` as the fallback."""

from __future__ import annotations

from protocols.base import DEFAULT_MAX_FRAME, Detection, Frame, FrameError, Transport
from protocols.gt06.envelope import LONG, SHORT, STOP, header_length


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport) -> Detection:
    """`78 78` or `79 79` start a GT06 frame; one lone 0x78/0x79 byte may still become one."""
    if not head:
        return Detection.NEED_MORE
    if head[0] not in (0x78, 0x79):
        return Detection.NO_MATCH
    if len(head) == 1:
        return Detection.NEED_MORE
    return Detection.MATCH if head[1] == head[0] else Detection.NO_MATCH


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------


class Gt06Framer:
    """Cuts a byte stream into GT06 frames: by the declared length first, by `0D 0A` as the fallback.

    The rules depend only on the bytes, never on how they were chunked, so a stream fed whole, in
    pieces or byte by byte gives the same frames:

    1. A 15-byte 365GPS login (`78 78 0D 01` IMEI(8) version(1) `0D 0A`, no serial/CRC) ends at its
       own `0D 0A` although its length byte announces 18 bytes.
    2. The declared end: `0D 0A` right there ends the frame (the normal case); `0D 0A` two bytes
       later too (a device whose length byte is 2 short, Traccar Gt06FrameDecoder).
    3. Otherwise the length is wrong (365GPS 0x10/0x11/0x17/0x69 frames put other things in that
       byte): the frame ends at the first `0D 0A`, unless a start marker comes first, in which case
       the bytes before it are thrown away and framing restarts there.

    A frame never waits for more than `max_frame` bytes; a partial frame above it is discarded as a
    FrameError. Searches resume where they stopped, so byte-at-a-time input stays linear.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._start = 0  # where the current frame (or garbage) begins in _buf
        self._fallback = False  # the declared length was rejected for the current frame
        self._crlf_from = 0  # offsets from _start where the searches resume
        self._marker_from = 0
        self._max = max(max_frame, 32)  # a frame header must fit, and an error must hold at least a byte

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._start

    def next(self) -> Frame | FrameError | None:
        item = self._next()
        if item is not None:
            self._compact()
        return item

    # -- internals ------------------------------------------------------------------------

    def _emit(self, length: int) -> bytes:
        data = bytes(self._buf[self._start:self._start + length])
        self._start += length
        self._fallback = False
        self._crlf_from = self._marker_from = 0
        return data

    def _compact(self) -> None:
        if self._start >= len(self._buf):
            self._buf.clear()
            self._start = 0
        elif self._start > 4096 and self._start * 2 > len(self._buf):
            del self._buf[:self._start]
            self._start = 0

    def _find_marker(self, begin: int, end: int) -> int:
        """Offset (from _start) of the first `78 78`/`79 79` in [begin, end), or -1."""
        s = self._start
        found = (self._buf.find(SHORT, s + begin, s + end), self._buf.find(LONG, s + begin, s + end))
        hits = [i for i in found if i >= 0]
        return min(hits) - s if hits else -1

    def _next(self) -> Frame | FrameError | None:
        buf, s = self._buf, self._start
        n = len(buf) - s
        if n == 0:
            return None
        if buf[s] not in (0x78, 0x79) or (n >= 2 and buf[s + 1] != buf[s]):
            return self._skip_garbage(n)
        if n < 2:
            return None
        long = buf[s] == 0x79
        header = header_length(long)
        if n < header + 1:
            return None
        declared = int.from_bytes(buf[s + 2:s + header], "big") + header + 2
        if not self._fallback:
            if not long and declared == 18 and buf[s + 3] == 0x01:
                if n < 15:
                    return None
                if buf[s + 13:s + 15] == STOP:  # rule 1
                    return Frame(self._emit(15))
            verdict = self._by_length(declared, n)
            if verdict is not None:
                return verdict
            if not self._fallback:
                return None  # not enough bytes yet to accept or reject the declared length
        return self._by_delimiter(header, n)

    def _by_length(self, declared: int, n: int) -> Frame | None:
        """Rule 2; sets _fallback when the bytes contradict the declared length."""
        if declared > self._max:
            self._fallback = True
            return None
        if n < declared:
            return None
        s = self._start
        if self._buf[s + declared - 2:s + declared] == STOP:
            return Frame(self._emit(declared))
        if declared + 2 <= self._max:
            if n == declared:
                return None
            if self._buf[s + declared] == 0x0D:
                if n < declared + 2:
                    return None
                if self._buf[s + declared + 1] == 0x0A:
                    return Frame(self._emit(declared + 2))
        self._fallback = True
        return None

    def _by_delimiter(self, header: int, n: int) -> Frame | FrameError | None:
        """Rule 3: first `0D 0A` after the protocol byte, unless a start marker comes before it."""
        s = self._start
        crlf = self._buf.find(STOP, s + max(self._crlf_from, header + 1), s + n)
        end = crlf - s if crlf >= 0 else n
        marker = self._find_marker(max(self._marker_from, 2), end)
        if marker >= 0:
            return FrameError("GT06 frame length does not match its content; resynchronised at the next start marker",
                              self._emit(marker))
        if crlf >= 0:
            size = end + 2
            if size > self._max:
                return FrameError(f"GT06 frame of {size} bytes exceeds max_frame {self._max}", self._emit(size))
            return Frame(self._emit(size))
        # A CR or a marker's first byte may be the last byte seen: resume from there.
        self._crlf_from, self._marker_from = max(n - 1, header + 1), max(n - 1, 2)
        if n > self._max:
            return FrameError(f"no GT06 frame end within max_frame {self._max} bytes", self._emit(n - 1))
        return None

    def _skip_garbage(self, n: int) -> FrameError | None:
        """Bytes before a start marker: held until the marker shows up (one error, not one per byte)."""
        marker = self._find_marker(max(self._marker_from, 1), n)
        if marker >= 0:
            return FrameError("bytes before a GT06 start marker", self._emit(marker))
        self._marker_from = max(n - 1, 1)
        if n > self._max:
            keep = 1 if self._buf[-1] in (0x78, 0x79) else 0
            return FrameError("no GT06 start marker", self._emit(n - keep))
        return None
