"""The sink service: Kafka topics -> ClickHouse tables, in batches, at least once, no loss.

The consume -> deliver -> commit loop of the service kit (common/delivery.py) with ClickHouse as its
destination (sinks/destination.py): `getmany()` -> rows into the batch -> when the batch is full or
old enough, insert each table's rows -> only then commit the batch's offsets.

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

Lifecycle from the service kit (common/service.Lifecycle): `await start()` / `await stop()`
(idempotent), or `async with`; `wait()` raises what stopped the sink. HTTP: /healthz, /readyz,
/metrics (common/service.HealthApp) and /health (as /readyz, with the waiting details).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from aiokafka import AIOKafkaConsumer

from common.backoff import Backoff
from common.delivery import BatchPolicy, DeliveryLoop, DeliveryMetrics, PendingBatch
from common.kafka import ensure_topics
from common.kafka_security import aiokafka_options
from common.service import HealthApp, Lifecycle, State, supervise
from common.settings import KafkaSettings
from schemas import topics
from sinks import metrics
from sinks.destination import ClickHouseDestination
from sinks.settings import SinkSettings
from sinks.query_server import QueryServer
from sinks.writer import ClickHouseWriter, WriteError

log = logging.getLogger(__name__)

SINK_TOPICS = (topics.POSITIONS, topics.ALERTS, topics.TELEMETRY, topics.EVENTS, topics.DEAD_LETTERS)

LOOP_METRICS = DeliveryMetrics(
    waiting=metrics.WAITING, waiting_seconds=metrics.WAITING_SECONDS, buffered=metrics.BUFFERED_ROWS,
    errors=metrics.WRITE_ERRORS, deliver_seconds=metrics.WRITE_SECONDS, batches=metrics.BATCHES_WRITTEN,
    batch_size=metrics.BATCH_ROWS, commit_failures=metrics.COMMIT_FAILURES, discarded=metrics.DISCARDED_ROWS,
)


class Sink(Lifecycle):
    def __init__(
        self,
        settings: SinkSettings,
        kafka: KafkaSettings,
        *,
        writer: ClickHouseWriter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.kafka = kafka
        target = settings.target
        self.writer = writer or ClickHouseWriter(target.connect, target.database, target.display)
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.loop = DeliveryLoop(
            ClickHouseDestination(self.writer, kafka.topic_prefix),
            BatchPolicy(settings.batch_max_rows, settings.batch_max_seconds),
            self.backoff,
            shutdown_timeout_s=settings.shutdown_timeout_s,
            fetch_max_records=settings.fetch_max_records,
            metrics=LOOP_METRICS,
            clock=clock,
        )
        self.topic_names = [spec.full_name(kafka.topic_prefix) for spec in SINK_TOPICS]
        self.http = HealthApp(settings.http_host, settings.http_port, health=self._healthz, ready=self._readyz,
                              extra={"/health": self._readyz})
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Future | None = None
        self._query: QueryServer | None = None

    @property
    def waiting(self) -> bool:
        """True while ClickHouse refuses writes and the sink holds its batch."""
        return self.loop.waiting

    @property
    def batch(self) -> PendingBatch:
        return self.loop.batch

    @property
    def http_port(self) -> int | None:
        return self.http.port if self.settings.http_port is not None else None

    # -- lifecycle --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Make the topics, migrate the schema (waiting while ClickHouse is down), join the group."""
        try:
            await self.http.start()
            await ensure_topics(self.kafka, SINK_TOPICS)
            await self._prepare_clickhouse()
            await self._start_query_server()
            if self.stop_requested.is_set():
                return
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.kafka.bootstrap_servers,
                **aiokafka_options(self.kafka),
                group_id=self.settings.group_id or f"{self.kafka.topic_prefix}sink",
                client_id="trackwire-sink",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
            )
            self._consumer = consumer
            consumer.subscribe(self.topic_names, listener=self.loop.rebalance_listener())
            await consumer.start()
        except Exception:
            if self.stop_requested.is_set():  # stop() was called meanwhile: what failed no longer matters
                return
            raise
        if self.stop_requested.is_set():
            return
        self._task = supervise(asyncio.ensure_future(self.loop.run(consumer, self.stop_requested)), "sink.loop",
                               self.fail)
        log.info("sink: %s -> %s (database %s), batches of %d rows or %.1f s",
                 ", ".join(self.topic_names), self.writer.display, self.writer.database,
                 self.loop.policy.max_rows, self.loop.policy.max_seconds)

    async def _prepare_clickhouse(self) -> None:
        """Connect and migrate, waiting (with backoff) while ClickHouse is unreachable."""
        attempt = 0
        while not self.stop_requested.is_set():
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
                    await asyncio.wait_for(self.stop_requested.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def _start_query_server(self) -> None:
        """The embedded store belongs to this process: answer `trackwire query` for it (loopback, read-only)."""
        if self.settings.target.kind != "chdb" or self.settings.query_port is None or self.stop_requested.is_set():
            return
        self._query = QueryServer(self.writer.query, port=self.settings.query_port)
        try:
            await self._query.start()
        except OSError as exc:  # the port is taken: data still flows, only live queries are off
            log.warning("query endpoint not started on 127.0.0.1:%d: %s", self.settings.query_port, exc)
            self._query = None

    async def on_stop(self) -> None:
        """Stop reading, write the last batch (within shutdown_timeout_s), commit, close."""
        self.stop_requested.set()  # the loop's signal to write its last batch and end
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)  # an error was logged; wait() raises it
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        if self._query is not None:
            await self._query.stop()
            self._query = None
        await self.writer.close()
        await self.http.stop()
        metrics.WAITING.set(0)
        metrics.BUFFERED_ROWS.set(0)

    # -- health -----------------------------------------------------------------------------
    def _healthz(self) -> tuple[bool, dict]:
        return self.state is not State.FAILED, {"state": self.state.value}

    def _readyz(self) -> tuple[bool, dict]:
        body = {"state": "waiting" if self.waiting else self.state.value, "buffered_rows": self.batch.count}
        if self.waiting:
            body["waiting_s"] = round(self.loop.waiting_s, 1)
            body["last_error"] = self.loop.last_error
        return self.state is State.RUNNING and not self.waiting, body
