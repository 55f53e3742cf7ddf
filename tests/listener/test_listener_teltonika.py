"""Teltonika devices against a real listener and the real broker, over TCP and UDP sockets.

Frames: the Teltonika wiki's examples (tests/protocols/frames_teltonika.py, cited there): the IMEI
handshake answered 01, AVL packets answered with their record count as 4 bytes, the Codec 8 UDP
datagram answered 0005CAFE010501 as the wiki shows.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from simulator.run import SimConfig, simulate
from tests.listener.conftest import raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_teltonika as F

pytestmark = pytest.mark.kafka

IMEI = "356307042441013"


async def _no_reply_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), seconds)
    except asyncio.TimeoutError:
        return True
    return data == b""


async def test_tcp_handshake_then_avl_data_acked_with_the_record_count(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(F.WIKI_IMEI)
        assert await read_exactly(reader, 1) == b"\x01"
        writer.write(F.WIKI_8_FIRST)
        assert await read_exactly(reader, 4) == bytes.fromhex("00000001")
        # The ack came after Kafka had the frame: both frames are on the topic already.
        stored = await read_topic(kafka_bootstrap, names.raw_frames, 2, timeout_s=5)
        assert [e.data for _, e in raw_frames(stored)] == [F.WIKI_IMEI, F.WIKI_8_FIRST]

        # Two packets in one write, split mid-packet: acks in order, one per packet.
        stream = F.WIKI_16 + F.WIKI_8_THIRD
        writer.write(stream[:30])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(stream[30:])
        assert await read_exactly(reader, 8) == bytes.fromhex("00000002" "00000002")

        # A damaged packet is stored (and dead-lettered later) but not acked: the device resends.
        writer.write(F.CONSTRUCTED_BAD_CRC)
        assert await _no_reply_within(reader, 1.5)
        writer.write(F.WIKI_8_FIRST)  # the device's resend, intact
        assert await read_exactly(reader, 4) == bytes.fromhex("00000001")

        # A Codec 12 response is stored and not answered; the next packet's ack is the next reply.
        writer.write(F.WIKI_12_GETINFO_RESPONSE + F.WIKI_8E)
        assert await read_exactly(reader, 4) == bytes.fromhex("00000001")
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 8)
        writer.close()

    frames = raw_frames(messages)
    assert [e.data for _, e in frames] == [F.WIKI_IMEI, F.WIKI_8_FIRST, F.WIKI_16, F.WIKI_8_THIRD,
                                           F.CONSTRUCTED_BAD_CRC, F.WIKI_8_FIRST, F.WIKI_12_GETINFO_RESPONSE,
                                           F.WIKI_8E]
    # Identified from the handshake for the whole connection, keyed by the IMEI.
    assert {(key, e.protocol, e.device_id, e.transport) for key, e in frames} == {
        (IMEI.encode(), "teltonika", IMEI, "tcp")}
    assert len({e.connection_id for _, e in frames}) == 1


async def test_udp_datagrams_carry_the_imei_and_get_the_udp_ack(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", server.udp_port))
        await loop.sock_sendall(sock, F.WIKI_UDP_8)
        assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 10) == F.WIKI_UDP_8_REPLY
        await loop.sock_sendall(sock, F.TRACCAR_UDP_8)  # another device's datagram, same source address
        assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 10) == bytes.fromhex("0005cafe012201")
        sock.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 2)
    assert [(key, e.transport, e.protocol, e.device_id, e.data) for key, e in raw_frames(messages)] == [
        (b"352093086403655", "udp", "teltonika", "352093086403655", F.WIKI_UDP_8),
        (b"357454072713975", "udp", "teltonika", "357454072713975", F.TRACCAR_UDP_8),
    ]


async def test_simulated_teltonika_devices_are_acked_and_stored(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        config = SimConfig(port=server.tcp_port, devices=5, protocols=("teltonika",), interval_s=0.1,
                           duration_s=1.5, sos_probability=0.3, seed=3)
        stats = await simulate(config)
        messages = await read_topic(kafka_bootstrap, names.raw_frames, stats.frames_sent)
    assert stats.connected == 5 and stats.reply_timeouts == 0
    assert stats.replies == stats.frames_sent and stats.sos_sent > 0
    envelopes = [e for _, e in raw_frames(messages)]
    assert {e.protocol for e in envelopes} == {"teltonika"} and len({e.device_id for e in envelopes}) == 5
    assert sum(e.data[2:].isdigit() for e in envelopes) == 5  # one handshake per device
