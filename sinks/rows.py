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
from dataclasses import MISSING, dataclass, fields
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import msgpack

from schemas import clickhouse as ch
from schemas.alarms import Alarm
from schemas.envelopes import DeadLetter
from schemas.records import SCHEMA_VERSION, Alert, Ble, Cell, Event, Position, Record, Telemetry, Wifi, parse_time, to_dict

SINK_STAGE = "sink"

TABLE_OF: dict[type, str] = {Position: ch.POSITIONS, Alert: ch.ALERTS, Telemetry: ch.TELEMETRY, Event: ch.EVENTS}
RECORD_OF: dict[str, type] = {table: cls for cls, table in TABLE_OF.items()}
COLUMN_NAMES: dict[str, list[str]] = {table: [name for name, _ in cols] for table, cols in ch.COLUMNS.items()}
COLUMN_TYPES: dict[str, list[str]] = {table: [kind for _, kind in cols] for table, cols in ch.COLUMNS.items()}
DEDUP_INDEX: dict[str, int] = {table: names.index("dedup_id") for table, names in COLUMN_NAMES.items()}

_NOT_CONTENT = frozenset({"frame_id", "frame_index", "v"})  # the frame it came in, the schema version

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


def _hash(*parts: Any) -> int:
    packed = msgpack.packb(parts, use_bin_type=True)
    return int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "little")


# -- the mapping: a record's wire map (its msgpack map, to_dict's form) -> its table row ----------------
# One mapping for both ways in: a Kafka message is mapped from its decoded map without building a
# Record (the profile blamed from_dict and the Record for a third of the sink's time), and a Record
# goes through to_dict first. Each table's readers are generated from its columns (schemas/clickhouse
# COLUMNS) and the record's dataclass fields, so a new column or field cannot be forgotten here.

_NESTED = {"cells": Cell, "wifi": Wifi, "ble": Ble}
_NESTED_PREFIX = {"cells": "cell", "wifi": "wifi", "ble": "ble"}
_NESTED_RANGES = {"cells": {"mcc": U16, "mnc": U16, "lac": U32, "cid": U64, "rssi": I16},
                  "wifi": {"rssi": I16}, "ble": {"rssi": I16}}
_ALARM_VALUES = frozenset(a.value for a in Alarm)
_TIME_COLUMNS = ("first_time", "last_time")  # `time` itself is a head column
_HEAD_COLUMNS = ("device_id", "time", "time_from_device", "dedup_id", "protocol")


def _alarm(value: Any) -> str:
    if value not in _ALARM_VALUES:
        raise ValueError(f"{value!r} is not a valid Alarm")
    return value


def _alarms(values: Any) -> list[str]:
    return [_alarm(a) for a in values]


