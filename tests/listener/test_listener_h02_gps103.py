"""H02 and GPS103 devices against a real listener and the real broker, over TCP and UDP sockets.

Each device identifies itself, reports, and gets exactly the replies its protocol prescribes (written
by the listener only after Kafka acknowledged the frame); the frames reach raw-frames keyed by the
device, and the processors' decoding turns those envelopes into records. Frames are the cited samples
of tests/protocols/frames_h02.py and frames_gps103.py.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from datetime import datetime, timezone

import pytest

from processors.decoding import decode_envelope
from schemas.alarms import Alarm
from simulator.run import SimConfig, simulate
from tests.listener.conftest import raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_gps103 as GPS103
from tests.protocols import frames_h02 as H02

pytestmark = pytest.mark.kafka

CONFIRM = re.compile(rb"\*(HQ|TH),(\d+),V4,(V1|NBR),(\d{14})#")


def assert_confirmation(reply: bytes, device_id: str, msg_type: str, sent_at: float) -> None:
    """`*HQ,ID,V4,V1,YYYYMMDDHHMMSS#` with the listener's clock at the frame (within a few seconds)."""
    match = CONFIRM.fullmatch(reply)
    assert match, reply
    assert match.group(2).decode() == device_id and match.group(3).decode() == msg_type
    stamp = datetime.strptime(match.group(4).decode(), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    assert abs(stamp.timestamp() - sent_at) < 5


async def read_until(reader: asyncio.StreamReader, end: bytes, timeout_s: float = 10.0) -> bytes:
    return await asyncio.wait_for(reader.readuntil(end), timeout_s)


async def test_h02_and_gps103_devices_over_tcp_get_their_replies_and_reach_kafka(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        # H02: heartbeat echoed; V1 confirmed; a binary frame (no reply by default) then an SOS V1.
        h_reader, h_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        h_writer.write(H02.HTBT_BATTERY)
        assert await read_until(h_reader, b"#") == b"*HQ,135790246811220,HTBT#"
        h_writer.write(H02.V1_COSTA_RICA)
        assert_confirmation(await read_until(h_reader, b"#"), "4210051415", "V1", time.time())
        h_writer.write(H02.BIN_SHORT + H02.V1_SOS)  # one read, two frames: only the V1 is answered
        assert_confirmation(await read_until(h_reader, b"#"), "353588020068342", "V1", time.time())

        # GPS103: log-on -> LOAD, heartbeat -> ON, a plain report (nothing), SOS -> alarm cancel.
        g_reader, g_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        g_writer.write(GPS103.LOGIN)
        assert await read_exactly(g_reader, 4) == b"LOAD"
        g_writer.write(GPS103.HEARTBEAT)
        assert await read_exactly(g_reader, 2) == b"ON"
        g_writer.write(GPS103.HELP_ME.replace(b"help me", b"tracker") + GPS103.HELP_ME)
        assert await read_until(g_reader, b";") == b"**,imei:359586015829802,E;"

        messages = await read_topic(kafka_bootstrap, names.raw_frames, 8)
        for writer in (h_writer, g_writer):
            writer.close()

    frames = raw_frames(messages)
    assert len(frames) == 8
    sent = {
        H02.HTBT_BATTERY: "135790246811220", H02.V1_COSTA_RICA: "4210051415", H02.BIN_SHORT: "4106011660",
        H02.V1_SOS: "353588020068342", GPS103.LOGIN: "359586015829802", GPS103.HEARTBEAT: "359586015829802",
        GPS103.HELP_ME.replace(b"help me", b"tracker"): "359586015829802", GPS103.HELP_ME: "359586015829802",
    }
    by_data = {envelope.data: (key, envelope) for key, envelope in frames}
    assert set(by_data) == set(sent)
    for data, device_id in sent.items():
        key, envelope = by_data[data]
        expected_protocol = "gps103" if data in (GPS103.LOGIN, GPS103.HEARTBEAT) or data.startswith(b"imei:") else "h02"
        assert (key, envelope.protocol, envelope.device_id, envelope.transport) == (
            device_id.encode(), expected_protocol, device_id, "tcp")
    gps = [e for _, e in frames if e.protocol == "gps103"]
    assert len({e.connection_id for e in gps}) == 1
    assert [e.data for e in gps] == [GPS103.LOGIN, GPS103.HEARTBEAT, GPS103.HELP_ME.replace(b"help me", b"tracker"),
                                     GPS103.HELP_ME]

    # The processors turn the envelopes into records (same decoding step as the Faust worker).
    decoded = {envelope.data: decode_envelope(envelope) for _, envelope in frames}
    assert all(out.error is None for out in decoded.values()), [out.error for out in decoded.values()]
    sos = decoded[H02.V1_SOS].records
    assert [r.type for r in sos] == ["position", "alert"] and sos[1].alarm is Alarm.SOS
    assert sos[0].frame_id == by_data[H02.V1_SOS][1].frame_id and sos[0].device_id == "353588020068342"
    help_me = decoded[GPS103.HELP_ME].records
    assert [r.type for r in help_me] == ["position", "alert"] and help_me[1].alarm is Alarm.SOS
    assert (help_me[0].lat, help_me[0].device_id) == (round(22 + 34.4026 / 60, 6), "359586015829802")
    assert [r.type for r in decoded[H02.BIN_SHORT].records] == ["position"]
    assert decoded[GPS103.LOGIN].records[0].event == "login"


async def test_h02_and_gps103_over_udp(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", server.udp_port))
        await loop.sock_sendall(sock, H02.NBR)
        assert_confirmation(await asyncio.wait_for(loop.sock_recv(sock, 1024), 10), "4109179024", "NBR", time.time())
        await loop.sock_sendall(sock, H02.BIN_45_SOS)  # a 45-byte binary frame: whole as a datagram, no reply
        await loop.sock_sendall(sock, GPS103.LOGIN)
        assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 10) == b"LOAD"
        await loop.sock_sendall(sock, GPS103.HELP_ME)
        assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 10) == b"**,imei:359586015829802,E;"
        sock.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 4)
    envelopes = sorted((e for _, e in raw_frames(messages)), key=lambda e: e.received_at_ms)
    assert sorted((e.transport, e.protocol, e.device_id, e.data) for e in envelopes) == sorted([
        ("udp", "h02", "4109179024", H02.NBR),
        ("udp", "h02", "4106000826", H02.BIN_45_SOS),
        ("udp", "gps103", "359586015829802", GPS103.LOGIN),
        ("udp", "gps103", "359586015829802", GPS103.HELP_ME),
    ])
    binary = next(e for e in envelopes if e.data == H02.BIN_45_SOS)
    assert [r.type for r in decode_envelope(binary).records] == ["position", "alert"]


async def test_simulated_h02_and_gps103_fleet_is_answered(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        config = SimConfig(port=server.tcp_port, devices=8, protocols=("h02", "gps103"), interval_s=0.2,
                           duration_s=2.0, sos_probability=0.3)
        stats = await simulate(config)
        messages = await read_topic(kafka_bootstrap, names.raw_frames, stats.frames_sent)
    assert stats.connected == 8 and stats.connect_failures == 0 and stats.reply_timeouts == 0
    assert stats.replies > 8 and stats.sos_sent > 0
    envelopes = [e for _, e in raw_frames(messages)]
    assert len(envelopes) == stats.frames_sent
    assert {e.protocol for e in envelopes} == {"h02", "gps103"}
    assert len({e.device_id for e in envelopes}) == 8
    assert all(decode_envelope(e).error is None for e in envelopes)
