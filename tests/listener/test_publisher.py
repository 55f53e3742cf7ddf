"""FramePublisher driven with stand-in producers (no Kafka): a sender that dies of a bug, and the
stall watchdog facing a producer whose acks never come (the broker-restart stall of issue 16)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY

from common.settings import KafkaSettings
from listener.publisher import FramePublisher, PublishRefused

KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:1")


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class _DyingProducer:
    """An aiokafka producer stand-in whose send() hits a bug (not a KafkaError)."""

    async def start(self) -> None:
        pass

    async def send(self, topic, value, key):
        raise RuntimeError("bug in the sender")

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        pass


async def test_a_publisher_whose_sender_dies_fails_its_acks_frees_its_slots_and_refuses_more():
    publisher = FramePublisher(KAFKA, max_inflight=2, client_id="unit", send_timeout_s=1.0,
                               producer_factory=_DyingProducer)
    failures = metric("trackwire_background_task_failures_total", task="listener.publisher")
    await publisher.start()
    ack = await publisher.publish("t", b"k", b"v")
    with pytest.raises(PublishRefused, match="bug in the sender"):
        await asyncio.wait_for(ack, 5)
    assert publisher.inflight == 0 and await publisher.wait_idle(1)
    with pytest.raises(PublishRefused, match="publisher failed"):
        await publisher.publish("t", b"k", b"v")
    assert metric("trackwire_background_task_failures_total", task="listener.publisher") == failures + 1
    await publisher.stop(1)


class _Producer:
    """A producer stand-in. `stalled`: send() queues the record and its ack never comes, and stop()
    hangs the way a stuck aiokafka producer's flush does. Otherwise every send is acknowledged."""

    def __init__(self, *, stalled: bool) -> None:
        self.stalled = stalled
        self.sent: list[bytes] = []
        self.started = self.stop_called = self.stop_finished = False
        self.client = self  # the publisher closes a producer's client when its stop() is stuck
        self.client_closed = False

    async def start(self) -> None:
        self.started = True

    async def send(self, topic, value, key):
        self.sent.append(value)
        ack = asyncio.get_running_loop().create_future()
        if not self.stalled:
            ack.set_result(("offset", len(self.sent)))
        return ack

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        self.stop_called = True
        if self.stalled:
            await asyncio.Event().wait()  # never: the batches are never acknowledged
        self.stop_finished = True

    async def close(self) -> None:  # as client.close()
        self.client_closed = True


async def test_the_watchdog_replaces_a_producer_whose_acks_never_come():
    made: list[_Producer] = []

    def factory() -> _Producer:
        made.append(_Producer(stalled=not made))  # the first one stalls, the next ones work
        return made[-1]

    publisher = FramePublisher(KAFKA, max_inflight=4, client_id="unit", send_timeout_s=0.2,
                               overdue_s=0.5, watchdog_interval_s=0.05, producer_factory=factory)
    replaced = metric("trackwire_listener_producer_replacements_total")
    await publisher.start()
    try:
        acks = [await publisher.publish("t", b"k", f"frame {n}".encode()) for n in range(3)]
        await asyncio.sleep(0.2)
        ok, body = publisher.health()
        assert ok and body["producer"] == "ok" and 0.1 < body["oldest_unacked_s"] < 0.5
        assert not any(ack.done() for ack in acks) and made[0].sent == [b"frame 0", b"frame 1", b"frame 2"]

        # Past the overdue limit: every waiting ack fails (slots freed), the stuck producer is told
        # to stop and, as its stop() hangs, its client is closed; a second producer is started.
        results = await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), 2)
        assert all(isinstance(r, PublishRefused) and "stalled" in str(r) for r in results)
        assert publisher.inflight == 0
        assert metric("trackwire_listener_producer_replacements_total") == replaced + 1
        assert len(made) == 2 and made[1].started and made[0].stop_called
        ok, body = publisher.health()
        assert not ok and body["producer"].startswith("replaced") and "no frame acknowledged" in body["reason"]
        assert body["producer_replacements"] == 1
        for _ in range(40):  # the bounded stop: send_timeout_s, then the client is closed
            if made[0].client_closed:
                break
            await asyncio.sleep(0.05)
        assert made[0].client_closed and not made[0].stop_finished

        # The new producer acknowledges: ready again, and nothing more went to the stuck one.
        ack = await publisher.publish("t", b"k", b"frame 3")
        assert await asyncio.wait_for(ack, 1) == ("offset", 1)
        assert made[1].sent == [b"frame 3"] and len(made[0].sent) == 3
        ok, body = publisher.health()
        assert ok and body["producer"] == "ok"
        assert metric("trackwire_listener_producer_stalled") == 0
    finally:
        await publisher.stop(1)


class _RefusingProducer(_Producer):
    """After a broker restart the stuck aiokafka producer refused every send() after its timeout."""

    async def send(self, topic, value, key):
        self.sent.append(value)
        raise KafkaTimeoutError()


