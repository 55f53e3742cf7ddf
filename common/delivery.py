"""Consume -> deliver -> commit after success; hold and back off on a retriable error.

The loop of aiokafka's manual-commit example, once for every stage that writes Kafka records
somewhere else: the sink (ClickHouse) today, the SOS notifier (webhooks) next. The destination is
a small object (`Destination`):

- `prepare(message)` turns one consumed record into the item the destination delivers (a row, a
  webhook body); called once per record, as it is read.
- `deliver(batch)` delivers a `PendingBatch` (items per partition). It either raises (the whole
  batch failed with that error) or returns, per partition, None (delivered) or the error that
  partition's items met; partitions it leaves out count as delivered. A webhook notifier answers
  per partition; the sink's one insert answers for all.
- `retriable(error)` classifies an error: retriable (the destination is down, a timeout, a 5xx)
  or not (a schema mismatch, a 4xx). aiokafka's lesson: classify, do not guess.

The loop's rules:
- **Bounded memory.** A poll never takes more records than the batch has room for (BatchPolicy).
- **Commit only after success**, per partition: a delivered partition's offsets are committed and
  its items dropped; a failed one keeps its items and offsets.
- **Retriable failure:** pause the partitions (`pause="all"`: every assigned one, as a database
  outage affects them all; `"failed"`: only those that failed), back off (common.backoff), keep
  polling meanwhile (paused partitions return nothing, and Kafka keeps the member in its group),
  then deliver the held items again. `waiting` is true meanwhile (metrics, health).
- **Fatal failure:** what was delivered is committed, the error is raised and the loop ends.
- **Rebalance:** before partitions are taken away the batch is delivered and committed; if the
  destination is down it is dropped instead (uncommitted: the new owner reads it again).
- **Stop:** stop reading, deliver the last batch within `shutdown_timeout_s`, commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from common.backoff import Backoff

log = logging.getLogger(__name__)

POLL_S = 0.5  # longest single poll, so a stop is noticed quickly


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """Deliver when the batch holds `max_rows` items, or when its oldest item is `max_seconds` old."""

    max_rows: int
    max_seconds: float

    def due(self, rows: int, age_s: float) -> bool:
        return rows >= self.max_rows or (rows > 0 and age_s >= self.max_seconds)

    def wait_s(self, rows: int, age_s: float) -> float:
        """How long to wait for more input before the batch is due (max_seconds when empty)."""
        if rows == 0:
            return self.max_seconds
        if rows >= self.max_rows:
            return 0.0
        return max(0.0, self.max_seconds - age_s)

    def room(self, rows: int) -> int:
        """How many more items the batch takes; the consumer never fetches more (bounded memory)."""
        return max(0, self.max_rows - rows)


class PendingBatch:
    """Prepared items per partition, in the order read, and per partition the next offset to commit."""

    def __init__(self) -> None:
        self.items: dict[Any, list[Any]] = {}  # TopicPartition -> items
        self.offsets: dict[Any, int] = {}  # TopicPartition -> next offset to read (what Kafka commits)
        self.count = 0
        self.started_at: float | None = None

    def add(self, partition: Any, offset: int, item: Any, now: float) -> None:
        self.items.setdefault(partition, []).append(item)
        self.offsets[partition] = max(self.offsets.get(partition, 0), offset + 1)
        self.count += 1
        if self.started_at is None:
            self.started_at = now

    def age_s(self, now: float) -> float:
        return 0.0 if self.started_at is None else now - self.started_at

    def drop(self, partitions) -> dict[Any, int]:
        """Forget these partitions' items; returns their offsets to commit."""
        done = {}
        for tp in list(partitions):
            self.count -= len(self.items.pop(tp, ()))
            if tp in self.offsets:
                done[tp] = self.offsets.pop(tp)
        if not self.items:
            self.started_at = None
        return done

    def clear(self) -> None:
        self.items.clear()
        self.offsets.clear()
        self.count = 0
        self.started_at = None


class Destination(Protocol):
    name: str  # for logs and health: "ClickHouse", "webhook https://..."

    def prepare(self, message: Any) -> Any: ...

    async def deliver(self, batch: PendingBatch) -> Mapping[Any, BaseException | None] | None: ...

    def retriable(self, error: BaseException) -> bool: ...


