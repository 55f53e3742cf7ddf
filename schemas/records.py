"""Typed records produced by the codecs and carried on every topic.

One msgpack encoding (`to_msgpack`/`from_msgpack`) and one JSON form (`to_json_dict`), with the same
field names everywhere: topics, ClickHouse columns and `trackwire decode` output. Absent values are
omitted (never 0). Times are UTC; on the wire they are ISO-8601 strings with milliseconds and `Z`,
so a consumer in any language can read them without a msgpack extension type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Union

import msgpack

from schemas.alarms import SOS_ALARMS, Alarm

SCHEMA_VERSION = 1


def format_time(value: datetime) -> str:
    """UTC ISO-8601 with milliseconds and `Z`: 2024-05-01T10:20:30.000Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    elif value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
            f"{value.second:02d}.{value.microsecond // 1000:03d}Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(slots=True, frozen=True)
class Cell:
    """A GSM/UMTS/LTE cell the device sees. `lac` doubles as TAC on LTE."""

    mcc: int
    mnc: int
    lac: int
    cid: int
    rssi: int | None = None


@dataclass(slots=True, frozen=True)
class Wifi:
    mac: str  # lower-case, colon separated: "aa:bb:cc:dd:ee:ff"
    rssi: int | None = None
    ssid: str | None = None


@dataclass(slots=True, frozen=True)
class Ble:
    mac: str
    rssi: int | None = None


@dataclass(slots=True, kw_only=True)
class _Common:
    protocol: str
    device_id: str | None = None
    time: datetime | None = None
    # Set by the processors: the raw frame this record came from and its index among the records
    # produced for that frame, so every later stage can de-duplicate on (frame_id, frame_index).
    frame_id: str | None = None
    frame_index: int | None = None


@dataclass(slots=True, kw_only=True)
class _Fix(_Common):
    """Location fields shared by positions and alerts that carry a fix."""

    valid: bool | None = None
    lat: float | None = None
    lon: float | None = None
    altitude_m: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    battery_pct: int | None = None
    rssi: int | None = None
    steps: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    ble: list[Ble] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)

    def has_location(self) -> bool:
        return (self.lat is not None and self.lon is not None) or bool(self.cells or self.wifi or self.ble)


@dataclass(slots=True, kw_only=True)
class Position(_Fix):
    type: ClassVar[str] = "position"


@dataclass(slots=True, kw_only=True)
class Alert(_Fix):
    type: ClassVar[str] = "alert"
    alarm: Alarm
    # Episodes, set by the processors: SOS/fall repeats folded into one alert, and derived alerts
    # (offline, thresholds) raised once ("open") and "cleared" when the condition ends.
    state: str | None = None  # "open" | "cleared"
    repeat_count: int | None = None
    first_time: datetime | None = None
    last_time: datetime | None = None

    @classmethod
    def from_fix(cls, fix: _Fix, alarm: Alarm) -> "Alert":
        values = {f.name: getattr(fix, f.name) for f in dataclasses.fields(_Fix)}
        return cls(alarm=alarm, **values)


def is_sos(record: object) -> bool:
    """An SOS or fall alert: the alerts alerting consumers act on at once (schemas.alarms.SOS_ALARMS)."""
    return isinstance(record, Alert) and record.alarm in SOS_ALARMS


@dataclass(slots=True, kw_only=True)
class Telemetry(_Common):
    type: ClassVar[str] = "telemetry"
    heart_rate_bpm: int | None = None
    spo2_pct: float | None = None
    bp_systolic_mmhg: int | None = None
    bp_diastolic_mmhg: int | None = None
    body_temp_c: float | None = None
    steps: int | None = None
    battery_pct: int | None = None
    battery_v: float | None = None
    rssi: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self) if f.name not in ("protocol", "device_id", "time"))


@dataclass(slots=True, kw_only=True)
class Event(_Common):
    """Anything that is neither a fix, an alarm nor a reading: login, heartbeat, command result...

    `event` names it; `text` carries a device's free-text answer (command results, errors);
    `details` holds the few protocol-specific scalars that have no column of their own.
    """

    type: ClassVar[str] = "event"
    event: str
    battery_pct: int | None = None
    rssi: int | None = None
    text: str | None = None
    details: dict[str, Union[str, int, float, bool]] = field(default_factory=dict)


Record = Union[Position, Alert, Telemetry, Event]
RECORD_TYPES: dict[str, type] = {cls.type: cls for cls in (Position, Alert, Telemetry, Event)}
_NESTED = {"cells": Cell, "wifi": Wifi, "ble": Ble}
_TIMES = ("time", "first_time", "last_time")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of `cls`, in order (cached: `dataclasses.fields` is slow per call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in (str, int, float, bool):
        return value
    if kind is datetime:
        return format_time(value)
    if isinstance(value, Alarm):
        return value.value
    if kind is list:
        return [_plain(v) for v in value]
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return {name: _plain(v) for name in field_names(kind) if (v := getattr(value, name)) is not None}
    return value


def to_dict(record: Record) -> dict[str, Any]:
    """Plain dict, `type` first; None values and empty lists/dicts are omitted.

    This runs for every record a processor publishes, so the common scalar case is tested first
    and field names come from a cache (the profile showed dataclasses.fields/is_dataclass on top).
    """
    out: dict[str, Any] = {"type": record.type}
    for name in field_names(type(record)):
        value = getattr(record, name)
        if value is None:
            continue
        kind = type(value)
        if kind in (str, int, float, bool):
            out[name] = value
        elif kind is list or kind is dict:
            if value:
                out[name] = _plain(value)
        else:
            out[name] = _plain(value)
    return out


def to_json_dict(record: Record) -> dict[str, Any]:
    return to_dict(record)


def to_msgpack(record: Record) -> bytes:
    body = to_dict(record)
    body["v"] = SCHEMA_VERSION
    return msgpack.packb(body, use_bin_type=True)


def from_dict(data: dict[str, Any]) -> Record:
    data = dict(data)
    data.pop("v", None)
    cls = RECORD_TYPES[data.pop("type")]
    for name in _TIMES:
        if data.get(name) is not None:
            data[name] = parse_time(data[name])
    for name, nested in _NESTED.items():
        if name in data:
            data[name] = [nested(**item) for item in data[name]]
    if "alarms" in data:
        data["alarms"] = [Alarm(a) for a in data["alarms"]]
    if "alarm" in data:
        data["alarm"] = Alarm(data["alarm"])
    return cls(**data)


def from_msgpack(payload: bytes) -> Record:
    data = msgpack.unpackb(payload, raw=False)
    version = data.get("v")
    if version != SCHEMA_VERSION:
        raise ValueError(f"unsupported record schema version {version!r} (this build reads {SCHEMA_VERSION})")
    return from_dict(data)
