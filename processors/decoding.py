"""A raw-frame envelope in, the frame's typed records out (numbered), or the reason it failed.

The codec is the envelope's protocol, or found again by detection when the envelope has none (or
names one this build does not know). The codec decodes with a fresh session that knows the device
id from the envelope, and `now` = the envelope's reception time, so replaying a frame gives the
same records. Records get the device id, the frame id and their index within the frame.

`check_fix` is the sanity check every fix passes before it is published.
"""

from __future__ import annotations

import logging
import math

import msgpack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from protocols.base import Codec, Detection, Transport, guarded_decode
from protocols.registry import BY_NAME, CODECS
from protocols.stream import NoProtocol, detect
from schemas.envelopes import ENVELOPE_VERSION, RawFrame
from schemas.records import Alert, Position, Record

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DecodedFrame:
    envelope: RawFrame
    protocol: str | None = None
    device_id: str | None = None
    records: list[Record] = field(default_factory=list)
    error: str | None = None  # set when the frame could not be decoded
    bug: bool = False  # the error is a codec bug, not bad device input (protocols.base.guarded_decode)
    redetected: bool = False
    sequence: int | None = None  # the frame's own number, when its protocol has one (Decoded.sequence)


# RawFrame fields that may be None, which RawFrame.to_msgpack leaves out of the map.
_OPTIONAL_ENVELOPE_FIELDS = ("protocol", "device_id", "rejected")


def read_envelope(payload: bytes) -> RawFrame:
    """RawFrame.from_msgpack, but accepting an envelope whose protocol/device id was None (packed
    without the key). Raises ValueError or TypeError for anything else that is wrong."""
    try:
        data = msgpack.unpackb(payload, raw=False)
    except Exception as exc:  # noqa: BLE001 - msgpack raises several unrelated types
        raise ValueError(f"not msgpack: {exc!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"envelope is a msgpack {type(data).__name__}, not a map")
    version = data.pop("v", None)
    if version != ENVELOPE_VERSION:
        raise ValueError(f"unsupported RawFrame envelope version {version!r} (this build reads {ENVELOPE_VERSION})")
    for name in _OPTIONAL_ENVELOPE_FIELDS:
        data.setdefault(name, None)
    envelope = RawFrame(**data)
    if not isinstance(envelope.data, bytes):
        raise ValueError(f"envelope data is {type(envelope.data).__name__}, not bytes")
    return envelope


def find_codec(envelope: RawFrame, codecs: tuple[Codec, ...] = CODECS,
               by_name: dict[str, Codec] = BY_NAME) -> tuple[Codec | None, str | None, bool]:
    """(codec, error, redetected): the envelope's codec, or the one detection finds in its bytes."""
    if envelope.protocol and envelope.protocol in by_name:
        return by_name[envelope.protocol], None, False
    try:
        transport = Transport(envelope.transport)
    except ValueError:
        transport = Transport.TCP
    verdict = detect(envelope.data, transport, codecs)
    if isinstance(verdict, NoProtocol):
        prefix = f"unknown protocol {envelope.protocol!r} and " if envelope.protocol else ""
        return None, prefix + verdict.reason, True
    if verdict is Detection.NEED_MORE:
        return None, f"frame of {len(envelope.data)} bytes too short to recognise a protocol", True
    assert not isinstance(verdict, Detection)
    return verdict, None, True


def decode_envelope(envelope: RawFrame, codecs: tuple[Codec, ...] = CODECS,
                    by_name: dict[str, Codec] = BY_NAME) -> DecodedFrame:
    out = DecodedFrame(envelope, protocol=envelope.protocol, device_id=envelope.device_id)
    if envelope.rejected:  # refused by the listener (not authenticated...): never decoded into records
        out.error = f"rejected by the listener: {envelope.rejected}"
        return out
    codec, error, out.redetected = find_codec(envelope, codecs, by_name)
    if codec is None:
        out.error = error
        return out
    out.protocol = codec.name
    try:
        transport = Transport(envelope.transport)
    except ValueError:
        transport = Transport.TCP
    now = datetime.fromtimestamp(envelope.received_at_ms / 1000, timezone.utc)
    session = codec.new_session(transport)
    session.device_id = envelope.device_id
    session.authenticated = True  # the listener accepted the frame (authentication already checked)
    decoded = guarded_decode(codec, envelope.data, session, now)
    out.device_id = envelope.device_id or decoded.device_id or session.device_id
    if decoded.error:
        out.error = decoded.error  # a bug's reason starts "codec bug in <protocol>:"
        out.bug = decoded.bug
        if decoded.bug:  # logged apart from bad device input; the frame is still dead-lettered
            log.error("codec bug decoding frame %s: %s", envelope.frame_id, decoded.error)
        return out
    out.records = number_records(decoded.records, out.device_id, envelope.frame_id)
    out.sequence = decoded.sequence
    return out


def number_records(records, device_id: str | None, frame_id: str) -> list[Record]:
    """The codec's records as new records carrying the device id (if they had none), the frame id
    and their index in the frame; the codec's own objects are left as they are."""
    return [
        replace(record, device_id=record.device_id if record.device_id is not None else device_id,
                frame_id=frame_id, frame_index=index)
        for index, record in enumerate(records)
    ]


def _bad_coordinate(value: float | None, limit: float, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or math.isnan(value) or not -limit <= value <= limit:
        return f"{name} {value!r} out of range [-{limit:g}, {limit:g}]"
    return None


def _bad_coordinates(record: Position | Alert) -> str | None:
    return _bad_coordinate(record.lat, 90, "latitude") or _bad_coordinate(record.lon, 180, "longitude")


def _bad_time(record: Position | Alert, received: datetime, max_future: timedelta) -> str | None:
    if record.time is None:
        return None
    time = record.time if record.time.tzinfo else record.time.replace(tzinfo=timezone.utc)
    ahead = time - received
    if ahead > max_future:
        return (f"fix time {time.isoformat()} is {ahead.total_seconds():.0f}s after reception "
                f"(limit {max_future.total_seconds():.0f}s)")
    return None


def check_fix(record: Record, received: datetime, max_future: timedelta) -> str | None:
    """Why this record's fix is impossible, or None. Records without a fix always pass.

    Impossible: coordinates out of range (or NaN), a fix time more than `max_future` after the
    frame was received. An invalid fix (valid=False) is not impossible: it is kept, marked.
    """
    if not isinstance(record, (Position, Alert)):
        return None
    return _bad_coordinates(record) or _bad_time(record, received, max_future)


_FIX_PLACE = ("lat", "lon", "altitude_m", "speed_kmh", "course_deg", "hdop", "satellites")


def strip_fix(alert: Alert, received: datetime, max_future: timedelta) -> Alert:
    """An alert with an impossible fix keeps its alarm: a new alert without the impossible parts,
    marked invalid."""
    changes: dict = {"valid": False}
    if _bad_coordinates(alert):
        changes.update(dict.fromkeys(_FIX_PLACE))
    if _bad_time(alert, received, max_future):
        changes["time"] = None
    return replace(alert, **changes)
