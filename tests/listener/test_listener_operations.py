"""Allow-list, downlink commands, metrics/health endpoints and graceful shutdown, on the real broker."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from listener.devices import DeviceSettings, list_devices, put_device
from schemas.envelopes import DownlinkCommand
from tests.listener.conftest import dead_letters, read_exactly, read_topic, running_listener
from tests.protocols import frames_watch as WATCH
from common.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics

pytestmark = pytest.mark.kafka

LK_REPLY = b"[3G*4700186508*0002*LK]"


async def test_allowlist_rejects_unregistered_devices_and_picks_up_changes_live(kafka_bootstrap, kafka_prefix, names):
    await ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=kafka_prefix, topic_partitions=1))
    await put_device(KafkaSettings(bootstrap_servers=kafka_bootstrap), names.devices, "8800000015", DeviceSettings(display_name="Ward 3 bed 2"))
    async with running_listener(kafka_bootstrap, kafka_prefix, allowlist_enabled=True,
                                allowlist_max_rejected_frames=2) as server:
        # Registered: served.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_BARE)
        assert await read_exactly(reader, len(WATCH.LK_BARE)) == b"[SG*8800000015*0002*LK]"
        writer.close()

        # Not registered: no reply, dead-lettered, closed after two frames.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL + WATCH.LK_FULL)
        assert await asyncio.wait_for(reader.read(), 10) == b""
        letters = dead_letters(await read_topic(kafka_bootstrap, names.dead_letters, 2))
        assert [(d.device_id, d.data) for d in letters] == [("4700186508", WATCH.LK_FULL)] * 2
        assert "not registered" in letters[0].reason

        # Registered while the listener runs: served without a restart.
        await put_device(KafkaSettings(bootstrap_servers=kafka_bootstrap), names.devices, "4700186508", DeviceSettings(group="demo"))
        for _ in range(50):
            if server.devices.is_registered("4700186508"):
                break
            await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, len(LK_REPLY)) == LK_REPLY
        writer.close()

    await put_device(KafkaSettings(bootstrap_servers=kafka_bootstrap), names.devices, "8800000015", None)
    assert set(await list_devices(KafkaSettings(bootstrap_servers=kafka_bootstrap), names.devices)) == {"4700186508"}


async def test_downlink_command_reaches_the_connected_device(kafka_bootstrap, kafka_prefix, names):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, len(LK_REPLY)) == LK_REPLY
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            command = DownlinkCommand(command_id="c1", device_id="4700186508", name="locate")
            await producer.send_and_wait(names.commands, key=b"4700186508", value=command.to_msgpack())
            # A command for a device this listener does not hold is ignored.
            other = DownlinkCommand(command_id="c2", device_id="999", name="locate")
            await producer.send_and_wait(names.commands, key=b"999", value=other.to_msgpack())
        finally:
            await producer.stop()
        # Watch "CR" (locate now), in the device's own prefix/id form.
        expected = b"[3G*4700186508*0002*CR]"
        assert await read_exactly(reader, len(expected)) == expected
        writer.close()


async def test_metrics_health_and_graceful_shutdown(kafka_bootstrap, kafka_prefix):
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, len(LK_REPLY)) == LK_REPLY
        base = f"http://127.0.0.1:{server.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/readyz") as response:
                assert response.status == 200
                assert (await response.json())["connections"] == 1
            async with http.get(base + "/healthz") as response:
                assert (await response.json()) == {"status": "running"}
            async with http.get(base + "/metrics") as response:
                text = await response.text()
        assert 'trackwire_listener_connections{protocol="watch"}' in text
        assert 'trackwire_listener_frames_acked_total{protocol="watch"}' in text
        assert "trackwire_listener_produce_latency_seconds_bucket" in text

        # Shutdown: stop accepting, answer what was in flight, then close the device's socket.
        writer.write(WATCH.LK_FULL)
        await writer.drain()
        await asyncio.sleep(0.05)
        await server.stop()
        assert await asyncio.wait_for(reader.read(), 10) in (LK_REPLY, b"")
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.tcp_port)
