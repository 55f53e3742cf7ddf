"""An OsmAnd / Traccar Client phone on the shared port: HTTP/1.1 keep-alive against the real listener
and broker. Requests are the cited samples of tests/protocols/frames_osmand.py."""

from __future__ import annotations

import asyncio

import pytest

from protocols.osmand import OK, OK_CLOSE
from tests.listener.conftest import raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_osmand as F

pytestmark = pytest.mark.kafka

NO_ID_REPLY = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Length: 34\r\n\r\nno device id (`id` or `deviceid`)\n")
CLOSE_REQUEST = F.get(F.URI_MINIMAL, F.HOST + b"Connection: close\r\n")


async def test_phone_reports_over_one_keep_alive_connection(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)

        # 1. Traccar Client for Android: POST with the report in the query. The 200 comes only once
        #    Kafka has the frame, so the frame is on raw-frames by the time we read the answer.
        writer.write(F.ANDROID_POSITION)
        assert await read_exactly(reader, len(OK)) == OK
        first = raw_frames(await read_topic(kafka_bootstrap, names.raw_frames, 1))
        assert first[0][1].data == F.ANDROID_POSITION

        # 2. A pipelined pair in one write: two answers, in order.
        writer.write(F.OSMAND_POSITION + F.ANDROID_SOS)
        assert await read_exactly(reader, 2 * len(OK)) == OK + OK

        # 3. A chunked JSON body split across reads, then a Content-Length JSON body.
        for start in range(0, len(F.CHUNKED_JSON_MOVING), 40):
            writer.write(F.CHUNKED_JSON_MOVING[start:start + 40])
            await writer.drain()
            await asyncio.sleep(0.01)
        assert await read_exactly(reader, len(OK)) == OK
        writer.write(F.CLIENT9_SOS)
        assert await read_exactly(reader, len(OK)) == OK

        # 4. A bad request (no device id) gets a 400 and the connection stays usable.
        writer.write(F.TRACCAR_NO_ID)
        assert await read_exactly(reader, len(NO_ID_REPLY)) == NO_ID_REPLY

        # 5. `Connection: close`: answered, then the listener closes.
        writer.write(CLOSE_REQUEST)
        assert await read_exactly(reader, len(OK_CLOSE)) == OK_CLOSE
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()

        messages = await read_topic(kafka_bootstrap, names.raw_frames, 7)

    frames = raw_frames(messages)
    sent = [F.ANDROID_POSITION, F.OSMAND_POSITION, F.ANDROID_SOS, F.CHUNKED_JSON_MOVING, F.CLIENT9_SOS,
            F.TRACCAR_NO_ID, CLOSE_REQUEST]
    assert [envelope.data for _, envelope in frames] == sent  # one connection, one partition: in order
    assert {envelope.protocol for _, envelope in frames} == {"osmand"}
    assert len({envelope.connection_id for _, envelope in frames}) == 1
    ids = [envelope.device_id for _, envelope in frames]
    assert ids[:5] == ["865432109876543", "123456", "865432109876543", "8737767034", "48241179"]
    assert frames[0][0] == b"865432109876543"  # keyed by the device id each request carries


async def test_bad_http_gets_400_and_close_and_is_kept_for_the_dead_letter_path(kafka_bootstrap, kafka_prefix,
                                                                                  names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        bad = b"GET /?id=123456&lat=60.0&lon=30.0 HTTP/1.1\r\n\r\n"  # HTTP/1.1 without Host
        writer.write(bad + F.TRACCAR_MINIMAL)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close\r\n" in head
        rest = await asyncio.wait_for(reader.read(), 10)  # the body, then the listener closes
        assert rest == b"bad HTTP request: Missing mandatory Host: header\n"
        writer.close()
        messages = await read_topic(kafka_bootstrap, names.raw_frames, 1)
    assert raw_frames(messages)[0][1].data == bad
