"""Publishing frames to Kafka with a bounded number in flight and the broker's ack as a future.

aiokafka's two-stage send: awaiting `send()` queues the record (and blocks while batches are full);
the returned future resolves when the broker acknowledged it (acks=all, idempotent). aiokafka has
no global buffer limit and, with idempotence, never expires a batch, so we cap frames in flight
ourselves (`capacity`) and callers time out their wait for the ack.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from listener import metrics

log = logging.getLogger(__name__)


class PublishRefused(Exception):
    """The record could not even be queued (metadata unavailable, producer closed)."""


class FramePublisher:
    def __init__(self, bootstrap_servers: str, *, max_inflight: int, client_id: str, send_timeout_s: float) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            # aiokafka keeps one produce request in flight per broker; bigger batches carry more
            # frames per round trip when thousands of devices report at once.
            max_batch_size=256 * 1024,
            # Metadata waits in send() are bounded by this; retries of queued batches are not.
            request_timeout_ms=int(send_timeout_s * 1000),
            retry_backoff_ms=200,
        )
        self._slots = asyncio.Semaphore(max_inflight)
        self._max_inflight = max_inflight
        self._inflight = 0
        self._send_timeout_s = send_timeout_s
        self._started = False
        self._stopped = False

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def saturated(self) -> bool:
        return self._inflight >= self._max_inflight

    async def start(self) -> None:
        if self._started:
            return
        await self._producer.start()
        self._started = True

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (bounded by timeout), then close. Idempotent."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        try:
            await asyncio.wait_for(self._producer.flush(), timeout_s)
        except (asyncio.TimeoutError, KafkaError) as exc:
            log.warning("producer flush incomplete at shutdown: %r (%d frames unacknowledged)", exc, self._inflight)
        try:
            await asyncio.wait_for(self._producer.stop(), timeout_s)
        except asyncio.TimeoutError:
            log.warning("producer did not close within %.1fs", timeout_s)

    async def publish(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        """Queue one record; returns the future of the broker's ack. Waits while `capacity` is used up.

        Raises PublishRefused if it could not be queued within the send timeout.
        """
        await self._slots.acquire()
        self._inflight += 1
        metrics.INFLIGHT.set(self._inflight)
        started = time.perf_counter()
        try:
            # send() itself gives up after request_timeout_ms when metadata or batch space is missing.
            ack = await self._producer.send(topic, value=value, key=key)
        except KafkaError as exc:
            self._release()
            raise PublishRefused(repr(exc)) from exc
        except BaseException:
            self._release()
            raise
        ack.add_done_callback(lambda fut: self._on_ack(fut, started))
        return ack

    def _on_ack(self, fut: asyncio.Future, started: float) -> None:
        self._release()
        if fut.cancelled() or fut.exception() is not None:
            metrics.PRODUCE_ERRORS.inc()
        else:
            metrics.PRODUCE_LATENCY.observe(time.perf_counter() - started)

    def _release(self) -> None:
        self._inflight -= 1
        metrics.INFLIGHT.set(self._inflight)
        self._slots.release()

    async def send_and_wait(self, topic: str, key: bytes | None, value: bytes) -> None:
        """For side records (dead letters): best effort with its own timeout."""
        await asyncio.wait_for(self._producer.send_and_wait(topic, value=value, key=key), self._send_timeout_s)