@dataclass(slots=True)
class DeliveryMetrics:
    """The stage's own Prometheus metrics for the loop (names stay per stage); any may be None."""

    waiting: Any = None  # Gauge: 1 while holding a batch the destination refused
    waiting_seconds: Any = None  # Counter
    buffered: Any = None  # Gauge: items read and not yet delivered
    errors: Any = None  # Counter labelled retriable|fatal
    deliver_seconds: Any = None  # Histogram
    batches: Any = None  # Counter
    batch_size: Any = None  # Histogram
    commit_failures: Any = None  # Counter
    discarded: Any = None  # Counter


def _set(metric, value) -> None:
    if metric is not None:
        metric.set(value)


def _inc(metric, value: float = 1) -> None:
    if metric is not None:
        metric.inc(value)


@dataclass(slots=True)
class _Waiting:
    failures: int = 0  # consecutive failed deliveries
    since: float | None = None
    last_error: str | None = None
    failed: set = field(default_factory=set)  # partitions whose delivery failed


class DeliveryLoop:
    def __init__(
        self,
        destination: Destination,
        policy: BatchPolicy,
        backoff: Backoff,
        *,
        shutdown_timeout_s: float,
        fetch_max_records: int,
        metrics: DeliveryMetrics | None = None,
        pause: Literal["all", "failed"] = "all",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destination = destination
        self.policy = policy
        self.backoff = backoff
        self.shutdown_timeout_s = shutdown_timeout_s
        self.fetch_max_records = fetch_max_records
        self.metrics = metrics or DeliveryMetrics()
        self.pause_mode = pause
        self.batch = PendingBatch()
        self.consumer: AIOKafkaConsumer | None = None
        self._clock = clock
        self._lock = asyncio.Lock()  # a rebalance delivers the batch too: never both at once
        self._waiting = _Waiting()

    @property
    def waiting(self) -> bool:
        """True while the destination refuses deliveries and the loop holds its batch."""
        return self._waiting.failures > 0

    @property
    def waiting_s(self) -> float:
        since = self._waiting.since
        return 0.0 if since is None else self._clock() - since

    @property
    def last_error(self) -> str | None:
        return self._waiting.last_error

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        """Pass to `consumer.subscribe(..., listener=...)`: delivers (or drops) the batch before a revoke."""
        return _Rebalance(self)

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, consumer: AIOKafkaConsumer, stopping: asyncio.Event) -> None:
        """Until `stopping` is set (then the last batch is delivered) or a fatal error (raised)."""
        self.consumer = consumer
        try:
            while not stopping.is_set():
                age = self.batch.age_s(self._clock())
                if self.policy.due(self.batch.count, age):
                    if not await self._deliver():
                        await self._wait_for_destination(stopping)
                    continue
                await self._fetch(min(self.policy.wait_s(self.batch.count, age), POLL_S))
            await self._final_delivery()
        except Exception:
            log.error("%s delivery stopped by an error; offsets of undelivered records are not committed",
                      self.destination.name)
            _set(self.metrics.buffered, 0)
            raise

    async def _fetch(self, timeout_s: float) -> None:
        assert self.consumer is not None
        room = min(self.policy.room(self.batch.count), self.fetch_max_records)
        data = await self.consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=max(1, room))
        if not data:
            return
        async with self._lock:  # not into a batch that a rebalance is delivering right now
            now = self._clock()
            prepare = self.destination.prepare
            for tp, messages in data.items():
                for message in messages:
                    self.batch.add(tp, message.offset, prepare(message), now)
            _set(self.metrics.buffered, self.batch.count)

    async def _deliver(self) -> bool:
        """Deliver the batch, then commit what was delivered. False: a retriable failure, items kept."""
        async with self._lock:
            if not self.batch.count:
                return True
            started = self._clock()
            size = self.batch.count
            try:
                outcome = await self.destination.deliver(self.batch)
            except Exception as exc:  # noqa: BLE001 - classified just below; fatal ones re-raised
                outcome = {tp: exc for tp in self.batch.items}
            failed = {tp: exc for tp, exc in (outcome or {}).items() if exc is not None and tp in self.batch.items}
            fatal = next((exc for exc in failed.values() if not self.destination.retriable(exc)), None)
            delivered = [tp for tp in self.batch.items if tp not in failed]
            if delivered:
                _inc(self.metrics.batches)
                if self.metrics.batch_size is not None:
                    self.metrics.batch_size.observe(size - sum(len(self.batch.items[tp]) for tp in failed))
                if not failed and self.metrics.deliver_seconds is not None:
                    self.metrics.deliver_seconds.observe(self._clock() - started)
                await self._commit(self.batch.drop(delivered))
                _set(self.metrics.buffered, self.batch.count)
            if fatal is not None:
                if self.metrics.errors is not None:
                    self.metrics.errors.labels("fatal").inc()
                raise fatal
            if failed:
                if self.metrics.errors is not None:
                    self.metrics.errors.labels("retriable").inc()
                self._waiting.failures += 1
                self._waiting.failed = set(failed)
                self._waiting.last_error = str(next(iter(failed.values())))
                return False
            if self._waiting.failures:
                log.warning("%s accepted the held batch (%d items) after %d failed attempts and %.1f s: resuming",
                            self.destination.name, size, self._waiting.failures,
                            self._clock() - (self._waiting.since or started))
                self._end_waiting()
            return True

    def _end_waiting(self) -> None:
        self._waiting = _Waiting()
        _set(self.metrics.waiting, 0)
        if self.consumer is not None:
            self.consumer.resume(*self.consumer.paused())

    async def _commit(self, offsets: dict) -> None:
        assert self.consumer is not None
        # A partition taken away meanwhile is not ours to commit (and would fail the whole commit):
        # its new owner reads those records again.
        assigned = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            _inc(self.metrics.commit_failures)
            log.warning("offset commit failed after %s took the records (%s): they may be read and delivered "
                        "again", self.destination.name, exc)

    def _to_pause(self) -> set:
        assert self.consumer is not None
        if self.pause_mode == "all":
            return set(self.consumer.assignment())  # again each time: a rebalance may have brought new ones
        return self._waiting.failed & set(self.consumer.assignment())

    async def _wait_for_destination(self, stopping: asyncio.Event) -> None:
        """Back off after a failed delivery: partitions paused, polls keep the group membership alive."""
        assert self.consumer is not None
        waiting = self._waiting
        delay = self.backoff.delay(waiting.failures)
        name = self.destination.name
        if waiting.failures == 1:
            waiting.since = self._clock()
            _set(self.metrics.waiting, 1)
            log.warning("WAITING for %s: %s. Holding %d items of %d partitions, reading no more, committing "
                        "no offsets; retry in %.1f s", name, waiting.last_error, self.batch.count,
                        len(self.batch.offsets), delay)
        else:
            log.warning("still waiting for %s after %.0f s (attempt %d: %s); %d items held; retry in %.1f s",
                        name, self._clock() - (waiting.since or 0), waiting.failures, waiting.last_error,
                        self.batch.count, delay)
        deadline = self._clock() + delay
        while self.waiting and not stopping.is_set():  # a rebalance may end the wait: see _discard
            left = deadline - self._clock()
            if left <= 0:
                break
            self.consumer.pause(*self._to_pause())
            before = self._clock()
            await self._fetch(min(left, POLL_S))  # returns nothing from paused partitions
            _inc(self.metrics.waiting_seconds, self._clock() - before)

    async def _final_delivery(self) -> None:
        deadline = self._clock() + self.shutdown_timeout_s
        while self.batch.count and self._clock() < deadline:
            try:
                if await asyncio.wait_for(self._deliver(), max(0.001, deadline - self._clock())):
                    return
            except asyncio.TimeoutError:
                break
            await asyncio.sleep(min(self.backoff.delay(self._waiting.failures), max(0.0, deadline - self._clock())))
        self._discard("stopping")

    def _discard(self, why: str) -> None:
        if not self.batch.count:
            return
        _inc(self.metrics.discarded, self.batch.count)
        log.warning("%s with %d undelivered items: dropping them; their offsets are not committed, so they are "
                    "read again", why, self.batch.count)
        self.batch.clear()
        _set(self.metrics.buffered, 0)
        if self.waiting:  # nothing held any more: read again (and wait again if the destination still fails)
            self._end_waiting()

    async def on_revoked(self) -> None:
        if not self.batch.count:
            return
        if not self.waiting:
            try:
                if await asyncio.wait_for(self._deliver(), self.shutdown_timeout_s):
                    return
            except Exception as exc:  # noqa: BLE001 - any failure here means: drop, the new owner re-reads
                log.warning("could not deliver the batch before a rebalance: %s", exc)
        self._discard("partitions revoked")


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loop: DeliveryLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked) -> None:
        await self._loop.on_revoked()

    async def on_partitions_assigned(self, assigned) -> None:
        log.info("%s consumer assigned %d partitions", self._loop.destination.name, len(assigned))
