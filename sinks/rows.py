"""Kafka messages -> ClickHouse rows, and rows -> records again: pure functions, no I/O.

`row_for_message` never raises: a message that is not a record, or a record with a value its column
cannot hold, becomes a dead-letter row (stage "sink") with the reason and the message's bytes.

The de-duplication key `dedup_id` is a 64-bit hash of the record's content without its frame
coordinates (frame_id, frame_index). Together with (device_id, time) it is the tables' ORDER BY,
so ReplacingMergeTree collapses:
- a replayed Kafka message and a processor re-reading the same frame (same content), and
- a device retransmitting a fix it already sent (same device time, same content, new frame),
and keeps two different records of the same device and time apart (their content differs).

A record without a device time gets the Kafka timestamp as `time` (time_from_device = false); its
hash then also covers (frame_id, frame_index), or the Kafka coordinates when it has none, so two
equal heartbeats of different frames stay two rows while a replayed message still collapses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any, Mapping

import msgpack

from schemas import clickhouse as ch
from schemas.alarms import Alarm
from schemas.envelopes import DeadLetter
from schemas.records import SCHEMA_VERSION, Alert, Ble, Cell, Event, Position, Record, Telemetry, Wifi, from_dict, to_dict

SINK_STAGE = "sink"

TABLE_OF: dict[type, str] = {Position: ch.POSITIONS, Alert: ch.ALERTS, Telemetry: ch.TELEMETRY, Event: ch.EVENTS}
RECORD_OF: dict[str, type] = {table: cls for cls, table in TABLE_OF.items()}
COLUMN_NAMES: dict[str, list[str]] = {table: [name for name, _ in cols] for table, cols in ch.COLUMNS.items()}
COLUMN_TYPES: dict[str, list[str]] = {table: [kind for _, kind in cols] for table, cols in ch.COLUMNS.items()}
DEDUP_INDEX: dict[str, int] = {table: names.index("dedup_id") for table, names in COLUMN_NAMES.items()}

_NOT_CONTENT = frozenset({"frame_id", "frame_index", "v"})  # the frame it came in, the schema version
_FIX_SCALARS = ("valid", "lat", "lon", "altitude_m", "speed_kmh", "course_deg", "satellites", "hdop",
                "battery_pct", "rssi", "steps")
_TELEMETRY_SCALARS = ("heart_rate_bpm", "spo2_pct", "bp_systolic_mmhg", "bp_diastolic_mmhg", "body_temp_c",
                      "steps", "battery_pct", "battery_v", "rssi")

U8, U16, U32, U64, I16 = (0, 2**8 - 1), (0, 2**16 - 1), (0, 2**32 - 1), (0, 2**64 - 1), (-(2**15), 2**15 - 1)
# Integer columns and their ranges: a value outside is a bad record, not something to wrap around.
_INT_RANGES = {
    "satellites": U8, "battery_pct": U8, "rssi": I16, "steps": U32, "heart_rate_bpm": U16,
    "bp_systolic_mmhg": U16, "bp_diastolic_mmhg": U16, "repeat_count": U32, "frame_index": U32,
}


class RowError(ValueError):
    """A record that no row of its table can hold (a value outside its column's range)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from. The timestamp stands in for a missing device time."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None = None


def _checked(name: str, value: Any, bounds: tuple[int, int]) -> Any:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise RowError(f"{name}={value!r} is outside {bounds[0]}..{bounds[1]}")
    return value


def _scalar(record: Record, name: str) -> Any:
    value = getattr(record, name)
    bounds = _INT_RANGES.get(name)
    return value if bounds is None else _checked(name, value, bounds)


class _Scalars:
    """Reads named fields of a record in one go (attrgetter) and range-checks the integer ones."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._get = attrgetter(*names)
        self._checks = [(i, name, _INT_RANGES[name]) for i, name in enumerate(names) if name in _INT_RANGES]

    def __call__(self, record: Record) -> list[Any]:
        values = self._get(record)
        for i, name, bounds in self._checks:
            if values[i] is not None:
                _checked(name, values[i], bounds)
        return list(values)


_fix_scalars = _Scalars(_FIX_SCALARS)
_telemetry_scalars = _Scalars(_TELEMETRY_SCALARS)


def _hash(*parts: Any) -> int:
    packed = msgpack.packb(parts, use_bin_type=True)
    return int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "little")


def dedup_id(record: Record, source: Source | None = None, wire: dict[str, Any] | None = None) -> int:
    """The record's de-duplication hash (see the module docstring).

    `wire`: the record's decoded msgpack map, when at hand; it is `to_dict(record)` plus `v`, so the
    hash is the same either way, and the sink saves building the dict a second time.
    """
    body = to_dict(record) if wire is None else wire
    # Field order is the record's (to_dict's, and so the wire's): no sorting needed.
    content = {k: v for k, v in body.items() if k not in _NOT_CONTENT}
    if record.time is not None:
        return _hash(content)
    if record.frame_id is not None:
        return _hash(content, "frame", record.frame_id, record.frame_index)
    if source is None:
        return _hash(content)
    return _hash(content, "kafka", source.topic, source.partition, source.offset)


def _time_of(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _head(record: Record, source: Source | None, wire: dict[str, Any] | None) -> list[Any]:
    if record.time is not None:
        time, from_device = record.time, True
    elif source is not None:
        time, from_device = _time_of(source.timestamp_ms), False
    else:
        raise RowError("record has no time and no Kafka timestamp to stand in for it")
    return [record.device_id or "", time, from_device, dedup_id(record, source, wire), record.protocol]


def _fix(record: Position | Alert) -> list[Any]:
    cells = [(_checked("cell.mcc", c.mcc, U16), _checked("cell.mnc", c.mnc, U16), _checked("cell.lac", c.lac, U32),
              _checked("cell.cid", c.cid, U64), _checked("cell.rssi", c.rssi, I16)) for c in record.cells]
    wifi = [(w.mac, _checked("wifi.rssi", w.rssi, I16), w.ssid) for w in record.wifi]
    ble = [(b.mac, _checked("ble.rssi", b.rssi, I16)) for b in record.ble]
    return _fix_scalars(record) + [cells, wifi, ble, [a.value for a in record.alarms]]


def _frame(record: Record) -> list[Any]:
    return [record.frame_id, _checked("frame_index", record.frame_index, U32)]


def row_for_record(record: Record, source: Source | None = None, wire: dict[str, Any] | None = None
                   ) -> tuple[str, list[Any]]:
    """(table, row) with the row's values in COLUMN_NAMES[table] order. Raises RowError."""
    head = _head(record, source, wire)
    if isinstance(record, Alert):
        episode = [record.state, _scalar(record, "repeat_count"), record.first_time, record.last_time]
        return ch.ALERTS, head + [record.alarm.value] + _fix(record) + episode + _frame(record)
    if isinstance(record, Position):
        return ch.POSITIONS, head + _fix(record) + _frame(record)
    if isinstance(record, Telemetry):
        return ch.TELEMETRY, head + _telemetry_scalars(record) + _frame(record)
    if isinstance(record, Event):
        details = json.dumps(record.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rest = [record.event, _scalar(record, "battery_pct"), _scalar(record, "rssi"), record.text, details]
        return ch.EVENTS, head + rest + _frame(record)
    raise RowError(f"not a record: {type(record).__name__}")


def row_for_dead_letter(letter: DeadLetter) -> list[Any]:
    return [
        _time_of(letter.at_ms), letter.stage, letter.reason, _hash(letter.to_msgpack()), bytes(letter.data),
        letter.protocol, letter.device_id, letter.peer, letter.frame_id, letter.source_topic,
    ]


def _key_device(key: bytes | None) -> str | None:
    if not key:
        return None
    try:
        text = key.decode()
    except UnicodeDecodeError:
        return None
    return None if text.startswith("conn:") else text


def sink_dead_letter(reason: str, value: bytes | None, source: Source) -> DeadLetter:
    """What the sink keeps of a message it cannot store. `at` is the message's Kafka timestamp, so
    a replay of the same message collapses onto the same dead-letter row."""
    return DeadLetter(stage=SINK_STAGE, reason=reason, data=value or b"", at_ms=source.timestamp_ms,
                      device_id=_key_device(source.key), source_topic=source.topic)


def row_for_message(value: bytes | None, source: Source, *, dead_letters: bool) -> tuple[str, list[Any], str | None]:
    """(table, row, problem) for one Kafka message; `problem` is None unless it became a dead letter.

    `dead_letters`: the message is from the dead-letter topic (a DeadLetter envelope), else a record.
    """
    if value is None:
        problem = "empty message (null value)"
    else:
        try:
            if dead_letters:
                return ch.DEAD_LETTERS, row_for_dead_letter(DeadLetter.from_msgpack(value)), None
            wire = msgpack.unpackb(value, raw=False)
            if not isinstance(wire, dict) or wire.get("v") != SCHEMA_VERSION:
                version = wire.get("v") if isinstance(wire, dict) else None
                raise ValueError(f"unsupported record schema version {version!r} (this build reads {SCHEMA_VERSION})")
            table, row = row_for_record(from_dict(wire), source, wire)
            return table, row, None
        except RowError as exc:
            problem = f"unstorable record: {exc}"
        except Exception as exc:  # anything a malformed message can raise while decoding
            what = "dead letter" if dead_letters else "record"
            problem = f"undecodable {what}: {type(exc).__name__}: {exc}"
    return ch.DEAD_LETTERS, row_for_dead_letter(sink_dead_letter(problem, value, source)), problem


# -- back again: rows read from ClickHouse -> records (tests, tools) ------------------------------------
_NESTED = {"cells": Cell, "wifi": Wifi, "ble": Ble}


def record_from_row(table: str, row: Mapping[str, Any]) -> Record:
    """The record a row of `table` was made from (frame fields and all); inverse of row_for_record."""
    cls = RECORD_OF[table]
    names = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for name in COLUMN_NAMES[table]:
        if name not in names:
            continue
        value = row[name]
        if name in _NESTED:
            value = [_NESTED[name](**item) for item in value]
        elif name == "alarms":
            value = [Alarm(a) for a in value]
        elif name == "alarm":
            value = Alarm(value)
        elif name == "details":
            value = json.loads(value)
        values[name] = value
    values["device_id"] = row["device_id"] or None
    values["time"] = row["time"] if row["time_from_device"] else None
    return cls(**values)


def dead_letter_from_row(row: Mapping[str, Any]) -> DeadLetter:
    at: datetime = row["at"]
    return DeadLetter(
        stage=row["stage"], reason=row["reason"], data=bytes(row["data"]), at_ms=round(at.timestamp() * 1000),
        protocol=row["protocol"], device_id=row["device_id"], peer=row["peer"], frame_id=row["frame_id"],
        source_topic=row["source_topic"],
    )