async def test_the_watchdog_also_replaces_a_producer_that_refuses_every_frame():
    made: list[_Producer] = []

    def factory() -> _Producer:
        made.append(_RefusingProducer(stalled=False) if not made else _Producer(stalled=False))
        return made[-1]

    publisher = FramePublisher(KAFKA, max_inflight=4, client_id="unit", send_timeout_s=0.2,
                               overdue_s=0.5, watchdog_interval_s=0.05, producer_factory=factory)
    await publisher.start()
    try:
        # Each frame fails at once, so none is ever old; the devices keep resending.
        for n in range(8):
            with pytest.raises(PublishRefused):
                await asyncio.wait_for(await publisher.publish("t", b"k", b"v"), 1)
            await asyncio.sleep(0.1)
            if len(made) > 1:
                break
        assert len(made) == 2 and len(made[0].sent) >= 4, "refusing producer not replaced"
        assert await asyncio.wait_for(await publisher.publish("t", b"k", b"v"), 1) == ("offset", 1)
        assert publisher.health()[0]
    finally:
        await publisher.stop(1)


async def test_readiness_turns_false_as_soon_as_a_frame_is_overdue_even_before_the_watchdog_looks():
    publisher = FramePublisher(KAFKA, max_inflight=4, client_id="unit", send_timeout_s=0.2, overdue_s=0.3,
                               watchdog_interval_s=60, producer_factory=lambda: _Producer(stalled=True))
    await publisher.start()
    try:
        await publisher.publish("t", b"k", b"v")
        await asyncio.sleep(0.4)
        ok, body = publisher.health()
        assert not ok and body["producer"] == "overdue" and body["oldest_unacked_s"] >= 0.3
    finally:
        await publisher.stop(0.2)  # its stuck stop() is bounded by the timeout


class _PartitionedProducer:
    """A producer stand-in with 3 partitions that records (value, key, partition) and acknowledges
    each message when `release()` is called, so frames pile up in the publisher's queue meanwhile."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes | None, int | None]] = []
        self.gate = asyncio.Event()

    async def start(self) -> None:
        pass

    async def partitions_for(self, topic):
        return {0, 1, 2}

    async def send(self, topic, value, key, partition=None):
        if not self.sent:
            await self.gate.wait()  # hold the first send: what arrives meanwhile is queued
        self.sent.append((value, key, partition))
        ack = asyncio.get_running_loop().create_future()
        ack.set_result(("offset", len(self.sent)))
        return ack

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        pass


async def test_frames_queued_together_go_out_as_one_batch_per_partition_in_order():
    from aiokafka.partitioner import murmur2

    from schemas.envelopes import frames_of

    producer = _PartitionedProducer()
    publisher = FramePublisher(KAFKA, max_inflight=100, client_id="unit", send_timeout_s=1.0,
                               producer_factory=lambda: producer, frames_per_message=4)
    await publisher.start()
    try:
        keys = [f"35868800000{n:04d}".encode() for n in range(6)]
        first = await publisher.publish("t", keys[0], b"first")  # held in send(): the rest queue up
        await asyncio.sleep(0.01)
        frames = [(keys[n % 6], f"frame {n}".encode()) for n in range(18)]
        acks = [await publisher.publish("t", key, value) for key, value in frames]
        producer.gate.set()
        await asyncio.wait_for(asyncio.gather(first, *acks), 2)
        assert publisher.inflight == 0
        # Default partitioner's choice for each key, as Kafka's (murmur2) would make it.
        partition_of = {key: (murmur2(key) & 0x7FFFFFFF) % 3 for key in keys}
        delivered = []
        for value, key, partition in producer.sent[1:]:
            items = frames_of(key, value)
            assert len(items) <= 4
            if len(items) > 1:
                assert key is None and partition is not None
            for item_key, item_value in items:
                assert partition is None or partition_of[item_key] == partition
                delivered.append((item_key, item_value))
        assert sorted(delivered) == sorted(frames)
        for key in keys:  # each device's frames in the order they were published
            assert [v for k, v in delivered if k == key] == [v for k, v in frames if k == key]
        assert len(producer.sent) - 1 < len(frames)  # batched: fewer messages than frames
    finally:
        await publisher.stop(1)


async def test_a_batch_round_whose_partitions_cannot_be_learned_fails_its_frames():
    class NoMetadata(_PartitionedProducer):
        async def partitions_for(self, topic):
            raise KafkaTimeoutError()

    producer = NoMetadata()
    publisher = FramePublisher(KAFKA, max_inflight=100, client_id="unit", send_timeout_s=1.0,
                               producer_factory=lambda: producer, frames_per_message=4)
    await publisher.start()
    try:
        first = await publisher.publish("t", b"k0", b"first")
        await asyncio.sleep(0.01)
        acks = [await publisher.publish("t", f"k{n}".encode(), b"v") for n in range(5)]
        producer.gate.set()
        assert await asyncio.wait_for(first, 2) == ("offset", 1)
        results = await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), 2)
        assert all(isinstance(r, PublishRefused) and "KafkaTimeoutError" in str(r) for r in results)
        assert publisher.inflight == 0
    finally:
        await publisher.stop(1)
