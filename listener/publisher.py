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

The stall watchdog. After a broker restart an aiokafka producer can stop acknowledging for good
(its last word a `NotLeaderForPartitionError ... retrying`; aio-libs/aiokafka#1018, where a new
producer object worked). An idempotent batch never expires, so nothing inside the client ends the
wait. A watchdog task therefore looks at the oldest unacknowledged frame once a second: older than
`overdue_s` (twice the request timeout by default), or every frame failed for that long (seen
here: after a restart the stuck producer's send() refused each frame after the request timeout,
so no single frame was ever old), and the publisher reports not ready (`health()`,
served by /readyz), fails every unacknowledged frame (the devices get no reply and resend: at
least once, duplicates collapse downstream), stops the stuck producer in the background within a
bounded time, and starts a fresh one with the same options. It is ready again once the new
producer acknowledged a frame, or has started and has nothing to acknowledge.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from functools import partial
from typing import Any, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from common.backoff import Backoff
from common.kafka_security import aiokafka_options
from common.service import supervise
from common.settings import KafkaSettings
from listener import metrics
from schemas.envelopes import pack_frame_batch
from schemas.topics import partition_for

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_S = 1.0
RESTART_BACKOFF = Backoff(initial_s=0.5, max_s=5.0)
MAX_TAKE = 4096  # frames taken from the queue per round of batching


class PublishRefused(Exception):
    """The record could not even be queued (metadata unavailable, producer closed or replaced)."""


