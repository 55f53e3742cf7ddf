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
