"""The sink's former record-by-record mapping (Record attributes -> row), kept as the tests' reference.

sinks/rows.py now maps a record's wire map straight to its row (and columns); this is the mapping it
replaced, written against the typed Record instead, so a test can check that both give the same
row for every sample: the same column values, the same dedup_id. Not used by the sink.
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Any

from schemas import clickhouse as ch
from schemas.records import Alert, Event, Position, Record, Telemetry, to_dict
from sinks.rows import I16, U16, U32, U64, RowError, Source, _hash, _time_of  # the hash itself is shared

_INT_RANGES = {
    "satellites": (0, 255), "battery_pct": (0, 255), "rssi": I16, "steps": U32, "heart_rate_bpm": U16,
    "bp_systolic_mmhg": U16, "bp_diastolic_mmhg": U16, "repeat_count": U32, "frame_index": U32,
}
_FIX_SCALARS = ("valid", "lat", "lon", "altitude_m", "speed_kmh", "course_deg", "satellites", "hdop",
                "battery_pct", "rssi", "steps")
_TELEMETRY_SCALARS = ("heart_rate_bpm", "spo2_pct", "bp_systolic_mmhg", "bp_diastolic_mmhg", "body_temp_c",
                      "steps", "battery_pct", "battery_v", "rssi")


def _checked(name: str, value: Any, bounds: tuple[int, int]) -> Any:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise RowError(f"{name}={value!r} is outside {bounds[0]}..{bounds[1]}")
    return value


def _scalars(record: Record, names: tuple[str, ...]) -> list[Any]:
    return [_checked(name, value, _INT_RANGES[name]) if name in _INT_RANGES else value
            for name, value in zip(names, attrgetter(*names)(record))]


def reference_dedup_id(record: Record, source: Source | None = None) -> int:
    content = {k: v for k, v in to_dict(record).items() if k not in ("frame_id", "frame_index", "v")}
    if record.time is not None:
        return _hash(content)
    if record.frame_id is not None:
        return _hash(content, "frame", record.frame_id, record.frame_index)
    if source is None:
        return _hash(content)
    return _hash(content, "kafka", source.topic, source.partition, source.offset)


def _head(record: Record, source: Source | None) -> list[Any]:
    if record.time is not None:
        time, from_device = record.time, True
    elif source is not None:
        time, from_device = _time_of(source.timestamp_ms), False
    else:
        raise RowError("record has no time and no Kafka timestamp to stand in for it")
    return [record.device_id or "", time, from_device, reference_dedup_id(record, source), record.protocol]


def _fix(record: Position | Alert) -> list[Any]:
    cells = [(_checked("cell.mcc", c.mcc, U16), _checked("cell.mnc", c.mnc, U16), _checked("cell.lac", c.lac, U32),
              _checked("cell.cid", c.cid, U64), _checked("cell.rssi", c.rssi, I16)) for c in record.cells]
    wifi = [(w.mac, _checked("wifi.rssi", w.rssi, I16), w.ssid) for w in record.wifi]
    ble = [(b.mac, _checked("ble.rssi", b.rssi, I16)) for b in record.ble]
    return _scalars(record, _FIX_SCALARS) + [cells, wifi, ble, [a.value for a in record.alarms]]


def _frame(record: Record) -> list[Any]:
    return [record.frame_id, _checked("frame_index", record.frame_index, U32)]


def reference_row(record: Record, source: Source | None = None) -> tuple[str, list[Any]]:
    head = _head(record, source)
    if isinstance(record, Alert):
        episode = [record.state, _checked("repeat_count", record.repeat_count, U32), record.first_time,
                   record.last_time]
        return ch.ALERTS, head + [record.alarm.value] + _fix(record) + episode + _frame(record)
    if isinstance(record, Position):
        return ch.POSITIONS, head + _fix(record) + _frame(record)
    if isinstance(record, Telemetry):
        return ch.TELEMETRY, head + _scalars(record, _TELEMETRY_SCALARS) + _frame(record)
    if isinstance(record, Event):
        details = json.dumps(record.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rest = [record.event, _checked("battery_pct", record.battery_pct, (0, 255)),
                _checked("rssi", record.rssi, I16), record.text, details]
        return ch.EVENTS, head + rest + _frame(record)
    raise RowError(f"not a record: {type(record).__name__}")
