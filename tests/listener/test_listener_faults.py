"""Kafka goes away: the listener must not acknowledge, must keep serving, and must recover by itself.

This test runs its own broker (deploy/local/kafka.sh on another port and data directory), because
it stops and restarts it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import subprocess

import pytest

from common.logging import RepeatFilter
from schemas.topics import topic_names
from tests.conftest import KAFKA_SH
from tests.listener.conftest import raw_frames, read_exactly, read_topic, running_listener
from tests.protocols import frames_watch as WATCH

pytestmark = pytest.mark.kafka

log = logging.getLogger(__name__)

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


# -- issue 16: the stall after a broker restart ------------------------------------------------
RESTARTS = int(os.environ.get("TRACKWIRE_TEST_BROKER_RESTARTS", "2"))  # CI time; 5+ by hand (see the docstring)
DEVICES = 20
ACK_TIMEOUT_S = 3.0
OVERDUE_S = float(os.environ.get("TRACKWIRE_TEST_OVERDUE_S", "10"))
RECOVERY_BOUND_S = float(os.environ.get("TRACKWIRE_TEST_RECOVERY_BOUND_S", OVERDUE_S + 40))  # overdue, then a new producer (its start retried with backoff)


class _Fleet:
    """Watches that send an LK, wait for its reply and resend on silence, as real ones do."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acks = 0
        self.running = True
        self.acked = asyncio.Event()

    async def device(self) -> None:
        while self.running:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                while self.running:
                    writer.write(WATCH.LK_FULL)
                    try:
                        await read_exactly(reader, len(LK_REPLY), timeout_s=ACK_TIMEOUT_S + 2)
                    except asyncio.TimeoutError:
                        continue  # no reply: resend
                    self.acks += 1
                    self.acked.set()
                    await asyncio.sleep(0.05)
            except (OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.2)
            finally:
                writer.close()

    async def next_ack_within(self, seconds: float) -> float:
        """Seconds until a reply arrives after now."""
        start = asyncio.get_running_loop().time()
        self.acked.clear()
        await asyncio.wait_for(self.acked.wait(), seconds)
        return asyncio.get_running_loop().time() - start


class _LineCounter(logging.Handler):
    """Counts log records by logger; with `collapse`, behind the RepeatFilter configure() installs."""

    def __init__(self, collapse: bool = False) -> None:
        super().__init__(logging.DEBUG)
        self.lines: collections.Counter = collections.Counter()
        if collapse:
            self.addFilter(RepeatFilter(self, 10.0))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines[record.name] += 1


def _producer_state(producer) -> dict:
    """What a stuck aiokafka producer was doing (private attributes: diagnosis only, in a test)."""
    sender, client = getattr(producer, "_sender", None), getattr(producer, "client", None)
    sync = getattr(client, "_sync_task", None)
    return {
        "in_flight_nodes": sorted(getattr(sender, "_in_flight", ())),
        "muted": sorted(str(tp) for tp in getattr(sender, "_muted_partitions", ())),
        "sender_done": bool(sender and sender.sender_task and sender.sender_task.done()),
        "metadata_task_done": bool(sync and sync.done()),
        "metadata_update_pending": getattr(client, "_md_update_fut", None) is not None,
    }


async def test_acks_resume_after_every_broker_restart(own_broker, capsys):
    bootstrap, kafka = own_broker
    counter, written = _LineCounter(), _LineCounter(collapse=True)
    for handler in (counter, written):
        logging.getLogger().addHandler(handler)
    stuck_states: list[dict] = []
    try:
        async with running_listener(bootstrap, "restarts.", ack_timeout_s=ACK_TIMEOUT_S,
                                    producer_overdue_s=OVERDUE_S) as server:
            publisher = server.publisher
            replace = publisher._replace_producer  # noqa: SLF001 - record the stuck producer's state first

            async def recording_replace(reason: str) -> None:
                stuck_states.append({"reason": reason, **_producer_state(publisher._producer)})  # noqa: SLF001
                await replace(reason)

            publisher._replace_producer = recording_replace  # type: ignore[method-assign]
            readiness: list[bool] = []

            async def sample_readiness() -> None:
                while True:
                    readiness.append(server._readyz()[0])  # noqa: SLF001
                    await asyncio.sleep(0.2)

            fleet = _Fleet(server.tcp_port)
            devices = [asyncio.ensure_future(fleet.device()) for _ in range(DEVICES)]
            sampler = asyncio.ensure_future(sample_readiness())
            try:
                await fleet.next_ack_within(20)
                recoveries = []
                for restart in range(RESTARTS):
                    await asyncio.to_thread(kafka, "stop")
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(kafka, "start")
                    log.info("restart %d: broker back", restart + 1)
                    recoveries.append(await fleet.next_ack_within(RECOVERY_BOUND_S))
                    log.info("restart %d: acks resumed after %.1f s", restart + 1, recoveries[-1])
                await asyncio.sleep(2 * publisher._watchdog_interval_s)  # noqa: SLF001
                ok, body = server._readyz()  # noqa: SLF001
            finally:
                fleet.running = False
                sampler.cancel()
                await asyncio.gather(*devices, sampler, return_exceptions=True)
    finally:
        for handler in (counter, written):
            logging.getLogger().removeHandler(handler)
    with capsys.disabled():
        print(f"\n{RESTARTS} restarts, acks resumed after (s): {[round(r, 1) for r in recoveries]}; "
              f"{fleet.acks} replies; producer replacements: {body['producer_replacements']}; "
              f"stuck producers: {stuck_states}; log records by logger: {dict(counter.lines)}; "
              f"lines written with the RepeatFilter: {dict(written.lines)}")
    assert len(recoveries) == RESTARTS and all(r < RECOVERY_BOUND_S for r in recoveries)
    assert ok and body["producer"] == "ok", body  # ready again at the end
    if body["producer_replacements"]:
        assert False in readiness  # a replaced producer was reported not ready meanwhile
