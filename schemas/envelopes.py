"""Envelopes on the raw-frames, dead-letter and commands topics (msgpack, with schema version `v`).

The raw frame keeps the device's exact bytes; everything downstream can be rebuilt from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

ENVELOPE_VERSION = 1


def _pack(obj: Any) -> bytes:
    # Field by field, not dataclasses.asdict: asdict deep-copies every value, and the listener
    # packs one envelope per frame on its hot path.
    body = {name: value for name in obj.__slots__ if (value := getattr(obj, name)) is not None}
    body["v"] = ENVELOPE_VERSION
    return msgpack.packb(body, use_bin_type=True)


def _unpack(cls: type, payload: bytes) -> Any:
    data = msgpack.unpackb(payload, raw=False)
    version = data.pop("v", None)
    if version != ENVELOPE_VERSION:
        raise ValueError(f"unsupported {cls.__name__} envelope version {version!r} (this build reads {ENVELOPE_VERSION})")
    return cls(**data)


@dataclass(slots=True)
class RawFrame:
    """One frame as received. Key on Kafka: device_id, or connection_id until the device is known."""

    frame_id: str  # unique: listener instance + connection + sequence (see listener)
    received_at_ms: int  # listener wall clock, Unix epoch milliseconds
    transport: str  # "tcp" | "udp"
    peer: str  # "ip:port"
    listener_id: str
    connection_id: str
    data: bytes
    # Omitted on the wire when unknown (no protocol matched / device not yet identified).
    protocol: str | None = None
    device_id: str | None = None
    # Set when the listener refused the frame as data (e.g. JT/T 808 "not authenticated: ..."): it is
    # kept on this topic for the record and the processors dead-letter it with this reason.
    rejected: str | None = None

    def to_msgpack(self) -> bytes:
        return _pack(self)

    @classmethod
    def from_msgpack(cls, payload: bytes) -> "RawFrame":
        return _unpack(cls, payload)


@dataclass(slots=True)
class DeadLetter:
    """Input we could not use, kept whole with the reason. `stage` says who gave up on it."""

    stage: str  # "listener" | "processor" | "sink"
    reason: str
    data: bytes  # the offending bytes (raw device bytes, or the original envelope)
    at_ms: int
    protocol: str | None = None
    device_id: str | None = None
    peer: str | None = None
    frame_id: str | None = None
    source_topic: str | None = None

    def to_msgpack(self) -> bytes:
        return _pack(self)

    @classmethod
    def from_msgpack(cls, payload: bytes) -> "DeadLetter":
        return _unpack(cls, payload)


@dataclass(slots=True)
class DownlinkCommand:
    """A command for a device. Key: device_id. Every listener reads all of them and delivers those
    for devices connected to it."""

    command_id: str
    device_id: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    created_at_ms: int = 0

    def to_msgpack(self) -> bytes:
        return _pack(self)

    @classmethod
    def from_msgpack(cls, payload: bytes) -> "DownlinkCommand":
        return _unpack(cls, payload)
