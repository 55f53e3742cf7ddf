"""The simulator's frames decode to what they were built from, and a simulated fleet's frames all
reach the raw-frames topic through a real listener and broker."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from protocols import gotop, gt06, watch
from protocols.base import Transport
from schemas.alarms import Alarm
from schemas.envelopes import RawFrame
from simulator import frames as F
from simulator.profiles import PROFILES
from simulator.run import SimConfig, simulate
from schemas.topics import topic_names
from tests.listener.conftest import read_topic, running_listener

T = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
FIX = F.Fix(T, -33.8688, 151.2093, speed_kmh=12.0, course_deg=90.0, satellites=9, battery_pct=77)


@pytest.mark.parametrize("codec,frame,device_id", [
    (watch.CODEC, F.watch_location("8800000015", FIX, sos=True), "8800000015"),
    (gotop.CODEC, F.gotop_location("860264050778076", FIX, sos=True), "860264050778076"),
    (gt06.CODEC, F.gt06_sos(FIX, 3), "860264050778076"),
])
def test_built_sos_frames_decode_to_the_fix_they_were_built_from(codec, frame, device_id):
    session = codec.new_session(Transport.TCP)
    session.device_id = "860264050778076"  # GT06 identifies at login
    decoded = codec.decode(frame, session, T)
    assert decoded.error is None
    position, alert = decoded.records
    assert (position.lat, position.lon, position.time, position.valid) == (-33.8688, 151.2093, T, True)
    assert position.speed_kmh == 12.0 and position.alarms == [Alarm.SOS]
    assert alert.alarm is Alarm.SOS and alert.device_id == device_id


@pytest.mark.kafka
async def test_simulated_fleet_frames_all_reach_kafka(kafka_bootstrap, kafka_prefix):
    names = topic_names(kafka_prefix)
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        config = SimConfig(port=server.tcp_port, devices=30, interval_s=0.2, duration_s=2.0, sos_probability=0.2)
        stats = await simulate(config)
        assert stats.connected == 30 and stats.connect_failures == 0
        messages = await read_topic(kafka_bootstrap, names.raw_frames, stats.frames_sent)
    envelopes = [RawFrame.from_msgpack(m.value) for m in messages]
    assert len(envelopes) == stats.frames_sent
    assert {e.protocol for e in envelopes} == set(PROFILES)
    assert len({e.device_id for e in envelopes}) == 30
    assert stats.reply_timeouts == 0 and stats.replies > 0 and stats.sos_sent > 0
