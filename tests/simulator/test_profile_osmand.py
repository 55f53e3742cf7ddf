"""The simulated Traccar Client phone: its requests decode to the fix they were built from, it reads a
200 (and refuses a 4xx), and a fleet of them reports through the real listener and broker."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

import pytest

from protocols.base import Transport
from protocols.osmand import CODEC, OK
from schemas.alarms import Alarm
from schemas.envelopes import RawFrame
from schemas.records import Alert, Position
from schemas.topics import topic_names
from simulator import frames as F
from simulator.profiles.osmand import OsmandDevice, json_request, query_request, read_response
from simulator.run import SimConfig, simulate
from tests.listener.conftest import read_topic, running_listener

T = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
FIX = F.Fix(T, -33.8688, 151.2093, speed_kmh=12.0, course_deg=90.0, satellites=9, battery_pct=77)


@pytest.mark.parametrize("build", [query_request, json_request])
@pytest.mark.parametrize("sos", [False, True])
def test_built_requests_decode_to_the_fix_they_were_built_from(build, sos):
    _http, request = build("48000007", FIX, sos=sos)
    decoded = CODEC.decode(request, CODEC.new_session(Transport.TCP), T)
    assert decoded.error is None and decoded.reply == OK and not decoded.close
    position = decoded.records[0]
    assert isinstance(position, Position) and position.device_id == "48000007"
    assert (position.time, position.lat, position.lon, position.valid) == (T, -33.8688, 151.2093, True)
    assert (position.speed_kmh, position.course_deg, position.battery_pct) == (12.0, 90.0, 77)
    alerts = [r for r in decoded.records if isinstance(r, Alert)]
    assert position.alarms == ([Alarm.SOS] if sos else [])
    assert [a.alarm for a in alerts] == ([Alarm.SOS] if sos else [])


def test_device_alternates_the_two_forms():
    device = OsmandDevice(0, random.Random(1))
    forms = [CODEC.decode(device.report(False).data, CODEC.new_session(Transport.TCP), T).message_type
             for _ in range(4)]
    assert forms == ["query", "json", "query", "json"]


async def _read(http, data: bytes):
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    return await read_response(http, reader), reader


async def test_reads_exactly_one_200_and_refuses_a_400():
    http, _ = query_request("48000007", FIX)
    response, reader = await _read(http, OK + b"HTTP/1.1 200 OK\r\n")
    assert response.status_code == 200
    assert reader._buffer == bytearray(b"HTTP/1.1 200 OK\r\n")  # the next response stays unread
    http, _ = query_request("48000007", FIX)
    with pytest.raises(ConnectionError, match="400"):
        await _read(http, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\nbad\n")


@pytest.mark.kafka
async def test_simulated_phones_report_and_are_acknowledged(kafka_bootstrap, kafka_prefix):
    names = topic_names(kafka_prefix)
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        config = SimConfig(port=server.tcp_port, devices=6, protocols=("osmand",), interval_s=0.1,
                           duration_s=1.5, sos_probability=0.3)
        stats = await simulate(config)
        messages = await read_topic(kafka_bootstrap, names.raw_frames, stats.frames_sent)
    envelopes = [RawFrame.from_msgpack(m.value) for m in messages]
    assert stats.connected == 6 and stats.disconnects == 0 and stats.reply_timeouts == 0
    assert stats.replies == stats.frames_sent > 6
    assert {e.protocol for e in envelopes} == {"osmand"} and len({e.device_id for e in envelopes}) == 6
