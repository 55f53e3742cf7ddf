"""The consume -> deliver -> commit loop with a fake consumer and a webhook-like destination that
answers per partition: what is committed, what is held, what is paused, what stops the loop."""

from __future__ import annotations

import asyncio
from collections import namedtuple

import pytest

from common.backoff import Backoff
from common.delivery import BatchPolicy, DeliveryLoop, PendingBatch

TP = namedtuple("TP", "topic partition")
Message = namedtuple("Message", "topic partition offset value")
A, B = TP("alerts", 0), TP("alerts", 1)


class FakeConsumer:
    def __init__(self, messages: dict[TP, list[bytes]]) -> None:
        self.pending = {tp: [Message(tp.topic, tp.partition, i, v) for i, v in enumerate(vs)]
                        for tp, vs in messages.items()}
        self._paused: set[TP] = set()
        self.commits: list[dict] = []
        self.polls = 0

    async def getmany(self, timeout_ms: int, max_records: int):
        self.polls += 1
        out = {}
        for tp, queue in self.pending.items():
            if tp in self._paused or not queue:
                continue
            out[tp], self.pending[tp] = queue[:max_records], queue[max_records:]
            max_records -= len(out[tp])
            if max_records <= 0:
                break
        if not out:
            await asyncio.sleep(timeout_ms / 1000)
        return out

    def assignment(self):
        return set(self.pending)

    def pause(self, *tps):
        self._paused |= set(tps)

    def resume(self, *tps):
        self._paused -= set(tps)

    def paused(self):
        return set(self._paused)

    async def commit(self, offsets):
        self.commits.append(dict(offsets))


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Webhook:
    """Delivers per partition; `down` partitions answer 503 (retriable), `broken` ones 400 (fatal)."""

    name = "webhook"

    def __init__(self) -> None:
        self.down: set[TP] = set()
        self.broken: set[TP] = set()
        self.delivered: list[bytes] = []
        self.attempts = 0

    def prepare(self, message) -> bytes:
        return message.value.upper()

    async def deliver(self, batch: PendingBatch):
        self.attempts += 1
        result = {}
        for tp, items in batch.items.items():
            if tp in self.broken:
                result[tp] = Refused(400)
            elif tp in self.down:
                result[tp] = Refused(503)
            else:
                self.delivered += items
                result[tp] = None
        return result

    def retriable(self, error: BaseException) -> bool:
        return isinstance(error, Refused) and error.status >= 500


def make_loop(destination, pause="all") -> DeliveryLoop:
    return DeliveryLoop(destination, BatchPolicy(max_rows=10, max_seconds=0.01), Backoff(0.02, 0.05),
                        shutdown_timeout_s=0.5, fetch_max_records=100, pause=pause)


async def run_until(loop: DeliveryLoop, consumer: FakeConsumer, condition, timeout: float = 5.0):
    stopping = asyncio.Event()
    task = asyncio.ensure_future(loop.run(consumer, stopping))
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline and not task.done():
        await asyncio.sleep(0.01)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert condition()


async def test_records_are_delivered_prepared_and_committed_after_delivery():
    consumer = FakeConsumer({A: [b"a0", b"a1"], B: [b"b0"]})
    hook = Webhook()
    loop = make_loop(hook)
    await run_until(loop, consumer, lambda: len(hook.delivered) == 3)
    assert sorted(hook.delivered) == [b"A0", b"A1", b"B0"]
    committed = {tp: off for c in consumer.commits for tp, off in c.items()}
    assert committed == {A: 2, B: 1} and loop.batch.count == 0


async def test_a_partition_that_fails_retriably_is_held_paused_and_retried_while_the_others_commit():
    consumer = FakeConsumer({A: [b"a0"], B: [b"b0"]})
    hook = Webhook()
    hook.down = {B}
    loop = make_loop(hook, pause="failed")
    stopping = asyncio.Event()
    task = asyncio.ensure_future(loop.run(consumer, stopping))
    while hook.attempts < 3:
        await asyncio.sleep(0.01)
    assert loop.waiting and consumer.paused() == {B}
    assert hook.delivered == [b"A0"] and {A: 1} in consumer.commits
    assert all(B not in c for c in consumer.commits)  # nothing of B committed while it fails
    assert loop.batch.items == {B: [b"B0"]}
    hook.down = set()
    while loop.waiting:
        await asyncio.sleep(0.01)
    assert hook.delivered == [b"A0", b"B0"] and {B: 1} in consumer.commits and consumer.paused() == set()
    stopping.set()
    await asyncio.wait_for(task, 5)


async def test_pause_all_stops_reading_every_partition_while_waiting():
    consumer = FakeConsumer({A: [b"a0"], B: [b"b0"]})
    hook = Webhook()
    hook.down = {A, B}
    loop = make_loop(hook)
    stopping = asyncio.Event()
    task = asyncio.ensure_future(loop.run(consumer, stopping))
    while hook.attempts < 2:
        await asyncio.sleep(0.01)
    assert consumer.paused() == {A, B} and consumer.commits == []
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert consumer.commits == []  # the stop could not deliver: nothing committed, read again later


async def test_a_fatal_error_commits_what_was_delivered_and_stops_the_loop():
    consumer = FakeConsumer({A: [b"a0"], B: [b"b0"]})
    hook = Webhook()
    hook.broken = {B}
    loop = make_loop(hook)
    with pytest.raises(Refused, match="HTTP 400"):
        await asyncio.wait_for(loop.run(consumer, asyncio.Event()), 5)
    assert consumer.commits == [{A: 1}]


async def test_a_destination_that_raises_fails_the_whole_batch():
    class Database(Webhook):
        async def deliver(self, batch):
            self.attempts += 1
            raise Refused(503)

    consumer = FakeConsumer({A: [b"a0"], B: [b"b0"]})
    db = Database()
    loop = make_loop(db)
    stopping = asyncio.Event()
    task = asyncio.ensure_future(loop.run(consumer, stopping))
    while db.attempts < 2:
        await asyncio.sleep(0.01)
    assert loop.waiting and loop.last_error == "HTTP 503" and loop.batch.count == 2
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert consumer.commits == []
