"""Records for the sink tests: every column filled somewhere, absent values elsewhere."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schemas.alarms import Alarm
from schemas.envelopes import DeadLetter
from schemas.records import Alert, Ble, Cell, Event, Position, Telemetry, Wifi

T0 = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=timezone.utc)


def position(device_id: str = "359339080000001", seconds: int = 0, frame: str = "l1-c1-1", **changes) -> Position:
    values = dict(
        protocol="gt06", device_id=device_id, time=T0 + timedelta(seconds=seconds), frame_id=frame, frame_index=0,
        valid=True, lat=-33.868820, lon=151.209296, altitude_m=58.5, speed_kmh=4.25, course_deg=270.0, satellites=9,
        hdop=0.9, battery_pct=87, rssi=-71, steps=1234,
        cells=[Cell(mcc=505, mnc=1, lac=12345, cid=987654321, rssi=-80), Cell(mcc=505, mnc=1, lac=12345, cid=42)],
        wifi=[Wifi(mac="aa:bb:cc:dd:ee:ff", rssi=-60, ssid="café"), Wifi(mac="11:22:33:44:55:66")],
        ble=[Ble(mac="de:ad:be:ef:00:01", rssi=-90)],
        alarms=[Alarm.LOW_BATTERY],
    )
    values.update(changes)
    return Position(**values)


def sparse_position(device_id: str = "359339080000002", seconds: int = 0) -> Position:
    return Position(protocol="watch", device_id=device_id, time=T0 + timedelta(seconds=seconds), lat=1.5, lon=2.25)


def alert(device_id: str = "359339080000001", seconds: int = 5, **changes) -> Alert:
    values = dict(
        protocol="watch", device_id=device_id, time=T0 + timedelta(seconds=seconds), alarm=Alarm.SOS, valid=True,
        lat=-33.8, lon=151.2, state="open", repeat_count=3, first_time=T0, last_time=T0 + timedelta(seconds=5),
        frame_id="l1-c2-7", frame_index=1,
    )
    values.update(changes)
    return Alert(**values)


def telemetry(device_id: str = "359339080000001", seconds: int = 10, **changes) -> Telemetry:
    values = dict(
        protocol="watch", device_id=device_id, time=T0 + timedelta(seconds=seconds), heart_rate_bpm=72, spo2_pct=97.5,
        bp_systolic_mmhg=121, bp_diastolic_mmhg=79, body_temp_c=36.6, steps=4321, battery_pct=55, battery_v=3.91,
        rssi=-65, frame_id="l1-c2-8", frame_index=0,
    )
    values.update(changes)
    return Telemetry(**values)


def event(device_id: str | None = "359339080000001", seconds: int | None = 15, **changes) -> Event:
    values = dict(
        protocol="gt06", device_id=device_id, time=None if seconds is None else T0 + timedelta(seconds=seconds),
        event="command_result", battery_pct=50, rssi=-70, text="OK: interval 60",
        details={"imei": "359339080000001", "model": 7, "charging": True, "voltage": 4.05},
        frame_id="l1-c1-9", frame_index=0,
    )
    values.update(changes)
    return Event(**values)


def dead_letter(**changes) -> DeadLetter:
    values = dict(stage="listener", reason="bad checksum", data=b"\x78\x78\x00\xff\xfe", at_ms=1714558830123,
                  protocol="gt06", device_id=None, peer="10.0.0.1:5000", frame_id="l1-c3-1", source_topic=None)
    values.update(changes)
    return DeadLetter(**values)


def every_kind() -> list:
    """One of each record type, a sparse one and a time-less event."""
    return [position(), sparse_position(), alert(), telemetry(), event(), event(seconds=None, event="heartbeat",
                                                                              text=None, details={})]
