"""TcpConnection driven without sockets or Kafka: a fake transport records what the connection does
to the socket, a fake publisher hands out the ack futures the test resolves (uvicorn's
tests/protocols/test_http.py does the same with its MockTransport). The real Ingest and the real
watch codec sit between them, so the bytes written are the codec's real replies.

Frames: real watch frames from tests/protocols/frames_watch.py (cited there)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from listener.connections import ConnectionTable
from listener.ingest import Ingest
from listener.publisher import PublishRefused
from listener.settings import ListenerSettings
from listener.tcp import QUEUE_FULL, SHUTDOWN, WRITE_BUFFER_FULL, TcpConnection
from schemas.envelopes import RawFrame
from schemas.topics import topic_names
from tests.protocols import frames_watch as WATCH

LK_REPLY = b"[3G*4700186508*0002*LK]"
AL_REPLY = b"[3G*8809008845*0002*AL]"
TOPICS = topic_names("unit.")


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.calls: list[str] = []  # pause_reading / resume_reading / close / abort, in order
        self.closing = False

    def get_extra_info(self, name: str, default=None):
        return ("192.0.2.7", 40001) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.calls.append("pause_reading")

    def resume_reading(self) -> None:
        self.calls.append("resume_reading")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closing = True


class FakePublisher:
    """publish() returns a fresh future per frame; `gate` closed makes publish() wait (Kafka slow)."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future] = []
        self.published: list[tuple[str, bytes, bytes]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_with: BaseException | None = None
        self.queued = asyncio.Condition()

    async def publish(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        ack = asyncio.get_running_loop().create_future()
        self.published.append((topic, key, value))
        self.acks.append(ack)
        async with self.queued:
            self.queued.notify_all()
        return ack

    async def send_and_wait(self, topic, key, value) -> None:  # dead letters
        self.published.append((topic, key, value))

    async def wait_for(self, count: int) -> None:
        async with self.queued:
            await asyncio.wait_for(self.queued.wait_for(lambda: len(self.acks) >= count), 5)


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def connect(publisher: FakePublisher, **settings) -> tuple[TcpConnection, FakeTransport, ConnectionTable]:
    config = ListenerSettings(instance_id="unit", **settings)
    table = ConnectionTable(config.max_connections, config.max_connections_per_ip)
    table.accepting = True
    conn = TcpConnection(config, Ingest(publisher, TOPICS, "unit", None), table)  # type: ignore[arg-type]
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, table


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_frames_are_published_in_order_with_their_envelopes():
    publisher = FakePublisher()
    conn, _transport, table = connect(publisher)
    conn.data_received(WATCH.LK_FULL + WATCH.AL_SOS)
    await publisher.wait_for(2)
    assert [(topic, key) for topic, key, _ in publisher.published] == [
        (TOPICS.raw_frames, b"4700186508"), (TOPICS.raw_frames, b"8809008845")]
    envelopes = [RawFrame.from_msgpack(value) for _, _, value in publisher.published]
    assert [(e.data, e.protocol, e.transport, e.peer) for e in envelopes] == [
        (WATCH.LK_FULL, "watch", "tcp", "192.0.2.7:40001"), (WATCH.AL_SOS, "watch", "tcp", "192.0.2.7:40001")]
    assert [e.frame_id for e in envelopes] == [f"{conn.connection_id}-1", f"{conn.connection_id}-2"]
    assert table.connection_for("8809008845") is conn and len(table) == 1


async def test_replies_are_written_in_frame_order_whatever_order_kafka_acknowledges():
    publisher = FakePublisher()
    conn, transport, _ = connect(publisher)
    conn.data_received(WATCH.LK_FULL + WATCH.AL_SOS)
    await publisher.wait_for(2)
    first, second = publisher.acks
    second.set_result(None)
    await settle()
    assert transport.written == []  # the second frame's reply waits for the first frame's ack
    first.set_result(None)
    await settle()
    assert transport.written == [LK_REPLY, AL_REPLY]


async def test_an_ack_that_never_comes_expires_and_releases_the_replies_behind_it():
    publisher = FakePublisher()
    conn, transport, _ = connect(publisher, ack_timeout_s=0.05)
    before = metric("trackwire_listener_frames_unacknowledged_total", why="timeout")
    conn.data_received(WATCH.LK_FULL + WATCH.AL_SOS)
    await publisher.wait_for(2)
    publisher.acks[1].set_result(None)
    await asyncio.sleep(0.2)
    assert transport.written == [AL_REPLY]  # no reply for the unacknowledged frame: the device resends it
    assert metric("trackwire_listener_frames_unacknowledged_total", why="timeout") == before + 1


async def test_a_failed_ack_gets_no_reply():
    publisher = FakePublisher()
    conn, transport, _ = connect(publisher)
    conn.data_received(WATCH.LK_FULL + WATCH.AL_SOS)
    await publisher.wait_for(2)
    publisher.acks[0].set_exception(PublishRefused("broker said no"))
    publisher.acks[1].set_result(None)
    await settle()
    assert transport.written == [AL_REPLY]


async def test_reading_pauses_while_frames_queue_and_resumes_when_they_drain():
    publisher = FakePublisher()
    publisher.gate.clear()  # Kafka slow: publish() waits
    conn, transport, _ = connect(publisher, max_inflight_per_connection=2)
    conn.data_received(WATCH.LK_FULL * 3)
    assert conn.paused_for == {QUEUE_FULL} and transport.calls == ["pause_reading"]
    publisher.gate.set()
    await publisher.wait_for(3)
    await settle()
    assert conn.paused_for == frozenset() and transport.calls == ["pause_reading", "resume_reading"]


async def test_a_full_write_buffer_keeps_reading_paused_after_the_queue_drained():
    publisher = FakePublisher()
    publisher.gate.clear()
    conn, transport, _ = connect(publisher, max_inflight_per_connection=2)
    conn.data_received(WATCH.LK_FULL * 3)
    conn.pause_writing()  # the device stopped reading its replies
    assert conn.paused_for == {QUEUE_FULL, WRITE_BUFFER_FULL}
    publisher.gate.set()
    await publisher.wait_for(3)
    await settle()
    assert conn.paused_for == {WRITE_BUFFER_FULL} and transport.calls == ["pause_reading"]
    conn.resume_writing()
    assert conn.paused_for == frozenset() and transport.calls == ["pause_reading", "resume_reading"]


async def test_shutdown_stops_reading_for_good_and_still_answers_what_was_read():
    publisher = FakePublisher()
    publisher.gate.clear()
    conn, transport, _ = connect(publisher, max_inflight_per_connection=2)
    conn.data_received(WATCH.LK_FULL * 3)
    conn.stop_reading()
    publisher.gate.set()  # the queue drains: that must not re-open reading during shutdown
    await publisher.wait_for(3)
    await settle()
    assert conn.paused_for == {SHUTDOWN} and transport.calls == ["pause_reading"]
    for ack in publisher.acks:
        ack.set_result(None)
    await settle()
    assert transport.written == [LK_REPLY] * 3


async def test_frames_read_before_the_device_hung_up_are_still_published():
    publisher = FakePublisher()
    publisher.gate.clear()
    conn, _transport, table = connect(publisher)
    conn.data_received(WATCH.LK_FULL + WATCH.AL_SOS)
    conn.connection_lost(None)
    assert len(table) == 0 and table.connection_for("8809008845") is None
    publisher.gate.set()
    await publisher.wait_for(2)
    await asyncio.wait_for(conn.wait_published(), 5)  # the worker ends after the last frame read
    assert [RawFrame.from_msgpack(v).data for _, _, v in publisher.published] == [WATCH.LK_FULL, WATCH.AL_SOS]


async def test_a_publish_worker_that_dies_of_a_bug_closes_the_connection_and_is_counted():
    publisher = FakePublisher()
    publisher.fail_with = RuntimeError("bug in the publish path")
    failures = metric("trackwire_background_task_failures_total", task="listener.tcp_publish")
    conn, transport, _ = connect(publisher)
    conn.data_received(WATCH.LK_FULL)
    await settle()
    assert "abort" in transport.calls
    assert metric("trackwire_background_task_failures_total", task="listener.tcp_publish") == failures + 1


async def test_a_refused_connection_is_aborted_and_counted():
    publisher = FakePublisher()
    refused = metric("trackwire_listener_connections_rejected_total", reason="max_connections_per_ip")
    _first, _, table = connect(publisher, max_connections_per_ip=1)
    second = TcpConnection(ListenerSettings(instance_id="unit"), Ingest(publisher, TOPICS, "unit", None), table)  # type: ignore[arg-type]
    transport = FakeTransport()
    table.max_per_ip = 1
    second.connection_made(transport)  # type: ignore[arg-type]
    assert transport.calls == ["abort"] and len(table) == 1
    assert metric("trackwire_listener_connections_rejected_total", reason="max_connections_per_ip") == refused + 1
