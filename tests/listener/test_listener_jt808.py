"""JT/T 808 through a real listener and the real broker, over TCP and UDP: registration answered with
an auth code, authentication, location; a wrong code answered with failure and the terminal's later
frames refused (kept on raw-frames with `rejected`, dead-lettered by the processors' decoding).

Frames from tests/protocols/frames_jt808.py (cited there). The listener runs with its own auth key,
so the test also shows the setting reaches the codec.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from processors.decoding import decode_envelope
from protocols import jt808
from schemas.alarms import Alarm
from schemas.records import Position
from tests.listener.conftest import raw_frames, read_topic, running_listener
from tests.protocols import frames_jt808 as F

pytestmark = pytest.mark.kafka

KEY = "listener-test-auth-key-0123"


async def read_frame(reader: asyncio.StreamReader, timeout_s: float = 10.0) -> bytes:
    """One 7E … 7E frame from the stream."""
    start = await asyncio.wait_for(reader.readexactly(1), timeout_s)
    assert start == b"\x7e"
    return start + await asyncio.wait_for(reader.readuntil(b"\x7e"), timeout_s)


def general_result(reply: bytes, answered: bytes) -> int:
    """The result of a 0x8001 reply, after checking it answers `answered` (serial and id)."""
    raw = jt808.unescape(reply[1:-1])
    assert raw[:2] == b"\x80\x01"
    asked = jt808.unescape(answered[1:-1])
    assert raw[12:14] == asked[10:12] and raw[14:16] == asked[:2]
    return raw[16]


def issued_code(reply: bytes) -> bytes:
    raw = jt808.unescape(reply[1:-1])
    assert raw[:2] == b"\x81\x00" and raw[14] == 0  # registration answer, result 0 = success
    return raw[15:-1]


def check_published(messages, accepted: list[bytes], refused: list[bytes], transport: str) -> None:
    envelopes = [e for _, e in raw_frames(messages)]
    assert [e.data for e in envelopes] == accepted + refused
    for envelope in envelopes:
        assert (envelope.protocol, envelope.device_id, envelope.transport) == ("jt808", "13511221122", transport)
    assert [e.rejected for e in envelopes[:len(accepted)]] == [None] * len(accepted)
    for envelope in envelopes[len(accepted):]:
        assert envelope.rejected.startswith("not authenticated:")
    # The processors' decoding: records for accepted frames, a dead-letter reason for refused ones.
    decoded = [decode_envelope(e) for e in envelopes]
    assert [d.error for d in decoded[:len(accepted)]] == [None] * len(accepted)
    location = [r for r in decoded[2].records if isinstance(r, Position)]
    assert location[0].alarms == [Alarm.SOS] and location[0].lat == 50.871735
    for d in decoded[len(accepted):]:
        assert d.records == [] and d.error.startswith("rejected by the listener: not authenticated:")


async def test_tcp_register_authenticate_locate_and_a_wrong_code_refused(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix, auth_key=KEY) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(F.REGISTER_2013)
        answer = await read_frame(reader)
        code = issued_code(answer)
        assert code == F.ref_code("013511221122", KEY.encode()).encode()
        auth = F.ref_frame(0x0102, F.PHONE_13511221122, 6, code)
        writer.write(auth)
        assert general_result(await read_frame(reader), auth) == 0
        writer.write(F.LOCATION_13511221122)
        assert general_result(await read_frame(reader), F.LOCATION_13511221122) == 0
        writer.close()

        # Another connection with a code no server of this key issued: failure, later frames refused.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(F.AUTH_FOREIGN_CODE + F.LOCATION_13511221122)
        assert general_result(await read_frame(reader), F.AUTH_FOREIGN_CODE) == 1
        assert general_result(await read_frame(reader), F.LOCATION_13511221122) == 1
        writer.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 5)
    check_published(messages, [F.REGISTER_2013, auth, F.LOCATION_13511221122],
                    [F.AUTH_FOREIGN_CODE, F.LOCATION_13511221122], "tcp")


async def test_udp_register_authenticate_locate_and_a_wrong_code_refused(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix, auth_key=KEY) as server:
        loop = asyncio.get_running_loop()

        async def exchange(sock: socket.socket, datagram: bytes) -> bytes:
            await loop.sock_sendall(sock, datagram)
            return await asyncio.wait_for(loop.sock_recv(sock, 2048), 10)

        good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        good.setblocking(False)
        good.connect(("127.0.0.1", server.udp_port))
        code = issued_code(await exchange(good, F.REGISTER_2013))
        auth = F.ref_frame(0x0102, F.PHONE_13511221122, 6, code)
        assert general_result(await exchange(good, auth), auth) == 0
        assert general_result(await exchange(good, F.LOCATION_13511221122), F.LOCATION_13511221122) == 0
        good.close()

        bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # another source port: its own session
        bad.setblocking(False)
        bad.connect(("127.0.0.1", server.udp_port))
        assert general_result(await exchange(bad, F.AUTH_FOREIGN_CODE), F.AUTH_FOREIGN_CODE) == 1
        assert general_result(await exchange(bad, F.LOCATION_13511221122), F.LOCATION_13511221122) == 1
        bad.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 5)
    check_published(messages, [F.REGISTER_2013, auth, F.LOCATION_13511221122],
                    [F.AUTH_FOREIGN_CODE, F.LOCATION_13511221122], "udp")
