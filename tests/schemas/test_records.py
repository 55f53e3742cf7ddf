"""Records: one msgpack encoding and one JSON form, same field names, absent values omitted."""

from datetime import datetime, timezone

import msgpack
import pytest

from schemas.alarms import Alarm
from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    Ble,
    Cell,
    Event,
    Position,
    Telemetry,
    format_time,
    from_msgpack,
    to_json_dict,
    to_msgpack,
)

T = datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=timezone.utc)
T_MS = T.replace(microsecond=123000)  # the wire carries milliseconds


def test_time_is_utc_iso_with_milliseconds_and_z():
    assert format_time(T) == "2024-05-01T10:20:30.123Z"
    assert format_time(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)) == "2024-05-01T12:00:00.000Z"


def test_absent_values_are_omitted_not_zero():
    pos = Position(protocol="gt06", device_id="123", time=T, valid=True, lat=-33.5, lon=151.25, speed_kmh=0.0)
    out = to_json_dict(pos)
    assert out == {
        "type": "position", "protocol": "gt06", "device_id": "123", "time": "2024-05-01T10:20:30.123Z",
        "valid": True, "lat": -33.5, "lon": 151.25, "speed_kmh": 0.0,
    }


def test_alert_from_fix_copies_the_location():
    pos = Position(protocol="watch", device_id="1", time=T, valid=True, lat=1.0, lon=2.0,
                   cells=[Cell(460, 0, 9360, 4082, -60)], alarms=[Alarm.SOS])
    alert = Alert.from_fix(pos, Alarm.SOS)
    assert to_json_dict(alert)["alarm"] == "sos"
    assert alert.lat == 1.0 and alert.cells == pos.cells and alert.alarms == [Alarm.SOS]


@pytest.mark.parametrize("record", [
    Position(protocol="watch", device_id="1", time=T_MS, valid=False, cells=[Cell(460, 0, 1, 2)],
             ble=[Ble("aa:bb:cc:dd:ee:ff", -70)], alarms=[Alarm.LOW_BATTERY]),
    Alert(protocol="gt06", device_id="2", time=None, alarm=Alarm.FALL),
    Telemetry(protocol="watch", device_id="3", time=T_MS, heart_rate_bpm=72, spo2_pct=98.0, body_temp_c=36.6),
    Event(protocol="gotop", device_id="4", time=T_MS, event="login", details={"model": "L17"}),
])
def test_msgpack_round_trip_carries_the_schema_version(record):
    payload = to_msgpack(record)
    assert msgpack.unpackb(payload)["v"] == SCHEMA_VERSION
    back = from_msgpack(payload)
    assert to_json_dict(back) == to_json_dict(record)
    assert back == record


def test_unknown_schema_version_is_a_clear_error():
    payload = msgpack.packb({"type": "position", "protocol": "x", "v": 99})
    with pytest.raises(ValueError, match="unsupported record schema version 99"):
        from_msgpack(payload)
