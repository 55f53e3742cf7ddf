"""The analysts' queries of the README's analysts' section, run as written against the embedded engine.

The SQL is read from the document, so the document and this test cannot drift apart. Each query's
data has the traps the query must not fall into: retransmitted copies, invalid fixes, other devices,
other days, alerts of other kinds.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from schemas import clickhouse as ch
from schemas.alarms import Alarm
from schemas.records import Alert, Event, Position, Telemetry
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, Source, row_for_record

DOC = Path(__file__).resolve().parents[2] / "README.md"
DAY = date(2024, 5, 1)
NOW = datetime.now(timezone.utc).replace(microsecond=0)
A, B, C, D = "dev-a", "dev-b", "dev-c", "dev-d"


def queries() -> dict[str, str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    named = {}
    for block in blocks:
        found = re.match(r"-- name: (\w+)\n", block)
        assert found, f"every sql block in {DOC.name} starts with '-- name: ...':\n{block}"
        named[found.group(1)] = block
    return named


QUERIES = queries()


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=timezone.utc)


def pos(device, time, lat, lon, **kw) -> Position:
    kw.setdefault("valid", True)
    return Position(protocol="gt06", device_id=device, time=time, lat=lat, lon=lon, **kw)


def hr(device, time, bpm, **kw) -> Telemetry:
    return Telemetry(protocol="watch", device_id=device, time=time, heart_rate_bpm=bpm, **kw)


def sos(device, time, **kw) -> Alert:
    return Alert(protocol="watch", device_id=device, time=time, alarm=Alarm.SOS, **kw)


def again(record, frame="retransmitted"):
    return dataclasses.replace(record, frame_id=frame)


B_SOS_START = NOW - timedelta(hours=2)
B_OPEN = sos(B, B_SOS_START, lat=48.1, lon=11.5, state="open", repeat_count=1, first_time=B_SOS_START,
             last_time=B_SOS_START, frame_id="b1")
B_CLEARED = sos(B, B_SOS_START + timedelta(seconds=60), lat=48.2, lon=11.6, state="cleared", repeat_count=4,
                first_time=B_SOS_START, last_time=B_SOS_START + timedelta(seconds=60), frame_id="b2")
C_SOS = NOW - timedelta(hours=3)
D_FALL = NOW - timedelta(minutes=10)

RECORDS = [
    # dev-a, the day of its track: fixes every 20 minutes from 08:00, one of them sent twice,
    # an invalid fix, a network-only fix (no coordinates), and fixes of the day after
    *[pos(A, at(8, m), 52.0 + m / 1000, 13.0 + m / 1000, speed_kmh=float(m), frame_id=f"a{m}") for m in (0, 20, 40)],
    again(pos(A, at(8, 20), 52.02, 13.02, speed_kmh=20.0, frame_id="a20")),
    pos(A, at(8, 30), 0.0, 0.0, valid=False),
    Position(protocol="gt06", device_id=A, time=at(8, 50)),
    pos(A, at(0, 5, DAY + timedelta(days=1)), 52.5, 13.5),
    pos(B, at(8, 10), 40.0, -3.0),  # another device, the same day
    # dev-a heart rate: 08:00 70, 08:30 80 (sent twice), 09:15 100, 09:20 a reading without heart rate
    hr(A, at(8, 0), 70), hr(A, at(8, 30), 80, frame_id="x"), hr(A, at(8, 30), 80, frame_id="y"), hr(A, at(9, 15), 100),
    Telemetry(protocol="watch", device_id=A, time=at(9, 20), spo2_pct=95.5, battery_pct=40),
    hr(B, at(8, 5), 150),
    sos(A, NOW - timedelta(days=3), lat=1.0, lon=1.0, valid=True),  # too old for the last 24 hours
    # dev-b: an SOS episode 2 h ago (opening alert retransmitted), a low-battery alert, alive 5 min ago
    B_OPEN, again(B_OPEN), B_CLEARED,
    Alert(protocol="watch", device_id=B, time=NOW - timedelta(hours=1), alarm=Alarm.LOW_BATTERY, lat=48.3, lon=11.7),
    pos(B, NOW - timedelta(minutes=5), 48.4, 11.8, battery_pct=66),
    # dev-c: an SOS without a fix 3 h ago; a fix 10 min before it and one after it; silent for 2 h
    pos(C, C_SOS - timedelta(minutes=10), 35.0, 139.0),
    sos(C, C_SOS, state="open", repeat_count=1, first_time=C_SOS, last_time=C_SOS),
    pos(C, NOW - timedelta(hours=2), 35.5, 139.5, battery_pct=12),
    # dev-d: a fall 10 min ago, no fix ever; a reading 30 min ago; an event without a device time
    Alert(protocol="watch", device_id=D, time=D_FALL, alarm=Alarm.FALL, state="open", repeat_count=1,
          first_time=D_FALL, last_time=D_FALL),
    hr(D, NOW - timedelta(minutes=30), 65),
    Event(protocol="watch", device_id=D, event="heartbeat", frame_id="hb1"),
]


@pytest.fixture
def db(ch_client, ch_database):
    ch.migrate(ch_client, ch_database, ttl_days=0)
    by_table: dict[str, list] = {}
    kafka_time = int((NOW - timedelta(minutes=20)).timestamp() * 1000)  # stands in for a missing device time
    for offset, record in enumerate(RECORDS):
        table, row = row_for_record(record, Source("events", 0, offset, kafka_time))
        by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        ch_client.insert(table, rows, column_names=COLUMN_NAMES[table], column_type_names=COLUMN_TYPES[table],
                         database=ch_database)
    return ch_database


def run(client, db, name, **parameters):
    sql = QUERIES[name].replace("trackwire.", f"{db}.")
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, row)) for row in result.result_rows]


def test_the_document_has_the_queries_analysts_run():
    assert {"device_track_for_a_day", "sos_alerts_last_24_hours", "heart_rate_per_hour",
            "devices_silent_over_an_hour"} <= set(QUERIES)


def test_device_track_for_a_day(ch_client, db):
    rows = run(ch_client, db, "device_track_for_a_day", device_id=A, day=DAY)
    assert [(r["time"], r["lat"], r["lon"], r["speed_kmh"]) for r in rows] == [
        (at(8, 0), 52.0, 13.0, 0.0), (at(8, 20), 52.02, 13.02, 20.0), (at(8, 40), 52.04, 13.04, 40.0)]


def test_sos_alerts_last_24_hours_with_location(ch_client, db):
    rows = run(ch_client, db, "sos_alerts_last_24_hours")
    got = [(r["device_id"], r["alarm"], r["started"], r["presses"], r["state"], r["lat"], r["lon"], r["located_by"])
           for r in rows]
    assert got == [
        (D, "fall", D_FALL, 1, "open", None, None, "unknown"),
        (B, "sos", B_SOS_START, 4, "cleared", 48.2, 11.6, "alert"),  # the newest fix of the episode
        (C, "sos", C_SOS, 1, "open", 35.0, 139.0, "last fix before"),
    ]
    assert rows[1]["last_alarm"] == B_SOS_START + timedelta(seconds=60)


def test_heart_rate_per_hour(ch_client, db):
    rows = run(ch_client, db, "heart_rate_per_hour", device_id=A, day=DAY)
    assert [(r["hour"], r["readings"], r["avg_bpm"], r["min_bpm"], r["max_bpm"]) for r in rows] == [
        (at(8), 2, 75.0, 70, 80), (at(9), 1, 100.0, 100, 100)]


def test_health_hourly_rollup(ch_client, db):
    rows = run(ch_client, db, "health_hourly_rollup", day=DAY)
    got = [(r["device_id"], r["hour"], r["readings"], r["heart_rate_readings"], r["heart_rate_min"],
            r["heart_rate_max"], r["spo2_min"], r["battery_min"]) for r in rows]
    assert got == [
        (A, at(8), 2, 2, 70, 80, None, None),  # the copy of the 08:30 reading is not counted
        (A, at(9), 2, 1, 100, 100, 95.5, 40),
        (B, at(8), 1, 1, 150, 150, None, None),
    ]


def test_devices_silent_over_an_hour(ch_client, db):
    rows = run(ch_client, db, "devices_silent_over_an_hour")
    got = [(r["device_id"], r["last_seen"], r["last_lat"], r["last_battery_pct"]) for r in rows]
    assert got == [
        (A, NOW - timedelta(days=3), 1.0, None),  # its old SOS alert is its newest record, and fix
        (C, NOW - timedelta(hours=2), 35.5, 12),
    ]
    # NOW was taken when the module was imported; the suite may have run for minutes since.
    since_import = int((datetime.now(timezone.utc) - NOW).total_seconds() // 60)
    assert 119 <= rows[1]["silent_minutes"] <= 121 + since_import


def test_latest_position_per_device(ch_client, db):
    rows = run(ch_client, db, "latest_position_per_device")
    assert [(r["device_id"], r["lat"], r["lon"], r["source"]) for r in rows] == [
        (A, 1.0, 1.0, "alert"), (B, 48.4, 11.8, "position"), (C, 35.5, 139.5, "position")]  # none for dev-d


def test_dead_letters_last_24_hours(ch_client, db):
    assert run(ch_client, db, "dead_letters_last_24_hours") == []
