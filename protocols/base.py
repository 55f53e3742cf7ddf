"""The sans-IO contract every protocol module fulfils.

A protocol module exposes one `Codec` instance (`CODEC`) with four seams, as Traccar keeps
manifest/framer/decoder/encoder apart, but with no I/O (as h11):

- `detect(head)`      -> MATCH / NO_MATCH / NEED_MORE  from the first bytes of a stream/datagram
- `new_framer()`      -> a `Framer`: feed bytes, take `Frame`s or `FrameError`s out; bounded
- `decode(frame, session, now)` -> `Decoded`: records, the reply bytes the device expects, and the
                          device id; a bad frame gives `Decoded.error`, never an exception
- `encode_command(command, session)` -> bytes to send, or raises `UnsupportedCommand`

Sockets, Kafka and the clock belong to the caller: `now` is passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol as _Protocol

from schemas.records import Record

# Frames above this are a fault on any protocol of this family (watch voice chunks are ~1-8 KiB,
# images up to a few tens of KiB); the listener may lower it.
DEFAULT_MAX_FRAME = 64 * 1024


class Detection(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NEED_MORE = "need_more"  # too few bytes to say; "need data" is a value, not an exception


class Transport(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete frame exactly as received (delimiters included)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class FrameError:
    """Bytes the framer had to throw away, and why. The caller dead-letters them."""

    reason: str
    data: bytes


@dataclass(slots=True)
class Session:
    """Per-connection state (per datagram source for UDP). Protocols subclass it for more state.

    `device_id` is set by `decode` once the device identified itself (e.g. GT06 login) and used for
    frames that do not carry it.
    """

    transport: Transport = Transport.TCP
    device_id: str | None = None


@dataclass(slots=True)
class Decoded:
    records: list[Record] = field(default_factory=list)
    reply: bytes | None = None  # bytes to write back once the frame is safely stored
    device_id: str | None = None
    error: str | None = None  # set when the frame could not be decoded; records then empty
    message_type: str | None = None  # protocol's own name for the frame, for logs and metrics


@dataclass(frozen=True, slots=True)
class Command:
    """A downlink command in protocol-neutral form.

    `name` is one of a small vocabulary (`locate`, `reboot`, `set_interval`, `find_device`,
    `sos_numbers`, `custom`…); `params` its arguments; `custom` sends `params["text"]` as is.
    """

    name: str
    params: dict[str, str] = field(default_factory=dict)


class UnsupportedCommand(ValueError):
    pass


class Framer(_Protocol):
    def feed(self, data: bytes) -> None: ...

    def next(self) -> Frame | FrameError | None:
        """The next frame or error, or None when more bytes are needed."""

    @property
    def buffered(self) -> int: ...


class Codec(_Protocol):
    name: str

    def detect(self, head: bytes, transport: Transport) -> Detection: ...

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> Framer: ...

    def new_session(self, transport: Transport) -> Session: ...

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded: ...

    def encode_command(self, command: Command, session: Session) -> bytes: ...


def hex_preview(data: bytes, limit: int = 48) -> str:
    text = data[:limit].hex()
    return text + ("…" if len(data) > limit else "")
