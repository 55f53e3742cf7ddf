"""Protocol detection across all registered codecs, and one connection's byte stream as events.

`ProtocolStream` is what the listener (and `trackwire decode`) drives per TCP connection or UDP
datagram: feed bytes, take events out. Detection buffers at most `max_detect_bytes`; once a codec
matches, everything read so far is handed to its framer (nothing read during detection is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.base import (
    DEFAULT_MAX_FRAME,
    Codec,
    Detection,
    Frame,
    FrameError,
    Framer,
    DEFAULT_CONTEXT,
    ServerContext,
    Session,
    Transport,
    hex_preview,
)
from protocols.registry import CODECS

DEFAULT_MAX_DETECT_BYTES = 256
_EVERY_TRANSPORT = frozenset(Transport)  # for a codec that does not declare `transports`


@dataclass(frozen=True, slots=True)
class NoProtocol:
    """The bytes match no registered protocol. Terminal for a TCP stream."""

    reason: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Detected:
    codec: Codec


def detect(head: bytes, transport: Transport, codecs: tuple[Codec, ...] = CODECS) -> Codec | Detection | NoProtocol:
    """First codec that matches `head`; NEED_MORE if some codec might with more bytes; else NoProtocol.

    Only codecs that speak `transport` (their `transports`) are asked."""
    undecided = False
    for codec in codecs:
        if transport not in getattr(codec, "transports", _EVERY_TRANSPORT):
            continue
        verdict = codec.detect(head, transport)
        if verdict is Detection.MATCH:
            return codec
        if verdict is Detection.NEED_MORE:
            undecided = True
    if undecided:
        return Detection.NEED_MORE
    return NoProtocol(no_match_reason(head, codecs), head)


def no_match_reason(head: bytes, codecs: tuple[Codec, ...] = CODECS) -> str:
    names = ", ".join(c.name for c in codecs)
    return f"bytes match no known protocol ({names}): {hex_preview(head)}"


StreamEvent = Detected | Frame | FrameError | NoProtocol


class ProtocolStream:
    """Detect, then frame, one byte stream. Pure: bytes in, events out."""

    def __init__(
        self,
        transport: Transport = Transport.TCP,
        *,
        codecs: tuple[Codec, ...] = CODECS,
        max_detect_bytes: int = DEFAULT_MAX_DETECT_BYTES,
        max_frame: int = DEFAULT_MAX_FRAME,
        context: ServerContext = DEFAULT_CONTEXT,
    ) -> None:
        self.transport = transport
        self.context = context
        self._codecs = codecs
        self._max_detect = max_detect_bytes
        self._max_frame = max_frame
        self._head = bytearray()
        self._pending: list[StreamEvent] = []
        self.codec: Codec | None = None
        self.framer: Framer | None = None
        self.session: Session | None = None
        self.failed: NoProtocol | None = None

    @property
    def buffered(self) -> int:
        return len(self._head) + (self.framer.buffered if self.framer else 0)

    def feed(self, data: bytes) -> None:
        if self.failed is not None or not data:
            return
        if self.framer is not None:
            self.framer.feed(data)
            return
        self._head += data
        verdict = detect(bytes(self._head), self.transport, self._codecs)
        if isinstance(verdict, NoProtocol):
            self._fail(verdict)
        elif verdict is Detection.NEED_MORE:
            if len(self._head) >= self._max_detect:
                self._fail(NoProtocol(
                    f"no protocol recognised within {self._max_detect} bytes: {hex_preview(bytes(self._head))}",
                    bytes(self._head)))
        else:
            self._start(verdict)

    def _fail(self, outcome: NoProtocol) -> None:
        self.failed = outcome
        self._head.clear()
        self._pending.append(outcome)

    def _start(self, codec: Codec) -> None:
        self.codec = codec
        self.session = codec.new_session(self.transport)
        self.session.context = self.context
        self.framer = codec.new_framer(self.transport, self._max_frame)
        self._pending.append(Detected(codec))
        head, self._head = bytes(self._head), bytearray()
        self.framer.feed(head)

    def next_event(self) -> StreamEvent | None:
        if self._pending:
            return self._pending.pop(0)
        if self.framer is not None:
            return self.framer.next()
        return None

    def events(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        while (event := self.next_event()) is not None:
            out.append(event)
        return out
