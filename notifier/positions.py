"""The last known fix per device, for alerts that came without one: a group-less consumer follows
the positions topic into `payload.LastFixes` (bounded). At start it reads `lookback_s` back and the
notifier waits (at most `warmup_s`) until it caught up with what was there.

The processors keep each device's last fix too, but in a Faust table nothing outside them can read.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from notifier import metrics
from notifier.kafka_offsets import offsets_since, wait_for_leaders
from notifier.payload import LastFixes
from schemas.records import Position, from_msgpack

log = logging.getLogger("trackwire.notify")


class PositionsFollower:
    def __init__(self, bootstrap_servers: str, topic: str, fixes: LastFixes, *, lookback_s: float,
                 security: dict | None = None) -> None:
        self._security = security or {}  # TLS/SASL options (common.kafka_security.aiokafka_options)
        self.topic = topic
        self.fixes = fixes
        self.lookback_s = lookback_s
        self._bootstrap = bootstrap_servers
        self._consumer: AIOKafkaConsumer | None = None
        self._ends: dict = {}
        self.caught_up = asyncio.Event()

    async def start(self) -> None:
        """Assign every partition and seek `lookback_s` back; then run `follow()` in a task."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, **self._security,
                                    client_id="trackwire-notifier-positions", enable_auto_commit=False)
        self._consumer = consumer
        await consumer.start()
        partitions = (await wait_for_leaders(self._bootstrap, [self.topic], security=self._security))[self.topic]
        tps = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(tps)
        self._ends = await consumer.end_offsets(tps)  # caught up once past these
        for tp, offset in (await offsets_since(consumer, tps, self.lookback_s)).items():
            consumer.seek(tp, offset)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def follow(self) -> None:
        consumer = self._consumer
        assert consumer is not None, "start() first"
        while True:
            data = await consumer.getmany(timeout_ms=500, max_records=5000)
            for messages in data.values():
                for message in messages:
                    try:
                        record = from_msgpack(message.value)
                    except Exception:  # noqa: BLE001 - not ours to judge: the sink dead-letters bad records
                        continue
                    if isinstance(record, Position):
                        self.fixes.observe(record)
            metrics.KNOWN_FIXES.set(len(self.fixes))
            if not self.caught_up.is_set() and all([await consumer.position(tp) >= end
                                                    for tp, end in self._ends.items()]):
                self.caught_up.set()
                log.info("last known fixes: %d devices", len(self.fixes))