def _details(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else parse_time(value)


def _fields(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """(field names in order, the required ones: no default)."""
    names = tuple(f.name for f in fields(cls))
    required = frozenset(f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    return names, required


def _field_problem(what: str, keys: Any, allowed: frozenset[str], required: frozenset[str]) -> str:
    unknown, missing = sorted(map(str, keys - allowed)), sorted(required - keys)
    return "; ".join(([f"{what} has unknown fields {unknown}"] if unknown else [])
                     + ([f"{what} lacks required fields {missing}"] if missing else []))


def _nested_reader(column: str) -> Callable[[Any], list[tuple]]:
    """Items of a nested list (cells, wifi, ble) -> tuples in their dataclass's field order, checked
    as the dataclass would be built (required fields, no unknown ones) and range-checked."""
    cls = _NESTED[column]
    names, required = _fields(cls)
    allowed = frozenset(names)
    prefix = _NESTED_PREFIX[column]
    checks = [(i, f"{prefix}.{name}", _NESTED_RANGES[column][name]) for i, name in enumerate(names)
              if name in _NESTED_RANGES[column]]

    def read(items: Any) -> list[tuple]:
        out = []
        for item in items:
            keys = item.keys()
            if not required <= keys or not keys <= allowed:
                raise TypeError(_field_problem(f"{cls.__name__} item", keys, allowed, required))
            values = tuple(map(item.get, names))
            for i, what, bounds in checks:
                value = values[i]
                if value is not None and not bounds[0] <= value <= bounds[1]:
                    raise RowError(f"{what}={value!r} is outside {bounds[0]}..{bounds[1]}")
            out.append(values)
        return out
    return read


# Columns whose wire value needs more than a range check, by column name.
_CONVERT: dict[str, Callable[[Any], Any]] = {
    **{name: _nested_reader(name) for name in _NESTED},
    "alarms": _alarms, "alarm": _alarm, "details": _details,
    **{name: _optional_time for name in _TIME_COLUMNS},
}
# Defaults of absent wire values (to_dict omits None and empty lists/dicts).
_ABSENT = {"cells": (), "wifi": (), "ble": (), "alarms": (), "details": {}}


@dataclass(frozen=True, slots=True)
class _TableMapping:
    """How one record type's wire map becomes a row of its table."""

    table: str
    record: type
    tail: tuple[str, ...]  # the columns after the head, in COLUMN_NAMES order
    allowed: frozenset[str]  # wire keys a record of this type may have
    required: frozenset[str]
    # (index in tail, name, value when the wire omits it, conversion): every column but a plain scalar
    convert: tuple[tuple[int, str, Any, Callable[[Any], Any]], ...]
    checks: tuple[tuple[int, str, tuple[int, int]], ...]  # (index in tail, name, integer range)


def _mapping(cls: type, table: str) -> _TableMapping:
    names, required = _fields(cls)
    columns = COLUMN_NAMES[table]
    # Checked at import, so a schema change that the mapping does not follow fails every test at once.
    if tuple(columns[:len(_HEAD_COLUMNS)]) != _HEAD_COLUMNS:
        raise RuntimeError(f"{table}: the head columns are not {_HEAD_COLUMNS}")
    tail = tuple(columns[len(_HEAD_COLUMNS):])
    missing = set(names) - set(columns)
    if missing:
        raise RuntimeError(f"{cls.__name__} fields without a column in {table}: {sorted(missing)}")
    return _TableMapping(
        table=table, record=cls, tail=tail, allowed=frozenset(names) | {"type", "v"}, required=required,
        convert=tuple((i, name, _ABSENT.get(name), _CONVERT[name]) for i, name in enumerate(tail) if name in _CONVERT),
        checks=tuple((i, name, _INT_RANGES[name]) for i, name in enumerate(tail) if name in _INT_RANGES),
    )


MAPPINGS: dict[str, _TableMapping] = {cls.type: _mapping(cls, table) for cls, table in TABLE_OF.items()}


def _content_hash(wire: dict[str, Any], source: Source | None) -> int:
    # The content is the wire map without its frame coordinates and version, in the wire's (to_dict's)
    # field order: no sorting needed. A copy and three pops beat a dict comprehension per record.
    content = dict(wire)
    for name in _NOT_CONTENT:
        content.pop(name, None)
    if wire.get("time") is not None:
        return _hash(content)
    frame_id = wire.get("frame_id")
    if frame_id is not None:
        return _hash(content, "frame", frame_id, wire.get("frame_index"))
    if source is None:
        return _hash(content)
    return _hash(content, "kafka", source.topic, source.partition, source.offset)


def row_for_wire(wire: dict[str, Any], source: Source | None = None) -> tuple[str, list[Any]]:
    """(table, row) for a record's wire map, the row's values in COLUMN_NAMES[table] order.

    Raises RowError (a value its column cannot hold) or another exception for a map that is no
    record (an unknown type, unknown or missing fields, an unknown alarm, a bad time).
    """
    mapping = MAPPINGS[wire["type"]]
    keys = wire.keys()
    if not keys <= mapping.allowed or not mapping.required <= keys:
        raise TypeError(_field_problem(mapping.record.__name__, keys, mapping.allowed, mapping.required))
    text = wire.get("time")
    if text is not None:
        time, from_device = parse_time(text), True
    elif source is not None:
        time, from_device = _time_of(source.timestamp_ms), False
    else:
        raise RowError("record has no time and no Kafka timestamp to stand in for it")
    tail = list(map(wire.get, mapping.tail))
    for i, name, absent, convert in mapping.convert:
        tail[i] = convert(wire.get(name, absent))
    for i, name, bounds in mapping.checks:
        value = tail[i]
        if value is not None and not bounds[0] <= value <= bounds[1]:
            raise RowError(f"{name}={value!r} is outside {bounds[0]}..{bounds[1]}")
    head = [wire.get("device_id") or "", time, from_device, _content_hash(wire, source), wire["protocol"]]
    return mapping.table, head + tail


def dedup_id(record: Record, source: Source | None = None, wire: dict[str, Any] | None = None) -> int:
    """The record's de-duplication hash (see the module docstring).

    `wire`: the record's decoded msgpack map, when at hand; it is `to_dict(record)` plus `v`, so the
    hash is the same either way.
    """
    return _content_hash(to_dict(record) if wire is None else wire, source)


def _time_of(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def row_for_record(record: Record, source: Source | None = None) -> tuple[str, list[Any]]:
    """(table, row) with the row's values in COLUMN_NAMES[table] order. Raises RowError.

    The same mapping as a Kafka message's (row_for_wire), over the record's wire form."""
    if type(record) not in TABLE_OF:
        raise RowError(f"not a record: {type(record).__name__}")
    return row_for_wire(to_dict(record), source)


def columns_for_rows(table: str, rows: list[list[Any]]) -> list[Sequence[Any]]:
    """A table's rows turned into its columns (COLUMN_NAMES[table] order), for a column-oriented insert.

    The sink inserts rows: on chdb this pivot plus `column_oriented=True` measured more CPU per row
    than clickhouse-connect's own pivot; benchmarks/bench_sink.py keeps measuring both."""
    width = len(COLUMN_NAMES[table])
    if not rows:
        return [[] for _ in range(width)]
    return list(zip(*rows, strict=True))  # tuples: clickhouse-connect takes any sequence per column


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
            table, row = row_for_wire(wire, source)
            return table, row, None
        except RowError as exc:
            problem = f"unstorable record: {exc}"
        except Exception as exc:  # anything a malformed message can raise while decoding
            what = "dead letter" if dead_letters else "record"
            problem = f"undecodable {what}: {type(exc).__name__}: {exc}"
    return ch.DEAD_LETTERS, row_for_dead_letter(sink_dead_letter(problem, value, source)), problem


# -- back again: rows read from ClickHouse -> records (tests, tools) ------------------------------------


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
