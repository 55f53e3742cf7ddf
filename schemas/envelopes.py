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


# -- several raw frames in one Kafka message ---------------------------------------------------
# Under load the listener packs the frames it has queued for one partition into one message: each
# Kafka message costs the listener's producer and the processor's Faust stream a fixed amount of
# work, whatever its size (profiled: ~30 % of a processor worker's time went to Faust's per-message
# path). Each item keeps the key it would have had alone (the device id, or the connection id until
# the device is known) and its RawFrame envelope as bytes, so the processor handles each exactly as
# a message of its own: same state partition, same dead letters. The message's partition is the one
# its items' keys hash to; a lone frame is still sent as a plain RawFrame with its key.
# Wire form: msgpack map {"batch": [[key, envelope], ...], "v": 1}, packed in that order so a reader
# tells it from a RawFrame by its first bytes without unpacking a plain frame twice.
_BATCH_PREFIX = b"\x82\xa5batch"


def pack_frame_batch(items: list[tuple[bytes, bytes]]) -> bytes:
    """One message value holding `items`, each (Kafka key, RawFrame envelope bytes)."""
    return msgpack.packb({"batch": [[key, value] for key, value in items], "v": ENVELOPE_VERSION}, use_bin_type=True)


def is_frame_batch(value: bytes | None) -> bool:
    return value is not None and value.startswith(_BATCH_PREFIX)


def frames_of(key: bytes | None, value: bytes) -> list[tuple[bytes | None, bytes]]:
    """The (key, RawFrame envelope) pairs of one raw-frames message: itself, or its batch's items.
    Raises ValueError for a batch that cannot be read (the caller dead-letters the whole message)."""
    if not is_frame_batch(value):
        return [(key, value)]
    try:
        data = msgpack.unpackb(value, raw=False)
    except Exception as exc:  # noqa: BLE001 - msgpack raises several unrelated types
        raise ValueError(f"frame batch is not msgpack: {exc!r}") from None
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION or not isinstance(data.get("batch"), list):
        raise ValueError(f"unsupported frame batch (version {data.get('v') if isinstance(data, dict) else None!r}, "
                         f"this build reads {ENVELOPE_VERSION})")
    items = []
    for item in data["batch"]:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes)
                and isinstance(item[1], bytes)):
            raise ValueError("frame batch item is not [key bytes, envelope bytes]")
        items.append((item[0], item[1]))
    return items


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
