"""The simulated Teltonika tracker's frames decode to what they were built from, and it treats a
wrong or missing acknowledgement as a reason to send the same packet again."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

import pytest

from protocols import teltonika
from protocols.base import Transport
from schemas.alarms import Alarm
from simulator.frames import Fix
from simulator.profiles import PROFILES
from simulator.profiles.teltonika import TeltonikaDevice, codec8_packet, codec8_record, fix_io

T = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
FIX = Fix(T, -33.8688, 151.2093, speed_kmh=12.0, course_deg=90.0, satellites=9, battery_pct=77)


def test_the_profile_is_registered_under_the_codec_name():
    assert PROFILES["teltonika"] is TeltonikaDevice


@pytest.mark.parametrize("crash", [False, True])
def test_built_packet_decodes_to_the_fix_it_was_built_from(crash: bool):
    io = fix_io(FIX, odometer_m=1234)
    if crash:
        io[247] = (1, 1)
    packet = codec8_packet([codec8_record(FIX, io, event_io_id=247 if crash else 0)])
    session = teltonika.CODEC.new_session(Transport.TCP)
    session.device_id = "860000000000001"
    decoded = teltonika.CODEC.decode(packet, session, T)
    assert decoded.error is None and decoded.reply == bytes.fromhex("00000001")
    position = decoded.records[0]
    assert (position.lat, position.lon, position.time, position.valid) == (-33.8688, 151.2093, T, True)
    assert (position.speed_kmh, position.course_deg, position.satellites, position.battery_pct) == (12.0, 90.0, 9, 77)
    alerts = [r for r in decoded.records if r.type == "alert"]
    assert [a.alarm for a in alerts] == ([Alarm.ACCIDENT] if crash else [])
    telemetry = next(r for r in decoded.records if r.type == "telemetry")
    assert (telemetry.battery_v, telemetry.battery_pct, telemetry.rssi) == (4.1, 77, 4)
    event = decoded.records[-1]
    assert event.details["ignition"] is True and event.details["odometer_m"] == 1234
    assert event.details["external_v"] == 12.6


def test_device_handshakes_then_reports_and_checks_each_ack():
    device = TeltonikaDevice(3, random.Random(1))
    (hello,) = device.hello()
    assert hello.data == b"\x00\x0f" + device.device_id.encode() and hello.expects_reply

    async def reply_to(data: bytes) -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        return await device.read_reply(reader)

    assert asyncio.run(reply_to(b"\x01")) == b"\x01"
    report = device.report(sos=True)
    decoded = teltonika.CODEC.decode(report.data, teltonika.CODEC.new_session(Transport.TCP), T)
    assert decoded.error is None and [r.alarm for r in decoded.records if r.type == "alert"] == [Alarm.ACCIDENT]
    assert asyncio.run(reply_to(bytes.fromhex("00000001"))) == bytes.fromhex("00000001")
    device.report(sos=False)
    with pytest.raises(asyncio.TimeoutError):  # a wrong count: the run loop resends the packet
        asyncio.run(reply_to(bytes.fromhex("00000000")))
