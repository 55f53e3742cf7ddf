"""Dead letters of the notifier: alerts a webhook never took, written to the dead-letter topic
(stage "notifier") in the order they were given up, each retried with backoff until Kafka
acknowledges it; only then is the alert done for that webhook (its offset may be committed).

The queue is not bounded here: every letter stands for an alert the notifier still counts as
unfinished, and those are bounded by `max_unfinished` (reading pauses past it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from notifier import metrics
from notifier.routing import Source
from schemas.envelopes import DeadLetter
from schemas.topics import device_key
from common.backoff import Backoff

log = logging.getLogger("trackwire.notify")

STAGE = "notifier"


@dataclass(slots=True)
class Letter:
    source: Source
    reason: str  # for a person: which webhook, why, the last answer


def dead_letter(letter: Letter, at_ms: int) -> tuple[bytes | None, bytes]:
    """(key, value) of the dead-letter message: the alert exactly as read, and why."""
    source, alert = letter.source, letter.source.alert
    value = DeadLetter(stage=STAGE, reason=letter.reason, data=source.value, at_ms=at_ms,
                       protocol=alert.protocol if alert else None, device_id=alert.device_id if alert else None,
                       frame_id=alert.frame_id if alert else None, source_topic=source.topic).to_msgpack()
    return (device_key(alert.device_id) if alert and alert.device_id else None), value


class DeadLetterWriter:
    def __init__(self, producer: AIOKafkaProducer, topic: str, on_written: Callable[[Source], None]) -> None:
        self._producer = producer
        self._topic = topic
        self._on_written = on_written
        self._queue: asyncio.Queue[Letter] = asyncio.Queue()
        self._backoff = Backoff(0.5, 30.0)

    def put(self, letter: Letter) -> None:
        self._queue.put_nowait(letter)

    def pending(self) -> int:
        return self._queue.qsize()

    async def drained(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            letter = await self._queue.get()
            key, value = dead_letter(letter, int(time.time() * 1000))
            attempt = 0
            while True:
                try:
                    await self._producer.send_and_wait(self._topic, value, key=key)
                    break
                except KafkaError as exc:
                    attempt += 1
                    metrics.DEAD_LETTER_ERRORS.inc()
                    delay = self._backoff.delay(attempt)
                    log.warning("dead letter not written (%s); attempt %d, retry in %.1f s", exc, attempt, delay)
                    await asyncio.sleep(delay)
            self._on_written(letter.source)
            self._queue.task_done()
