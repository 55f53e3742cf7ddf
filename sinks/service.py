"""The sink service: Kafka topics -> ClickHouse tables, in batches, at least once, no loss.

One loop, as aiokafka's manual-commit example: `getmany()` -> rows into the batch -> when the batch
is full or old enough, insert each table's rows -> only then commit the batch's offsets.

- **Bounded memory.** A poll never takes more records than the batch has room for.
- **ClickHouse down.** A failed write keeps the batch and its offsets uncommitted. The sink pauses
  every partition, logs and reports (metric `trackwire_sink_waiting_for_clickhouse` = 1, /health
  503 "waiting") that it is waiting, and retries with exponential backoff. It keeps calling
  `getmany()` meanwhile (on paused partitions it returns nothing), so Kafka does not think the
  consumer died. Errors that no retry can fix (a schema mismatch) stop the sink without committing.
- **No duplicates.** A retried insert carries the same deduplication token, so ClickHouse drops it if
  the earlier attempt landed; anything read twice (a restart before the commit, a rebalance, a
  device retransmission) collapses in the ReplacingMergeTree tables (schemas/clickhouse.py).
- **Rebalance.** Before partitions are taken away the batch is written and committed; if ClickHouse
  is down it is dropped instead (uncommitted, so the new owner reads it again).
- **Stop.** Stop reading, write the last batch within `shutdown_timeout_s`, commit, close.

Lifecycle as aiokafka/uvicorn: `await start()` / `await stop()` (idempotent), or `async with`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas import topics
from sinks import metrics
from sinks.batching import Backoff, Batch, BatchPolicy
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, DEDUP_INDEX, Source, row_for_message
from sinks.query_server import QueryServer
from sinks.settings import SinkSettings
from sinks.writer import ClickHouseWriter, WriteError
from trackwire.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics

log = logging.getLogger(__name__)

SINK_TOPICS = (topics.POSITIONS, topics.ALERTS, topics.TELEMETRY, topics.EVENTS, topics.DEAD_LETTERS)
POLL_S = 0.5  # longest single poll, so a stop is noticed quickly


class Sink:
    def __init__(
        self,
        settings: SinkSettings,
        kafka: KafkaSettings,
        *,
        writer: ClickHouseWriter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        target = settings.target
        self.writer = writer or ClickHouseWriter(target.connect, target.database, target.display)
        self.policy = BatchPolicy(settings.batch_max_rows, settings.batch_max_seconds)
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.batch = Batch(DEDUP_INDEX)
        self.topic_names = [spec.full_name(kafka.topic_prefix) for spec in SINK_TOPICS]
        self._dead_letter_topic = topics.DEAD_LETTERS.full_name(kafka.topic_prefix)
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self._http: web.AppRunner | None = None
        self._query: QueryServer | None = None
        self._stopping = asyncio.Event()
        self._started = asyncio.Event()  # start() has finished, one way or another
        self._write_lock = asyncio.Lock()
        self._state = "new"
        self._failures = 0  # consecutive failed writes
        self._waiting_since: float | None = None
        self._last_error: str | None = None
        self.http_port: int | None = None

    async def __aenter__(self) -> "Sink":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    @property
    def waiting(self) -> bool:
        """True while ClickHouse refuses writes and the sink holds its batch."""
        return self._failures > 0

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Make the topics, migrate the schema (waiting while ClickHouse is down), join the group."""
        if self._state != "new":
            return
        self._state = "starting"
        try:
            await self._start()
        finally:
            self._started.set()

    async def _start(self) -> None:
        try:
            await self._start_http()
            await ensure_topics(self.kafka, SINK_TOPICS)
            await self._prepare_clickhouse()
            await self._start_query_server()
            if not self._stopping.is_set():
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.kafka.bootstrap_servers,
                    group_id=self.settings.group_id or f"{self.kafka.topic_prefix}sink",
                    client_id="trackwire-sink",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level="read_committed",
                )
                self._consumer = consumer
                consumer.subscribe(self.topic_names, listener=_Rebalance(self))
                await consumer.start()
        except Exception:
            await self._close_resources()
            self._state = "stopped"
            if self._stopping.is_set():  # stop() was called meanwhile: what failed no longer matters
                return
            raise
        if self._stopping.is_set():
            await self._close_resources()
            self._state = "stopped"
            return
        self._task = asyncio.create_task(self._run(), name="trackwire-sink")
        self._state = "running"
        log.info("sink: %s -> %s (database %s), batches of %d rows or %.1f s",
                 ", ".join(self.topic_names), self.writer.display, self.writer.database,
                 self.policy.max_rows, self.policy.max_seconds)

    async def _prepare_clickhouse(self) -> None:
        """Connect and migrate, waiting (with backoff) while ClickHouse is unreachable."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                for line in await self.writer.migrate(self.settings.ttl_days):
                    log.info("schema: %s", line)
                if attempt:
                    log.warning("ClickHouse %s answers now, after %d failed attempts", self.writer.display, attempt)
                    metrics.WAITING.set(0)
                return
            except WriteError as exc:
                if not exc.retriable:
                    raise
                attempt += 1
                metrics.WAITING.set(1)
                delay = self.backoff.delay(attempt)
                log.warning("waiting for ClickHouse before starting: %s; attempt %d, next in %.1f s", exc, attempt, delay)
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def wait(self) -> None:
        """Until the sink stops; raises what stopped it if it was an error."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop reading, write the last batch (within shutdown_timeout_s), commit, close. Idempotent."""
        self._stopping.set()
        if self._state == "new":
            self._state = "stopped"
            return
        if self._state == "starting":
            await self._started.wait()  # start() sees the stop and cleans up after itself
        if self._state != "running":
            return
        self._state = "stopping"
        if self._task is not None:
            try:
                await self._task
            except Exception:
                pass  # already logged by _run; wait() raises it
        await self._close_resources()
        self._state = "stopped"

    async def _close_resources(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        if self._query is not None:
            await self._query.stop()
            self._query = None
        await self.writer.close()
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        metrics.WAITING.set(0)
        metrics.BUFFERED_ROWS.set(0)

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                age = self.batch.age_s(self._clock())
                if self.policy.due(self.batch.count, age):
                    if not await self._write():
                        await self._wait_for_clickhouse()
                    continue
                await self._fetch(min(self.policy.wait_s(self.batch.count, age), POLL_S))
            await self._final_write()
        except Exception:
            log.exception("sink stopped by an error; offsets of unwritten rows are not committed")
            metrics.BUFFERED_ROWS.set(0)
            raise

    async def _fetch(self, timeout_s: float) -> None:
        assert self._consumer is not None
        room = min(self.policy.room(self.batch.count), self.settings.fetch_max_records)
        data = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=max(1, room))
        if not data:
            return
        async with self._write_lock:  # not into a batch that a rebalance is writing right now
            self._add(data)

    def _add(self, data: dict) -> None:
        now = self._clock()
        for tp, messages in data.items():
            dead_letters = tp.topic == self._dead_letter_topic
            for m in messages:
                source = Source(m.topic, m.partition, m.offset, m.timestamp, m.key)
                table, row, problem = row_for_message(m.value, source, dead_letters=dead_letters)
                if problem is not None:
                    metrics.DEAD_LETTERS.inc()
                    log.warning("%s[%d]@%d stored as a dead letter: %s", m.topic, m.partition, m.offset, problem)
                self.batch.add(table, row, tp, m.offset, now)
        metrics.BUFFERED_ROWS.set(self.batch.count)

    async def _write(self) -> bool:
        """Write the batch, then commit its offsets. False: ClickHouse failed, the batch is kept."""
        async with self._write_lock:
            if not self.batch.count:
                return True
            started = self._clock()
            try:
                for table, entry in self.batch.tables.items():
                    await self.writer.insert(table, entry.rows, COLUMN_NAMES[table], COLUMN_TYPES[table],
                                             self.batch.token(table))
            except WriteError as exc:
                metrics.WRITE_ERRORS.labels("retriable" if exc.retriable else "fatal").inc()
                if not exc.retriable:
                    raise
                self._failures += 1
                self._last_error = str(exc)
                return False
            metrics.WRITE_SECONDS.observe(self._clock() - started)
            metrics.BATCHES_WRITTEN.inc()
            metrics.BATCH_ROWS.observe(self.batch.count)
            for table, entry in self.batch.tables.items():
                metrics.ROWS_WRITTEN.labels(table).inc(len(entry.rows))
            offsets = dict(self.batch.offsets)
            rows = self.batch.count
            self.batch.clear()
            metrics.BUFFERED_ROWS.set(0)
            await self._commit(offsets)
            if self._failures:
                waited = self._clock() - (self._waiting_since or started)
                log.warning("ClickHouse accepted the held batch (%d rows) after %d failed attempts and %.1f s: "
                            "resuming", rows, self._failures, waited)
                self._end_waiting()
            return True

    def _end_waiting(self) -> None:
        self._failures = 0
        self._waiting_since = None
        metrics.WAITING.set(0)
        if self._consumer is not None:
            self._consumer.resume(*self._consumer.paused())

    async def _commit(self, offsets: dict) -> None:
        assert self._consumer is not None
        # A partition taken away meanwhile is not ours to commit (and would fail the whole commit):
        # its new owner reads those rows again, and they collapse in ClickHouse.
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            metrics.COMMIT_FAILURES.inc()
            log.warning("offset commit failed after the rows were written (%s): they may be read and written "
                        "again, and then collapse in ClickHouse", exc)

    async def _wait_for_clickhouse(self) -> None:
        """Back off after a failed write: partitions paused, polls keep the group membership alive."""
        assert self._consumer is not None
        delay = self.backoff.delay(self._failures)
        if self._failures == 1:
            self._waiting_since = self._clock()
            metrics.WAITING.set(1)
            log.warning("WAITING for ClickHouse: %s. Holding %d rows of %d partitions, reading no more, committing "
                        "no offsets; retry in %.1f s", self._last_error, self.batch.count, len(self.batch.offsets), delay)
        else:
            log.warning("still waiting for ClickHouse after %.0f s (attempt %d: %s); %d rows held; retry in %.1f s",
                        self._clock() - (self._waiting_since or 0), self._failures, self._last_error,
                        self.batch.count, delay)
        deadline = self._clock() + delay
        while self.waiting and not self._stopping.is_set():  # a rebalance may end the wait: see _discard
            left = deadline - self._clock()
            if left <= 0:
                break
            self._consumer.pause(*self._consumer.assignment())  # again: a rebalance may have brought new ones
            before = self._clock()
            await self._fetch(min(left, POLL_S))  # returns nothing from paused partitions
            metrics.WAITING_SECONDS.inc(self._clock() - before)

    async def _final_write(self) -> None:
        deadline = self._clock() + self.settings.shutdown_timeout_s
        while self.batch.count and self._clock() < deadline:
            try:
                if await asyncio.wait_for(self._write(), max(0.001, deadline - self._clock())):
                    return
            except asyncio.TimeoutError:
                break
            await asyncio.sleep(min(self.backoff.delay(self._failures), max(0.0, deadline - self._clock())))
        self._discard("stopping")

    def _discard(self, why: str) -> None:
        if not self.batch.count:
            return
        metrics.DISCARDED_ROWS.inc(self.batch.count)
        log.warning("%s with %d unwritten rows: dropping them; their offsets are not committed, so they are "
                    "read again", why, self.batch.count)
        self.batch.clear()
        metrics.BUFFERED_ROWS.set(0)
        if self.waiting:  # nothing held any more: read again (and wait again if ClickHouse still fails)
            self._end_waiting()

    async def _on_revoked(self) -> None:
        if not self.batch.count:
            return
        if not self.waiting:
            try:
                if await asyncio.wait_for(self._write(), self.settings.shutdown_timeout_s):
                    return
            except Exception as exc:  # noqa: BLE001 - any failure here means: drop, the new owner re-reads
                log.warning("could not write the batch before a rebalance: %s", exc)
        self._discard("partitions revoked")

    async def _start_query_server(self) -> None:
        """The embedded store belongs to this process: answer `trackwire query` for it (loopback, read-only)."""
        if self.settings.target.kind != "chdb" or self.settings.query_port is None or self._stopping.is_set():
            return
        self._query = QueryServer(self.writer.query, port=self.settings.query_port)
        try:
            await self._query.start()
        except OSError as exc:  # the port is taken: data still flows, only live queries are off
            log.warning("query endpoint not started on 127.0.0.1:%d: %s", self.settings.query_port, exc)
            self._query = None

    # -- HTTP: metrics and health -----------------------------------------------------------
    async def _start_http(self) -> None:
        if self.settings.http_port is None:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.http_port = self._http.addresses[0][1]

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _request: web.Request) -> web.Response:
        body = {"state": "waiting" if self.waiting else self._state, "buffered_rows": self.batch.count}
        if self.waiting:
            body["waiting_s"] = round(self._clock() - (self._waiting_since or self._clock()), 1)
            body["last_error"] = self._last_error
        ok = self._state == "running" and not self.waiting
        return web.json_response(body, status=200 if ok else 503)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked) -> None:
        await self._sink._on_revoked()

    async def on_partitions_assigned(self, assigned) -> None:
        log.info("sink assigned %d partitions", len(assigned))
