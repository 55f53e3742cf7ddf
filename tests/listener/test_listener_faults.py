"""Kafka goes away: the listener must not acknowledge, must keep serving, and must recover by itself.

This test runs its own broker (deploy/local/kafka.sh on another port and data directory), because
it stops and restarts it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess

import pytest

from schemas.topics import topic_names
from tests.conftest import KAFKA_SH
from tests.listener.conftest import raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_watch as WATCH

pytestmark = pytest.mark.kafka

LK_REPLY = b"[3G*4700186508*0002*LK]"
AL_REPLY = b"[3G*8809008845*0002*AL]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_broker(tmp_path, kafka_bootstrap):  # kafka_bootstrap: the jars are fetched by then
    port = _free_port()
    env = {**os.environ, "TRACKWIRE_KAFKA_PORT": str(port), "TRACKWIRE_KAFKA_CONTROLLER_PORT": str(_free_port()),
           "TRACKWIRE_KAFKA_DATA_DIR": str(tmp_path / "kafka"), "TRACKWIRE_KAFKA_OWNER_PID": str(os.getpid())}

    def kafka(command: str) -> None:
        done = subprocess.run(["bash", str(KAFKA_SH), command], env=env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr

    kafka("start")
    try:
        yield f"127.0.0.1:{port}", kafka
    finally:
        kafka("stop")


async def _no_reply_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), seconds)
    except asyncio.TimeoutError:
        return True
    return data == b""


async def test_no_reply_while_broker_is_down_then_it_flows_again_with_nothing_lost(own_broker):
    bootstrap, kafka = own_broker
    prefix = "faults."
    async with running_listener(bootstrap, prefix, ack_timeout_s=3.0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(WATCH.LK_FULL)
        assert await read_exactly(reader, len(LK_REPLY)) == LK_REPLY

        await asyncio.to_thread(kafka, "stop")
        writer.write(WATCH.AL_SOS)  # an SOS while Kafka is down: it must not be acknowledged
        assert await _no_reply_within(reader, 5.0)
        # The listener itself is still up and accepting.
        probe_reader, probe_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        probe_writer.close()
        del probe_reader

        await asyncio.to_thread(kafka, "start")
        # The device repeats the unacknowledged alarm; now it is stored and acknowledged.
        reply = b""
        for _attempt in range(20):
            writer.write(WATCH.AL_SOS)
            try:
                reply = await read_exactly(reader, len(AL_REPLY), timeout_s=5.0)
                break
            except asyncio.TimeoutError:
                continue
        assert reply == AL_REPLY
        writer.close()
        messages = await read_topic(bootstrap, topic_names(prefix).raw_frames, 2, timeout_s=30)
    stored = [envelope.data for _, envelope in raw_frames(messages)]
    assert stored[0] == WATCH.LK_FULL
    assert WATCH.AL_SOS in stored  # every SOS the device sent while down was resent and stored
