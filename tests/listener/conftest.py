"""A listener on ephemeral ports in the test's event loop, wired to the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer

from listener.server import ListenerServer
from listener.settings import ListenerSettings
from schemas.envelopes import DeadLetter, RawFrame, frames_of
from schemas.topics import TopicNames, topic_names
from common.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics


@contextlib.asynccontextmanager
async def running_listener(bootstrap: str, prefix: str, **overrides):
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=1)
    await ensure_topics(kafka)
    settings = ListenerSettings(host="127.0.0.1", port=0, http_host="127.0.0.1", http_port=0,
                                instance_id="test-listener", **overrides)
    server = ListenerServer(settings, kafka, topic_names(prefix))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass(frozen=True)
class FrameMessage:
    """One frame of a raw-frames message as if it had been a message of its own (a frame batch,
    schemas.envelopes.pack_frame_batch, holds several), with the Kafka message it came in."""

    key: bytes | None
    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp: int
    batched: bool


def frame_messages(message) -> list[FrameMessage]:
    items = frames_of(message.key, message.value)
    return [FrameMessage(key, value, message.topic, message.partition, message.offset, message.timestamp,
                         len(items) > 1 or key != message.key) for key, value in items]


async def read_topic(bootstrap: str, topic: str, count: int, timeout_s: float = 20.0) -> list:
    """Read `count` messages from the start of `topic` (fails the test if fewer arrive); a frame
    batch counts as its frames, each given as a FrameMessage."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    messages = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(messages) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                messages.extend(f for record in records for f in frame_messages(record))
    finally:
        await consumer.stop()
    assert len(messages) >= count, f"expected {count} messages on {topic}, got {len(messages)}"
    return messages


def raw_frames(messages) -> list[tuple[bytes, RawFrame]]:
    return [(m.key, RawFrame.from_msgpack(m.value)) for m in messages]


def dead_letters(messages) -> list[DeadLetter]:
    return [DeadLetter.from_msgpack(m.value) for m in messages]


async def read_exactly(reader: asyncio.StreamReader, n: int, timeout_s: float = 10.0) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), timeout_s)


@pytest.fixture
def names(kafka_prefix) -> TopicNames:
    return topic_names(kafka_prefix)
