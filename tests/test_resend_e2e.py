"""A GT06 heartbeat the device sends twice (same serial, same bytes: a resend after a lost ack) is
stored once, through the whole pipeline (`trackwire run`: listener -> Kafka -> processor -> Kafka ->
sink -> ClickHouse, embedded engine); a heartbeat with the next serial is another row.

Device bytes: the navtrack login and the Concox document's heartbeat (tests/protocols/frames_gt06.py,
cited there); the renumbered heartbeat is constructed per the Concox JM-VL03 document (serial 0010).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer

from protocols.gt06 import build_packet, open_packet
from schemas.records import from_msgpack
from schemas.topics import topic_names
from tests.protocols import frames_gt06 as GT06
from tests.test_pipeline_e2e import _wait_ready, pipeline_env

pytestmark = pytest.mark.kafka

IMEI = "123456789012345"  # GT06.NAVTRACK_LOGIN


def renumbered(frame: bytes, serial: int) -> bytes:
    packet = open_packet(frame)
    return build_packet(packet.protocol, packet.content, serial, packet.long)


async def _events(bootstrap: str, topic: str, wanted: int, timeout_s: float = 90) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    seen: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(seen) < wanted and asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                seen += [from_msgpack(m.value) for m in messages]
    finally:
        await consumer.stop()
    return seen


async def test_a_resent_heartbeat_is_stored_once(kafka_bootstrap, kafka_prefix, tmp_path):
    env, ports = pipeline_env(kafka_bootstrap, kafka_prefix, tmp_path / "clickhouse")
    port, listener_http = ports["device"], ports["listener_http"]
    run = subprocess.Popen([sys.executable, "-m", "trackwire.cli", "run", "--port", str(port), "--simulate", "0"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    next_heartbeat = renumbered(GT06.DOC_HEARTBEAT, 0x0010)
    try:
        await asyncio.to_thread(_wait_ready, listener_http, run)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GT06.NAVTRACK_LOGIN)
        assert await asyncio.wait_for(reader.readexactly(10), 20) == GT06.NAVTRACK_LOGIN_REPLY
        for frame in (GT06.DOC_HEARTBEAT, GT06.DOC_HEARTBEAT, next_heartbeat):  # the second: a resend
            writer.write(frame)
            await asyncio.wait_for(reader.readexactly(10), 20)  # acknowledged: Kafka has it
            await asyncio.sleep(0.05)  # distinct reception times (ms), as a real resend has
        events = await _events(kafka_bootstrap, topic_names(kafka_prefix).events, 3)
        assert [(e.device_id, e.event) for e in events] == [(IMEI, "login"), (IMEI, "heartbeat"), (IMEI, "heartbeat")]
        await asyncio.sleep(8)  # the sink's batches are half a second; give it room on a loaded machine
        writer.close()
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(run.communicate, timeout=120)
    assert run.returncode == 0, output[-3000:]

    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path}/clickhouse")
    rows = client.query(
        "SELECT event, frame_id FROM trackwire.device_events FINAL WHERE device_id = %(d)s ORDER BY time",
        parameters={"d": IMEI}).result_rows
    assert [event for event, _ in rows] == ["login", "heartbeat", "heartbeat"]
    assert len({frame_id for _, frame_id in rows}) == 3  # the first copy and the renumbered one
    assert rows[1][1].endswith("-2") and rows[2][1].endswith("-4")  # frames 2 and 4 of the connection
