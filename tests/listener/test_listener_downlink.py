"""Downlink on the real broker with real sockets: a command a codec cannot encode, or that hits a
codec bug, is answered with an error on its result (and dead-lettered) while every other device on
the same listener keeps receiving commands; the listener then shuts down cleanly and flushes."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from protocols import gotop
from schemas.envelopes import DownlinkCommand
from tests.listener.conftest import dead_letters, raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_gotop as GOTOP
from tests.protocols import frames_watch as WATCH

pytestmark = pytest.mark.kafka

GOTOP_ID = "861785001515349"  # NODE_CMD_X
WATCH_ID = "4700186508"  # LK_FULL
LK_REPLY = b"[3G*4700186508*0002*LK]"


def failed_count(kind: str) -> float:
    return REGISTRY.get_sample_value("trackwire_listener_commands_failed_total",
                                     {"protocol": "gotop", "kind": kind}) or 0.0


async def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_bad_command_fails_on_its_result_and_other_devices_keep_their_commands(
        kafka_bootstrap, kafka_prefix, names, monkeypatch):
    def broken_power_off(params, password):  # a codec bug, injected into the real codec
        raise KeyError("slot")

    monkeypatch.setitem(gotop._ENCODERS, "power_off", broken_power_off)
    unsupported_before, bugs_before = failed_count("unsupported"), failed_count("codec_bug")
    async with running_listener(kafka_bootstrap, kafka_prefix) as server:
        gotop_reader, gotop_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        gotop_writer.write(GOTOP.NODE_CMD_X)  # GOTOP is never answered: wait until it is bound
        await wait_for(lambda: server.connection_for(GOTOP_ID) is not None)
        watch_reader, watch_writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        watch_writer.write(WATCH.LK_FULL)
        assert await read_exactly(watch_reader, len(LK_REPLY)) == LK_REPLY

        commands = [
            DownlinkCommand("c1", GOTOP_ID, "set_interval", {"seconds": "5000"}),  # gotop cannot express it
            DownlinkCommand("c2", GOTOP_ID, "power_off"),  # hits the codec bug
            DownlinkCommand("c3", WATCH_ID, "locate"),  # another device, same listener
            DownlinkCommand("c4", GOTOP_ID, "locate"),  # the same device, after its two failures
        ]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for command in commands:
                await producer.send_and_wait(names.commands, key=command.device_id.encode(), value=command.to_msgpack())
        finally:
            await producer.stop()

        assert await read_exactly(watch_reader, len(b"[3G*4700186508*0002*CR]")) == b"[3G*4700186508*0002*CR]"
        assert await read_exactly(gotop_reader, len(b":123456F#")) == b":123456F#"
        await wait_for(lambda: len(server.commands.results) == 4)
        results = {r.command_id: r for r in server.commands.results}
        assert (results["c1"].status, results["c1"].bug) == ("failed", False)
        assert "5000" in results["c1"].reason
        assert (results["c2"].status, results["c2"].bug) == ("failed", True)
        assert results["c2"].reason == "codec bug in gotop: KeyError: 'slot'"
        assert results["c3"].status == results["c4"].status == "delivered"
        assert failed_count("unsupported") == unsupported_before + 1
        assert failed_count("codec_bug") == bugs_before + 1

        # Both failures are on the dead-letter topic, the command as data, a bug's reason marked.
        letters = dead_letters(await read_topic(kafka_bootstrap, names.dead_letters, 2))
        by_id = {DownlinkCommand.from_msgpack(letter.data).command_id: letter for letter in letters}
        assert by_id["c1"].reason.startswith("command c1 (set_interval) not sent: ")
        assert by_id["c2"].reason == "command c2 (power_off) not sent: codec bug in gotop: KeyError: 'slot'"
        assert {letter.device_id for letter in letters} == {GOTOP_ID}

        # A clean shutdown afterwards: the frame sent just before is published (producer flushed).
        gotop_writer.write(GOTOP.NODE_CMD_X)
        await gotop_writer.drain()
        await asyncio.sleep(0.1)
        await asyncio.wait_for(server.stop(), 30)
        assert not server.commands.running
        for writer in (gotop_writer, watch_writer):
            writer.close()
    frames = raw_frames(await read_topic(kafka_bootstrap, names.raw_frames, 3))
    assert [frame.data for _, frame in frames if frame.protocol == "gotop"] == [GOTOP.NODE_CMD_X] * 2
