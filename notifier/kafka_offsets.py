"""Two Kafka look-ups the notifier needs at start: where "N seconds back" is, and when a topic just
created is usable. Thin aiokafka calls, retried while a new topic settles."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

log = logging.getLogger("trackwire.notify")


async def offsets_since(consumer: AIOKafkaConsumer, tps: list, seconds: float, attempts: int = 30) -> dict:
    """Per partition the first offset of a record from the last `seconds`, else the end. The end is
    read first: whatever is written meanwhile is newer, so it is never skipped."""
    for attempt in range(1, attempts + 1):
        try:
            ends = await consumer.end_offsets(tps)
            found = await consumer.offsets_for_times({tp: int((time.time() - seconds) * 1000) for tp in tps})
            return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in tps}
        except KafkaError as exc:  # a topic created a moment ago may not have its leaders yet
            if attempt == attempts:
                raise
            log.info("offsets by time not available yet (%s); retrying", exc)
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def wait_for_leaders(bootstrap_servers: str, names: list[str], timeout_s: float = 30.0,
                           security: dict | None = None) -> dict[str, list[int]]:
    """Each topic's partitions, once every one of them has a leader: a consumer that joins before a
    topic created a moment ago has its leaders leaves that topic out until its next metadata refresh."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="trackwire-notifier", **(security or {}))
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            described = await admin.describe_topics(names)
            ready = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described
                     if not t["error_code"] and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])}
            if len(ready) == len(names):
                return ready
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(set(names) - set(ready)))
                raise RuntimeError(f"topics without leaders after {timeout_s:.0f} s: {missing}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
