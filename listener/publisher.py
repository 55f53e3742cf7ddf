"""Publishing frames to Kafka with a bounded number in flight and the broker's ack as a future.

aiokafka's two-stage send: awaiting `send()` queues the record (and blocks while batches are full);
the returned future resolves when the broker acknowledged it (acks=all, idempotent). aiokafka has
no global buffer limit and, with idempotence, never expires a batch, so we cap frames in flight
ourselves (`capacity`) and callers time out their wait for the ack.

All sends go through one task, in order. aiokafka wakes every sender waiting for room in a full
batch at once and the race is unfair: with thousands of connections calling `send()` directly,
some waited past the request timeout (seen with 10,000 simulated devices). One sender task keeps
it first come, first served, and keeps each device's frames in order. The sender is supervised:
if it dies of a bug, every queued frame's ack fails (freeing its slot) and publishing is refused
from then on, so no waiter hangs and no slot leaks. Waits are events (`idle`, the queue drained),
not polls.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from common.kafka_security import aiokafka_options
from common.service import supervise
from common.settings import KafkaSettings
from listener import metrics

log = logging.getLogger(__name__)


class PublishRefused(Exception):
    """The record could not even be queued (metadata unavailable, producer closed)."""


class FramePublisher:
    def __init__(self, kafka: KafkaSettings, *, max_inflight: int, client_id: str, send_timeout_s: float) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            **aiokafka_options(kafka),
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
        self._queue: collections.deque[tuple[str, bytes | None, bytes, asyncio.Future]] = collections.deque()
        self._queue_ready = asyncio.Event()
        self._queue_empty = asyncio.Event()
        self._queue_empty.set()
        self._idle = asyncio.Event()  # no frame in flight
        self._idle.set()
        self._broken: str | None = None
        self._sender: asyncio.Future | None = None

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
        self._sender = supervise(asyncio.ensure_future(self._send_in_order()), "listener.publisher",
                                 self._sender_failed)
        self._started = True

    def _sender_failed(self, exc: BaseException) -> None:
        self._broken = f"publisher failed: {exc!r}"
        self._fail_queued(self._broken)

    def _fail_queued(self, reason: str) -> None:
        for _topic, _key, _value, ack in self._queue:
            if not ack.done():
                ack.set_exception(PublishRefused(reason))
        self._queue.clear()
        self._queue_empty.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until no frame is in flight (all acknowledged or failed), or the timeout; True if idle."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (bounded by timeout), then close. Idempotent."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        try:
            await asyncio.wait_for(self._queue_empty.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        self._fail_queued("listener stopped before the frame was sent")
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

        The future fails (PublishRefused or a KafkaError) if the record could not be sent.
        """
        if self._stopped or self._broken:
            raise PublishRefused(self._broken or "publisher is stopped")
        await self._slots.acquire()
        if self._broken:  # the sender died while this caller waited for a slot
            self._slots.release()
            raise PublishRefused(self._broken)
        self._inflight += 1
        self._idle.clear()
        metrics.INFLIGHT.set(self._inflight)
        ack: asyncio.Future = asyncio.get_running_loop().create_future()
        ack.add_done_callback(partial(self._on_ack, started=time.perf_counter()))
        self._queue.append((topic, key, value, ack))
        self._queue_empty.clear()
        self._queue_ready.set()
        return ack

    async def _send_in_order(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                self._queue_empty.set()
                self._queue_ready.clear()
                await self._queue_ready.wait()
                continue
            topic, key, value, ack = queue.popleft()
            try:
                # send() itself gives up after request_timeout_ms when metadata or batch space is missing.
                delivery = await self._producer.send(topic, value=value, key=key)
            except KafkaError as exc:
                if not ack.done():
                    ack.set_exception(PublishRefused(repr(exc)))
                continue
            except BaseException as exc:  # cancelled at stop, or a bug: this frame's waiter must not hang
                if not ack.done():
                    ack.set_exception(PublishRefused(f"not sent: {exc!r}"))
                raise
            delivery.add_done_callback(partial(_copy_outcome, ack))

    def _on_ack(self, fut: asyncio.Future, *, started: float) -> None:
        self._release()
        if fut.cancelled() or fut.exception() is not None:
            metrics.PRODUCE_ERRORS.inc()
        else:
            metrics.PRODUCE_LATENCY.observe(time.perf_counter() - started)

    def _release(self) -> None:
        self._inflight -= 1
        metrics.INFLIGHT.set(self._inflight)
        self._slots.release()
        if self._inflight == 0:
            self._idle.set()

    async def send_and_wait(self, topic: str, key: bytes | None, value: bytes) -> None:
        """For side records (dead letters): best effort with its own timeout."""
        await asyncio.wait_for(self._producer.send_and_wait(topic, value=value, key=key), self._send_timeout_s)


def _copy_outcome(target: asyncio.Future, source: asyncio.Future) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())
