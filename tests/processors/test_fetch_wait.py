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


def test_the_fetch_requests_to_the_broker_wait_at_most_as_long():
    # Faust creates its aiokafka consumer with fetch_max_wait_ms=1500; a request that went out for
    # idle partitions alone held new frames back that long (SOS p99 1.6-1.8 s in bench_notify).
    # The real Faust consumer thread of a real app, its real aiokafka consumer (not started).
    from common.settings import KafkaSettings
    from processors.app import ProcessorApp

    app = ProcessorApp(ProcessorSettings(fetch_wait_s=0.02), KafkaSettings(bootstrap_servers="127.0.0.1:1"), 3)

    async def created() -> int:
        kafka_consumer = app.app.consumer._thread._create_worker_consumer(app.app.transport)
        return kafka_consumer._fetch_max_wait_ms

    assert asyncio.run(created()) == 20
