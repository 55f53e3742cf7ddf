"""processors.app.bound_fetch_wait: Faust's fetch loop asks with at most the configured wait.

The effect on latency is measured by benchmarks/bench_notify.py (p99 1.8 s -> 88 ms with 200 frames/s
of background); here, that the wrapper passes the bounded timeout and everything the inner call yields."""

from __future__ import annotations

import asyncio

from processors.app import bound_fetch_wait
from processors.settings import ProcessorSettings


class FakeConsumer:
    """Faust's Consumer.getmany shape: an async generator of (tp, message) taking `timeout`."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    async def getmany(self, timeout: float):
        self.timeouts.append(timeout)
        for item in (("tp0", "m1"), ("tp1", "m2")):
            yield item


def test_the_wait_is_bounded_and_every_record_still_comes_through():
    consumer = FakeConsumer()
    bound_fetch_wait(consumer, 0.05)

    async def drain(timeout: float) -> list:
        return [item async for item in consumer.getmany(timeout=timeout)]

    assert asyncio.run(drain(1.0)) == [("tp0", "m1"), ("tp1", "m2")]  # Faust's own call: timeout=1.0
    assert asyncio.run(drain(0.01)) == [("tp0", "m1"), ("tp1", "m2")]  # a shorter wait stays shorter
    assert consumer.timeouts == [0.05, 0.01]


def test_the_default_wait_is_50_ms():
    assert ProcessorSettings().fetch_wait_s == 0.05
