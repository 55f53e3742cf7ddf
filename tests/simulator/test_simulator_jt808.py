"""The simulated JT/T 808 terminal's frames decode to what they were built from, and the terminal
authenticates with the code the codec issues under the development key."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from protocols.base import Transport, guarded_decode
from protocols.jt808 import CODEC
from schemas.alarms import Alarm
from schemas.records import Alert, Position
from simulator import frames as F
from simulator.profiles import PROFILES
from simulator.profiles.jt808 import Jt808Device, location_body

T = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
FIX = F.Fix(T, -33.8688, 151.2093, speed_kmh=12.0, course_deg=90.0, satellites=9, battery_pct=77)


def test_registered_by_its_protocol_name():
    assert PROFILES["jt808"] is Jt808Device


def test_hello_registers_and_authenticates_then_reports_decode_to_the_fix():
    device = Jt808Device(7, random.Random(1))
    session = CODEC.new_session(Transport.TCP)
    register, authenticate = device.hello()
    assert register.expects_reply and authenticate.expects_reply
    registered = guarded_decode(CODEC, register.data, session, T)
    assert registered.error is None and registered.records[0].details["model"] == "SIM-JT808"
    assert guarded_decode(CODEC, authenticate.data, session, T).error is None
    sos = guarded_decode(CODEC, device.report(sos=True).data, session, T)
    assert sos.error is None and sos.device_id == device.device_id == "13500000007"
    position, alert = sos.records[0], sos.records[1]
    assert isinstance(position, Position) and isinstance(alert, Alert) and alert.alarm is Alarm.SOS
    plain = guarded_decode(CODEC, device.report(sos=False).data, session, T)
    assert plain.error is None and plain.records[0].alarms == []


def test_location_body_round_trips():
    from protocols import jt808
    frame = jt808.build_message(0x0200, location_body(FIX, sos=True), bytes.fromhex("013500000007"), 5)
    session = CODEC.new_session(Transport.TCP)
    session.authenticated = True
    position = guarded_decode(CODEC, frame, session, T).records[0]
    assert (position.lat, position.lon, position.time, position.valid) == (-33.8688, 151.2093, T, True)
    assert (position.speed_kmh, position.course_deg, position.satellites, position.battery_pct) == (12.0, 90.0, 9, 77)
    assert position.rssi == 20 and position.alarms == [Alarm.SOS]
