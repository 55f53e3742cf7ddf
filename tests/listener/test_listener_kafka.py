"""The listener against the real broker, with real TCP and UDP sockets sending device bytes.

Frames: GOTOP and watch samples from tests/protocols/frames_*.py (each cited there); the GT06
login is the example of the Concox GT06 protocol document (IMEI 123456789012345, serial 1,
CRC-ITU 0x8CDD) and its documented reply 78 78 05 01 00 01 D9 DC 0D 0A.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.listener.conftest import dead_letters, raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_gotop as GOTOP
from tests.protocols import frames_watch as WATCH

pytestmark = pytest.mark.kafka

GT06_LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")
GT06_LOGIN_REPLY = bytes.fromhex("787805010001D9DC0D0A")
GOTOP_SOS = b"#" + GOTOP.TRACCAR_CMD_KEY + b"#"
GOTOP_HEARTBEAT = b"#" + GOTOP.TRACCAR_CMD_X + b"#"


async def test_tcp_devices_of_three_protocols_are_published_and_acknowledged(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        port = server.tcp_port
        # GT06: login identifies the device, the reply comes only after Kafka has the frame.
        gt_reader, gt_writer = await asyncio.open_connection("127.0.0.1", port)
        gt_writer.write(GT06_LOGIN)
        assert await read_exactly(gt_reader, len(GT06_LOGIN_REPLY)) == GT06_LOGIN_REPLY

        # Watch: keep-alive then an SOS alarm, both in one write; replies in order.
        w_reader, w_writer = await asyncio.open_connection("127.0.0.1", port)
        w_writer.write(WATCH.LK_FULL + WATCH.AL_SOS)
        lk_reply, al_reply = b"[3G*4700186508*0002*LK]", b"[3G*8809008845*0002*AL]"
        assert await read_exactly(w_reader, len(lk_reply) + len(al_reply)) == lk_reply + al_reply

        # GOTOP: no reply in this protocol; heartbeat and SOS split across reads.
        _g_reader, g_writer = await asyncio.open_connection("127.0.0.1", port)
        stream = GOTOP_HEARTBEAT + GOTOP_SOS
        g_writer.write(stream[:10])
        await g_writer.drain()
        await asyncio.sleep(0.05)
        g_writer.write(stream[10:])
        await g_writer.drain()

        messages = await read_topic(kafka_bootstrap, names.raw_frames, 5)
        for writer in (gt_writer, w_writer, g_writer):
            writer.close()

    frames = raw_frames(messages)
    by_bytes = {envelope.data: (key, envelope) for key, envelope in frames}
    assert set(by_bytes) == {GT06_LOGIN, WATCH.LK_FULL, WATCH.AL_SOS, GOTOP_HEARTBEAT, GOTOP_SOS}
    expected = {
        GT06_LOGIN: ("gt06", "123456789012345"),
        WATCH.LK_FULL: ("watch", "4700186508"),
        WATCH.AL_SOS: ("watch", "8809008845"),
        GOTOP_HEARTBEAT: ("gotop", "353327020412763"),
        GOTOP_SOS: ("gotop", "860264050778076"),
    }
    for data, (protocol, device_id) in expected.items():
        key, envelope = by_bytes[data]
        assert key == device_id.encode()
        assert (envelope.protocol, envelope.device_id, envelope.transport) == (protocol, device_id, "tcp")
        assert envelope.listener_id == "test-listener"
        assert envelope.peer.startswith("127.0.0.1:")
        assert envelope.received_at_ms > 1_700_000_000_000
    assert len({envelope.frame_id for _, envelope in frames}) == 5
    # Frames of one connection keep their order and share a connection id.
    watch = [e for _, e in frames if e.protocol == "watch"]
    assert [e.data for e in watch] == [WATCH.LK_FULL, WATCH.AL_SOS]
    assert watch[0].connection_id == watch[1].connection_id


async def test_udp_datagram_is_published_then_answered(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", server.udp_port))
        await loop.sock_sendall(sock, WATCH.LK_FULL)
        reply = await asyncio.wait_for(loop.sock_recv(sock, 1024), 10)
        assert reply == b"[3G*4700186508*0002*LK]"
        await loop.sock_sendall(sock, GT06_LOGIN)
        assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 10) == GT06_LOGIN_REPLY
        sock.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 2)
    envelopes = [e for _, e in raw_frames(messages)]
    assert [(e.transport, e.protocol, e.device_id, e.data) for e in envelopes] == [
        ("udp", "watch", "4700186508", WATCH.LK_FULL),
        ("udp", "gt06", "123456789012345", GT06_LOGIN),
    ]


async def test_garbage_is_dead_lettered_and_the_connection_closed_while_others_are_served(
        kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        bad_writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # (an HTTP request would be an osmand report)
        assert await asyncio.wait_for(bad_reader.read(), 10) == b""  # closed by the listener

        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, 23) == b"[3G*4700186508*0002*LK]"
        writer.close()
        letters = dead_letters(await read_topic(kafka_bootstrap, names.dead_letters, 1))
    assert letters[0].stage == "listener"
    assert letters[0].data == b"SSH-2.0-OpenSSH_9.6\r\n"
    assert "match no known protocol" in letters[0].reason and "5353482d" in letters[0].reason
    assert letters[0].peer.startswith("127.0.0.1:")


async def test_oversized_frame_is_dead_lettered_and_the_stream_recovers(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix, max_frame_bytes=256) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, 23) == b"[3G*4700186508*0002*LK]"
        # A watch frame that claims and carries far more than the limit.
        writer.write(b"[3G*4700186508*1000*UD," + b"1" * 4000 + b"]")
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, 23) == b"[3G*4700186508*0002*LK]"
        writer.close()
        letters = dead_letters(await read_topic(kafka_bootstrap, names.dead_letters, 1))
        raw = await read_topic(kafka_bootstrap, names.raw_frames, 2)
    assert all(len(e.data) <= 256 for _, e in raw_frames(raw))
    assert sum(len(letter.data) for letter in letters) >= 256
    assert len(server.connections) == 0


async def test_idle_connection_is_closed(kafka_bootstrap, kafka_prefix):
    async with running_listener(kafka_bootstrap, kafka_prefix, idle_timeout_s=0.5) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(b"[3G*47")  # a slow client that never finishes its frame
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 15) == b""
        assert len(server.connections) == 0


async def test_a_frame_trickled_in_byte_by_byte_is_cut_off_at_the_frame_deadline(kafka_bootstrap, kafka_prefix):
    # Slowloris: each byte resets the idle clock, so only the frame deadline ends it.
    async with running_listener(kafka_bootstrap, kafka_prefix, idle_timeout_s=60, frame_timeout_s=1.0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        started = asyncio.get_running_loop().time()
        closed_after = None
        for byte in b"[3G*4700186508*0002*LK" + b"x" * 200:  # a frame header, then a body that never ends
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 0.1) == b"":
                    closed_after = asyncio.get_running_loop().time() - started
                    break
            except asyncio.TimeoutError:
                continue
        assert closed_after is not None and 1.0 <= closed_after < 4.0, closed_after
        assert len(server.connections) == 0

        # A device that sends whole frames, however slowly, is not cut off.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        for _ in range(3):
            writer.write(b"[3G*4700186508*0002*LK]")
            await writer.drain()
            assert await read_exactly(reader, len(b"[3G*4700186508*0002*LK]"), 10) == b"[3G*4700186508*0002*LK]"
            await asyncio.sleep(0.8)
        assert len(server.connections) == 1
        writer.close()


async def test_connection_flood_from_one_address_is_capped_and_others_are_served(kafka_bootstrap, kafka_prefix):
    async with running_listener(kafka_bootstrap, kafka_prefix, max_connections_per_ip=5) as server:
        flood = [await asyncio.open_connection("127.0.0.1", server.tcp_port) for _ in range(12)]
        await asyncio.sleep(0.2)
        assert len(server.connections) == 5
        refused = still_open = 0
        for reader, _writer in flood:
            try:
                closed = await asyncio.wait_for(reader.read(), 0.3) == b""
            except ConnectionResetError:
                closed = True
            except asyncio.TimeoutError:
                closed = False
            refused += closed
            still_open += not closed
        assert (refused, still_open) == (7, 5)
        for _, writer in flood:
            writer.close()
        await asyncio.sleep(0.2)
        # Once they are gone, the same address is served again.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, 23) == b"[3G*4700186508*0002*LK]"
        writer.close()
