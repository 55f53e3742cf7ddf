"""The sans-IO contract every protocol module fulfils.

A protocol module exposes one `Codec` instance (`CODEC`) with four seams, as Traccar keeps
manifest/framer/decoder/encoder apart, but with no I/O (as h11):

- `detect(head)`      -> MATCH / NO_MATCH / NEED_MORE  from the first bytes of a stream/datagram
- `new_framer()`      -> a `Framer`: feed bytes, take `Frame`s or `FrameError`s out; bounded
- `decode(frame, session, now)` -> `Decoded`: records, the reply bytes the device expects, and the
                          device id; a bad frame gives `Decoded.error`, never an exception
- `encode_command(command, session)` -> bytes to send, or raises `UnsupportedCommand`
- optionally `identify(frame, session, now)` -> `Identified`: device id, reply and message type
  only, for the listener's hot path (it must agree with `decode`; the conformance suite checks it)

Error contract (h11's lesson): device input a codec cannot use raises `Malformed` (or is returned as
`Decoded.error`); any other exception escaping a codec is *our* bug. Callers never call a codec's
`decode`/`identify`/`encode_command` directly: they go through `guarded_decode`, `guarded_identify`
and `guarded_encode` below, which turn `Malformed` into a decode error, anything else into a decode
error flagged `bug=True` (counted and logged apart, frame still kept on the dead-letter path), and
any encoding failure into `UnsupportedCommand`.

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


class Malformed(ValueError):
    """Device input we cannot use; `str(exc)` is the reason an operator reads on the dead letter."""


@dataclass(frozen=True, slots=True)
class ServerContext:
    """What a codec may need from the deployment, handed in rather than read from globals.

    `auth_key` signs authentication codes a server issues (JT/T 808 registration) so that every
    listener instance can check a code without shared state.
    """

    auth_key: bytes = b"trackwire-development-auth-key"


DEFAULT_CONTEXT = ServerContext()


@dataclass(slots=True)
class Session:
    """Per-connection state (per datagram source for UDP). Protocols subclass it for more state.

    `device_id` is set by `decode` once the device identified itself (e.g. GT06 login) and used for
    frames that do not carry it.
    """

    transport: Transport = Transport.TCP
    device_id: str | None = None
    context: ServerContext = DEFAULT_CONTEXT
    # The caller vouches that the device already authenticated: the processors decode only frames
    # a listener accepted, so protocols with authentication (JT/T 808) do not check it again.
    authenticated: bool = False


@dataclass(slots=True)
class Decoded:
    records: list[Record] = field(default_factory=list)
    reply: bytes | None = None  # bytes to write back once the frame is safely stored
    device_id: str | None = None
    error: str | None = None  # set when the frame could not be decoded; records then empty
    message_type: str | None = None  # protocol's own name for the frame, for logs and metrics
    bug: bool = False  # error came from a codec bug, not from the device (see guarded_decode)
    close: bool = False  # close the connection once the reply is written (e.g. HTTP `Connection: close`)
    rejected: bool = False  # the frame is refused as data (e.g. not authenticated); `error` says why
    # The frame's own serial number as the protocol defines it (GT06 serial, JT/T 808 message
    # serial), None when the protocol has none. A device resending a frame after a lost ack sends
    # it with the same number, so processors can tell a resend from a new frame with equal bytes.
    sequence: int | None = None


@dataclass(slots=True)
class Identified:
    """The listener's view of a frame: who sent it and what to answer, without building records."""

    device_id: str | None = None
    reply: bytes | None = None
    message_type: str | None = None
    error: str | None = None
    bug: bool = False
    close: bool = False
    rejected: bool = False
    sequence: int | None = None  # as Decoded.sequence


@dataclass(frozen=True, slots=True)
class Command:
    """A downlink command in protocol-neutral form.

    `name` is one of a small vocabulary (`locate`, `reboot`, `set_interval`, `find_device`,
    `sos_numbers`, `custom`…); `params` its arguments; `custom` sends `params["text"]` as is.
    """

    name: str
    params: dict[str, str] = field(default_factory=dict)


class UnsupportedCommand(ValueError):
    """The command cannot be encoded for this protocol/device; the reason says why.

    `bug` is set by `guarded_encode` when the cause was a codec bug (chained as `__cause__`)."""

    bug: bool = False


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


# --------------------------------------------------------------------------------------------
# The guard: the one place codec exceptions are classified
# --------------------------------------------------------------------------------------------

def codec_bug_reason(codec_name: str, exc: BaseException) -> str:
    return f"codec bug in {codec_name}: {type(exc).__name__}: {exc}"


def guarded_decode(codec: Codec, frame: bytes, session: Session, now: datetime) -> Decoded:
    """`codec.decode` with the error contract applied; never raises (except BaseException like
    KeyboardInterrupt/CancelledError, which are not ours to swallow)."""
    try:
        return codec.decode(frame, session, now)
    except Malformed as exc:
        return Decoded(error=str(exc) or "malformed frame", device_id=session.device_id)
    except Exception as exc:  # noqa: BLE001 - anything else is a bug, reported as such
        return Decoded(error=codec_bug_reason(codec.name, exc), bug=True, device_id=session.device_id)


def identified_from(decoded: Decoded) -> Identified:
    return Identified(device_id=decoded.device_id, reply=decoded.reply, message_type=decoded.message_type,
                      error=decoded.error, bug=decoded.bug, close=decoded.close,
                      rejected=decoded.rejected, sequence=decoded.sequence)


def guarded_identify(codec: Codec, frame: bytes, session: Session, now: datetime) -> Identified:
    """The codec's thin `identify` if it has one, else derived from a full decode; never raises."""
    identify = getattr(codec, "identify", None)
    if identify is None:
        return identified_from(guarded_decode(codec, frame, session, now))
    try:
        return identify(frame, session, now)
    except Malformed as exc:
        return Identified(error=str(exc) or "malformed frame", device_id=session.device_id)
    except Exception as exc:  # noqa: BLE001
        return Identified(error=codec_bug_reason(codec.name, exc), bug=True, device_id=session.device_id)


def guarded_encode(codec: Codec, command: Command, session: Session) -> bytes:
    """`codec.encode_command`, raising only `UnsupportedCommand` (a codec bug is reported as one,
    with its cause chained, so a downlink caller has exactly one exception to handle)."""
    try:
        return codec.encode_command(command, session)
    except UnsupportedCommand:
        raise
    except Exception as exc:  # noqa: BLE001
        error = UnsupportedCommand(f"{command.name} cannot be encoded for {codec.name}: {exc}")
        error.bug = True
        raise error from exc