def aiokafka_producer(kafka: KafkaSettings, *, client_id: str, send_timeout_s: float) -> AIOKafkaProducer:
    return AIOKafkaProducer(
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


class FramePublisher:
    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        max_inflight: int,
        client_id: str,
        send_timeout_s: float,
        overdue_s: float | None = None,
        producer_factory: Callable[[], Any] | None = None,
        watchdog_interval_s: float = WATCHDOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        frames_per_message: int = 1,
        batch_max_bytes: int = 64 * 1024,
    ) -> None:
        # >1: frames queued for the same partition go out as one frame-batch message (under load;
        # a lone frame is still a plain RawFrame); see schemas.envelopes.pack_frame_batch.
        self._frames_per_message = frames_per_message
        self._batch_max_bytes = batch_max_bytes
        # A factory, because the watchdog makes a new producer with the same options.
        self._new_producer = producer_factory or partial(
            aiokafka_producer, kafka, client_id=client_id, send_timeout_s=send_timeout_s)
        self._producer: Any = None
        self._producer_ready = asyncio.Event()
        self._slots = asyncio.Semaphore(max_inflight)
        self._max_inflight = max_inflight
        self._inflight = 0
        self._send_timeout_s = send_timeout_s
        self.overdue_s = overdue_s if overdue_s is not None else 2 * send_timeout_s
        self._watchdog_interval_s = watchdog_interval_s
        self._clock = clock
        self._started = False
        self._stopped = False
        self._queue: collections.deque[tuple[str, bytes | None, bytes, asyncio.Future]] = collections.deque()
        self._queue_ready = asyncio.Event()
        self._queue_empty = asyncio.Event()
        self._queue_empty.set()
        self._idle = asyncio.Event()  # no frame in flight
        self._idle.set()
        # Every frame not yet acknowledged, oldest first, with when it was queued; acknowledged
        # ones are dropped from the head as the watchdog looks.
        self._unacked: collections.deque[tuple[float, asyncio.Future]] = collections.deque()
        self._failing_since: float | None = None  # first failed ack since the last successful one
        self._generation = 0  # bumped at each producer replacement: older acks cannot prove the new one works
        self._stall: str | None = None  # why the producer was replaced, until the new one proves itself
        self.replacements = 0
        self._broken: str | None = None
        self._sender: asyncio.Future | None = None
        self._watchdog: asyncio.Future | None = None
        self._closing: set[asyncio.Future] = set()

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def saturated(self) -> bool:
        return self._inflight >= self._max_inflight

    async def start(self) -> None:
        if self._started:
            return
        self._producer = self._new_producer()
        await self._producer.start()
        self._producer_ready.set()
        self._sender = supervise(asyncio.ensure_future(self._send_in_order()), "listener.publisher",
                                 self._sender_failed)
        self._watchdog = supervise(asyncio.ensure_future(self._watch()), "listener.publisher_watchdog",
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

    # -- readiness and the stall watchdog ---------------------------------------------------
    def oldest_unacked_age(self) -> float:
        unacked = self._unacked
        while unacked and unacked[0][1].done():
            unacked.popleft()
        return self._clock() - unacked[0][0] if unacked else 0.0

    def unacked_age(self) -> float:
        """How long frames have waited in vain: the oldest unacknowledged one, or, if longer, the
        time since frames started failing without a successful ack in between."""
        failing = self._clock() - self._failing_since if self._failing_since is not None else 0.0
        return max(self.oldest_unacked_age(), failing)

    def health(self) -> tuple[bool, dict]:
        """(ready, details) for /readyz: not ready while the producer is overdue or being replaced."""
        age = self.unacked_age()
        details: dict = {"oldest_unacked_s": round(age, 1), "producer_replacements": self.replacements}
        if self._broken:
            return False, {**details, "producer": "failed", "reason": self._broken}
        if self._stall is not None:
            state = "replacing" if not self._producer_ready.is_set() else "replaced, awaiting its first ack"
            return False, {**details, "producer": state, "reason": self._stall}
        if age > self.overdue_s:
            return False, {**details, "producer": "overdue",
                           "reason": f"no frame acknowledged for {age:.1f} s (limit {self.overdue_s:.1f} s)"}
        return True, {**details, "producer": "ok"}

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watchdog_interval_s)
            age = self.unacked_age()
            metrics.OLDEST_UNACKED.set(age)
            if self._stall is not None and self._producer_ready.is_set() and self._inflight == 0:
                self._recovered("started and has nothing left to acknowledge")
            if age > self.overdue_s:
                await self._replace_producer(
                    f"no frame acknowledged for {age:.1f} s (limit {self.overdue_s:.1f} s)")

    async def _replace_producer(self, reason: str) -> None:
        stuck, self._producer = self._producer, None
        self._producer_ready.clear()
        self._stall = reason
        self._failing_since = None  # the new producer gets its own overdue_s
        self._generation += 1
        self.replacements += 1
        metrics.PRODUCER_REPLACEMENTS.inc()
        metrics.PRODUCER_STALLED.set(1)
        failed = self._fail_unacked(f"Kafka producer stalled ({reason}); replaced, not acknowledged")
        log.error("Kafka producer stalled: %s; %d frames failed (devices resend), replacing the producer",
                  reason, failed)
        closing = supervise(asyncio.ensure_future(self._close_stuck(stuck)), "listener.publisher_close_stalled")
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        attempt = 0
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                attempt += 1
                delay = RESTART_BACKOFF.delay(attempt)
                log.warning("new Kafka producer did not start (%r); again in %.1f s", exc, delay)
                await self._bounded_stop(producer)
                await asyncio.sleep(delay)
                continue
            except BaseException:  # cancelled at stop: the half-made producer must not linger
                await asyncio.shield(self._bounded_stop(producer))
                raise
            break
        self._producer = producer
        self._producer_ready.set()
        log.warning("new Kafka producer started after a stall (%s)", reason)

    def _fail_unacked(self, reason: str) -> int:
        failed = 0
        for _queued, ack in self._unacked:
            if not ack.done():
                ack.set_exception(PublishRefused(reason))
                failed += 1
        self._unacked.clear()
        self._fail_queued(reason)
        return failed

    def _recovered(self, how: str) -> None:
        log.warning("Kafka producer ready again: the new producer %s", how)
        self._stall = None
        metrics.PRODUCER_STALLED.set(0)

    async def _close_stuck(self, producer: Any) -> None:
        if producer is not None:
            await self._bounded_stop(producer)

    async def _bounded_stop(self, producer: Any) -> None:
        # A stuck producer's stop() waits for batches that will never be acknowledged: bounded, and
        # then its client (connections, metadata task) is closed without the flush.
        try:
            await asyncio.wait_for(producer.stop(), self._send_timeout_s)
        except (asyncio.TimeoutError, KafkaError, OSError) as exc:
            log.warning("stalled Kafka producer did not stop cleanly (%r); closing its connections", exc)
            client = getattr(producer, "client", None)
            if client is not None:
                try:
                    await asyncio.wait_for(client.close(), self._send_timeout_s)
                except (asyncio.TimeoutError, KafkaError, OSError):
                    log.warning("stalled Kafka producer's connections did not close within %.1f s",
                                self._send_timeout_s)

    # -- lifecycle ----------------------------------------------------------------------------
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
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        try:
            await asyncio.wait_for(self._queue_empty.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        self._fail_queued("listener stopped before the frame was sent")
        producer = self._producer
        if producer is not None:
            try:
                await asyncio.wait_for(producer.flush(), timeout_s)
            except (asyncio.TimeoutError, KafkaError) as exc:
                log.warning("producer flush incomplete at shutdown: %r (%d frames unacknowledged)", exc, self._inflight)
            try:
                await asyncio.wait_for(producer.stop(), timeout_s)
            except asyncio.TimeoutError:
                log.warning("producer did not close within %.1fs", timeout_s)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=timeout_s)

    # -- publishing ---------------------------------------------------------------------------
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
        ack.add_done_callback(partial(self._on_ack, started=time.perf_counter(), generation=self._generation))
        self._unacked.append((self._clock(), ack))
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
            if not self._producer_ready.is_set():  # the watchdog is replacing a stalled producer
                await self._producer_ready.wait()
                continue
            producer = self._producer
            if self._frames_per_message > 1 and len(queue) > 1:
                taken = [queue.popleft() for _ in range(min(len(queue), MAX_TAKE))]
                await self._send_batched(producer, taken)
                continue
            topic, key, value, ack = queue.popleft()
            await self._send_one(producer, [ack], topic, value, key, None)
            metrics.FRAMES_PER_MESSAGE.observe(1)

    async def _send_batched(self, producer: Any, taken: list[tuple[str, bytes | None, bytes, asyncio.Future]]) -> None:
        """The frames queued now, one message per partition (up to frames_per_message frames and
        batch_max_bytes each, in queue order): the partition is the one each frame's key hashes to
        with Kafka's default partitioner, so a device's frames stay on its partition, in order."""
        handed: set[asyncio.Future] = set()  # given to the producer; the others fail if we are cut short
        try:
            groups: dict[tuple[str, int], list[tuple[bytes, bytes, asyncio.Future]]] = {}
            counts: dict[str, int] = {}
            for topic, key, value, ack in taken:
                if topic not in counts:
                    counts[topic] = len(await producer.partitions_for(topic))
                partition = partition_for(key or b"", counts[topic])
                groups.setdefault((topic, partition), []).append((key or b"", value, ack))
            for (topic, partition), items in groups.items():
                for chunk in _chunks(items, self._frames_per_message, self._batch_max_bytes):
                    acks = [ack for _key, _value, ack in chunk]
                    handed.update(acks)
                    if len(chunk) == 1:  # alone: a plain RawFrame, keyed (the partitioner gives the same one)
                        key, value, _ack = chunk[0]
                        await self._send_one(producer, acks, topic, value, key or None, None)
                    else:
                        batch = pack_frame_batch([(key, value) for key, value, _ack in chunk])
                        await self._send_one(producer, acks, topic, batch, None, partition)
                    metrics.FRAMES_PER_MESSAGE.observe(len(chunk))
        except KafkaError as exc:  # partitions_for: no metadata within the request timeout
            log.warning("frames not queued to Kafka: %r", exc)
            _fail([ack for *_, ack in taken if ack not in handed], PublishRefused(repr(exc)))
        except BaseException:
            _fail([ack for *_, ack in taken if ack not in handed],
                  PublishRefused("listener stopped before the frame was sent"))
            raise

    async def _send_one(self, producer: Any, acks: list[asyncio.Future], topic: str, value: bytes,
                        key: bytes | None, partition: int | None) -> None:
        """One message to Kafka; its delivery resolves every future of `acks` (one frame or a batch)."""
        try:
            # send() itself gives up after request_timeout_ms when metadata or batch space is missing.
            if partition is None:
                delivery = await producer.send(topic, value=value, key=key)
            else:
                delivery = await producer.send(topic, value=value, key=key, partition=partition)
        except KafkaError as exc:
            log.warning("frame not queued to Kafka: %r", exc)
            _fail(acks, PublishRefused(repr(exc)))
            return
        except asyncio.CancelledError:  # stop(): this frame's waiter must not hang
            _fail(acks, PublishRefused("listener stopped before the frame was sent"))
            raise
        except Exception as exc:
            _fail(acks, PublishRefused(f"not sent: {exc!r}"))
            if producer is not self._producer:  # the stalled producer, stopped under our feet
                return
            raise  # a bug
        # One callback for the whole batch, not one per frame (each is a turn of the event loop).
        delivery.add_done_callback(partial(_copy_outcome, acks))

    def _on_ack(self, fut: asyncio.Future, *, started: float, generation: int) -> None:
        self._release()
        if fut.cancelled() or fut.exception() is not None:
            metrics.PRODUCE_ERRORS.inc()
            if self._failing_since is None and generation == self._generation and not self._stopped:
                self._failing_since = self._clock()
        else:
            metrics.PRODUCE_LATENCY.observe(time.perf_counter() - started)
            if generation == self._generation:
                self._failing_since = None
                if self._stall is not None:
                    self._recovered("acknowledged a frame")

    def _release(self) -> None:
        self._inflight -= 1
        metrics.INFLIGHT.set(self._inflight)
        self._slots.release()
        if self._inflight == 0:
            self._idle.set()

    async def send_and_wait(self, topic: str, key: bytes | None, value: bytes) -> None:
        """For side records (dead letters): best effort with its own timeout."""
        producer = self._producer
        if producer is None:
            raise PublishRefused("the Kafka producer is being replaced")
        await asyncio.wait_for(producer.send_and_wait(topic, value=value, key=key), self._send_timeout_s)


def _fail(acks: list[asyncio.Future], exc: Exception) -> None:
    for ack in acks:
        if not ack.done():
            ack.set_exception(exc)


def _chunks(items: list, max_count: int, max_bytes: int):
    """Consecutive runs of `items` ((key, value, ack)) of at most max_count items and, unless one
    item alone is larger, max_bytes of values."""
    chunk: list = []
    size = 0
    for item in items:
        length = len(item[1]) + len(item[0]) + 8
        if chunk and (len(chunk) >= max_count or size + length > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


def _copy_outcome(targets: list[asyncio.Future], source: asyncio.Future) -> None:
    """The outcome of one Kafka message (a frame, or a frame batch) onto each of its frames' acks."""
    cancelled = source.cancelled()
    error = None if cancelled else source.exception()
    result = None if cancelled or error is not None else source.result()
    for target in targets:
        if target.done():
            continue
        if cancelled:
            target.cancel()
        elif error is not None:
            target.set_exception(error)
        else:
            target.set_result(result)
