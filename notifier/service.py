"""The notifier process: SOS (and, when wanted, alerts) topic -> signed webhooks, at least once.

The Kafka side is the sink's loop shape (aiokafka's manual-commit example), with one difference:
an offset is done only when *every* webhook the alert went to has finished it (2xx, or its dead
letter acknowledged by Kafka), tracked by notifier.offsets. So a restart, a crash or a SIGKILL
mid-retry re-reads exactly the unfinished alerts and sends them again with the same webhook-id
(notifier.payload derives it), which a receiver that de-duplicates on it sees once.

- `_run`: getmany -> routing.deliveries_for -> each webhook's runner (notifier.deliverer); commit
  what is done every `commit_interval_s`. Reading pauses while `max_unfinished` alerts are
  unfinished (bounded memory) and resumes below 90 % of it.
- A new consumer group starts `start_lookback_s` back, not at the topic's beginning.
- Rebalance: commit what is done for the revoked partitions, drop their held deliveries (cancelling
  their requests); the new owner sends them again, with the same webhook-ids.
- Dead letters: to the dead-letter topic (stage "notifier"), retried until Kafka acknowledges.
- Last known fix: a group-less consumer follows the positions topic (from `last_fix_lookback_s`
  back) into a bounded per-device map, for alerts that came without a fix.

Lifecycle: `await start()` / `await stop()` (idempotent) or `async with`; `wait()` until it stops.
This module is the thin I/O shell; every decision is made in the pure modules it calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from notifier import metrics
from notifier.config import NotifyConfig
from notifier.deliverer import WebhookRunner
from notifier.http_app import start_http
from notifier.http_client import WebhookClient
from notifier.lanes import Finished
from notifier.offsets import OffsetTracker
from notifier.payload import LastFixes
from notifier.routing import Source, deliveries_for, wanted
from notifier.settings import NotifierSettings
from schemas import topics
from schemas.alarms import SOS_ALARMS
from schemas.envelopes import DeadLetter
from schemas.records import Alert, Position, from_msgpack
from sinks.batching import Backoff
from trackwire.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics

log = logging.getLogger("trackwire.notify")

STAGE = "notifier"
POLL_MS = 200


def group_id(settings: NotifierSettings, kafka: KafkaSettings) -> str:
    return settings.group_id or f"{kafka.topic_prefix}notifier"


def reads_alerts_topic(config: NotifyConfig) -> bool:
    """The alerts topic is read only when some webhook wants an alarm that is not on the SOS topic."""
    return bool(config.alarms() - SOS_ALARMS)


@dataclass(slots=True)
class _Letter:
    source: Source
    reason: str  # for a person: which webhook, why, the last answer


class Notifier:
    def __init__(self, config: NotifyConfig, settings: NotifierSettings, kafka: KafkaSettings, *,
                 secrets: Mapping[str, str] | None = None) -> None:
        """`secrets`: webhook name -> whsec_ secret (default: each webhook's own, see WebhookConfig)."""
        self.config = config
        self.settings = settings
        self.kafka = kafka
        names = topics.topic_names(kafka.topic_prefix)
        self.sos_topic = names.sos
        self.topic_names = [names.sos] + ([names.alerts] if reads_alerts_topic(config) else [])
        self.positions_topic = names.positions
        self.dead_letter_topic = names.dead_letters
        self.tracker = OffsetTracker()
        self._committed: dict = {}  # partition -> the offset last committed (unchanged ones are not sent again)
        self.last_fixes = LastFixes(settings.last_fix_devices)
        self.runners: dict[str, WebhookRunner] = {}
        for hook in config.webhooks:
            secret = secrets[hook.name] if secrets is not None else hook.signing_secret()
            self.runners[hook.name] = WebhookRunner(
                hook, WebhookClient(hook, secret), lambda finished, name=hook.name: self._finished(name, finished),
                on_failure=self._fail)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._positions: AIOKafkaConsumer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._main: asyncio.Task | None = None
        self._letters: asyncio.Queue[_Letter] = asyncio.Queue()  # bounded through max_unfinished
        self._http = None
        self.http_port: int | None = None
        self._stopping = asyncio.Event()
        self._stop_task: asyncio.Task | None = None
        self._started = asyncio.Event()  # start() has finished, one way or another
        self._state = "new"
        self._paused = False
        self._fatal: BaseException | None = None
        self._warm = asyncio.Event()

    async def __aenter__(self) -> "Notifier":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state != "new":
            return
        self._state = "starting"
        try:
            await self._start()
        except BaseException:
            await self._close()
            self._state = "stopped"
            raise
        finally:
            self._started.set()
        if self._stopping.is_set():  # stop() was called while starting
            await self._close()
            self._state = "stopped"
            return
        self._main = asyncio.create_task(self._run(), name="notify-consume")
        self._state = "running"
        log.info("notifier: %s -> %d webhook(s): %s (group %s)", ", ".join(self.topic_names), len(self.runners),
                 ", ".join(f"{h.name} [{', '.join(h.alarms)}]" for h in self.config.webhooks),
                 group_id(self.settings, self.kafka))

    async def _start(self) -> None:
        if self.settings.http_port is not None:
            self._http, self.http_port = await start_http(self.settings.http_host, self.settings.http_port,
                                                          self._health)
        specs = [topics.SOS, topics.ALERTS, topics.POSITIONS, topics.DEAD_LETTERS]
        await ensure_topics(self.kafka, specs)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap_servers,
                                          client_id="trackwire-notifier", acks="all", enable_idempotence=True)
        await self._producer.start()
        for runner in self.runners.values():
            await runner.start()
        self._spawn(self._write_letters(), "notify-dead-letters")
        if self.settings.last_fix_devices > 0:
            await self._start_positions()
        await self._wait_for_leaders(self.topic_names)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=group_id(self.settings, self.kafka),
            client_id="trackwire-notifier",
            enable_auto_commit=False,
            auto_offset_reset="latest",  # only when a lookback seek found nothing; see _Rebalance
            isolation_level="read_committed",
            session_timeout_ms=int(self.settings.session_timeout_s * 1000),
            heartbeat_interval_ms=max(300, int(self.settings.session_timeout_s * 1000 / 4)),
        )
        self._consumer.subscribe(self.topic_names, listener=_Rebalance(self))
        await self._consumer.start()

    async def wait(self) -> None:
        """Until the notifier stops; raises what stopped it if it was an error."""
        if self._main is not None:
            await asyncio.shield(self._main)

    async def stop(self) -> None:
        """Stop reading, let requests in flight finish (shutdown_timeout_s), write pending dead letters,
        commit what is done, close. What is not done stays uncommitted and is sent again next start.
        Idempotent; every caller waits for the same stop, and cancelling one caller does not cut it short."""
        self._stopping.set()
        if self._state == "new":
            self._state = "stopped"
            return
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._stop(), name="notify-stop")
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        if self._state == "starting":
            await self._started.wait()  # start() sees the stop and closes what it opened
        if self._state != "running":
            return  # start() failed and closed what it had opened
        self._state = "stopping"
        if self._main is not None:
            await asyncio.gather(self._main, return_exceptions=True)
        await self._close()
        self._state = "stopped"

    async def _close(self) -> None:
        timeout = self.settings.shutdown_timeout_s
        await asyncio.gather(*(runner.stop(timeout) for runner in self.runners.values()))
        if self._letters.qsize() and self._producer is not None:
            try:
                await asyncio.wait_for(self._letters.join(), timeout)
            except asyncio.TimeoutError:
                log.warning("stopping with %d dead letters unwritten: their alerts stay uncommitted and are "
                            "read again", self._letters.qsize())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer is not None:
            await self._commit()
            await self._consumer.stop()
            self._consumer = None
        for client in (self._positions, self._producer):
            if client is not None:
                await client.stop()
        self._positions = self._producer = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("notifier task %s failed", task.get_name(), exc_info=task.exception())
            self._fail(task.exception())

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stopping.set()

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        next_commit = time.monotonic() + self.settings.commit_interval_s
        try:
            while not self._stopping.is_set():
                self._flow()
                data = await consumer.getmany(timeout_ms=POLL_MS, max_records=self.settings.fetch_max_records)
                for tp, messages in data.items():
                    for message in messages:
                        self._handle(tp, message)
                metrics.UNFINISHED.set(self.tracker.unfinished())
                if time.monotonic() >= next_commit:
                    await self._commit()
                    next_commit = time.monotonic() + self.settings.commit_interval_s
        except Exception:
            log.exception("notifier stopped by an error; unfinished alerts are not committed")
            raise
        if self._fatal is not None:
            raise RuntimeError(f"notifier stopped: {self._fatal!r}") from self._fatal

    def _flow(self) -> None:
        """Pause reading while too many alerts are unfinished; resume below 90 % (flag-guarded)."""
        assert self._consumer is not None
        unfinished = self.tracker.unfinished()
        if not self._paused and unfinished >= self.settings.max_unfinished:
            self._paused = True
            log.warning("%d alerts unfinished (max_unfinished): reading paused", unfinished)
        elif self._paused and unfinished < 0.9 * self.settings.max_unfinished:
            self._paused = False
            log.info("reading resumed (%d alerts unfinished)", unfinished)
        if self._paused:
            self._consumer.pause(*self._consumer.assignment())
        else:
            self._consumer.resume(*self._consumer.paused())

    def _handle(self, tp, message) -> None:
        try:
            record = from_msgpack(message.value)
        except Exception as exc:  # noqa: BLE001 - anything unreadable on the topic: msgpack, version, fields
            self.tracker.add(tp, message.offset, 1)
            self._letters.put_nowait(_Letter(Source(message.topic, tp, message.offset, message.value or b"", None),
                                             f"unreadable record on {message.topic}: {exc!r}"))
            return
        sos_topic = message.topic == self.sos_topic
        if isinstance(record, (Position, Alert)):
            self.last_fixes.observe(record)
        if not wanted(record, sos_topic=sos_topic):
            self.tracker.add(tp, message.offset, 0)
            return
        source = Source(message.topic, tp, message.offset, message.value, record)
        deliveries = deliveries_for(source, message.timestamp, self.config, self.last_fixes)
        self.tracker.add(tp, message.offset, len(deliveries))
        for name, delivery in deliveries:
            self.runners[name].submit(delivery)

    def _finished(self, name: str, finished: Finished) -> None:
        source: Source = finished.delivery.ref
        if finished.delivered:
            self.tracker.done(source.tp, source.offset)
            return
        delivery = finished.delivery
        reason = f"webhook {name}: {finished.reason}; webhook-id {delivery.webhook_id}, type {delivery.kind}"
        self._letters.put_nowait(_Letter(source, reason))

    async def _commit(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in self.tracker.committable().items()
                   if tp in assigned and self._committed.get(tp) != offset}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except KafkaError as exc:
            log.warning("offset commit failed (%s): finished alerts may be sent again, with the same webhook-id",
                        exc)

    # -- dead letters -----------------------------------------------------------------------

    async def _write_letters(self) -> None:
        backoff = Backoff(0.5, 30.0)
        while True:
            letter = await self._letters.get()
            source = letter.source
            alert = source.alert
            value = DeadLetter(stage=STAGE, reason=letter.reason, data=source.value, at_ms=int(time.time() * 1000),
                               protocol=alert.protocol if alert else None, device_id=alert.device_id if alert else None,
                               frame_id=alert.frame_id if alert else None, source_topic=source.topic).to_msgpack()
            key = topics.device_key(alert.device_id) if alert and alert.device_id else None
            attempt = 0
            while True:
                try:
                    assert self._producer is not None
                    await self._producer.send_and_wait(self.dead_letter_topic, value, key=key)
                    break
                except KafkaError as exc:
                    attempt += 1
                    metrics.DEAD_LETTER_ERRORS.inc()
                    delay = backoff.delay(attempt)
                    log.warning("dead letter not written (%s); attempt %d, retry in %.1f s", exc, attempt, delay)
                    await asyncio.sleep(delay)
            self.tracker.done(source.tp, source.offset)
            self._letters.task_done()

    # -- last known fixes -------------------------------------------------------------------

    async def _start_positions(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers, group_id=None,
                                    client_id="trackwire-notifier-positions", enable_auto_commit=False)
        self._positions = consumer
        await consumer.start()
        tps = [TopicPartition(self.positions_topic, p) for p in await self._partitions(self.positions_topic)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp, offset in (await self._offsets_since(consumer, tps, self.settings.last_fix_lookback_s)).items():
            consumer.seek(tp, offset)
        self._spawn(self._follow_positions(consumer, ends), "notify-positions")
        try:
            await asyncio.wait_for(self._warm.wait(), self.settings.last_fix_warmup_s)
        except asyncio.TimeoutError:
            log.warning("positions of the last %.0f s not read within %.0f s; starting anyway (alerts without a fix "
                        "may lack the last known one for a while)", self.settings.last_fix_lookback_s,
                        self.settings.last_fix_warmup_s)

    @staticmethod
    async def _offsets_since(consumer: AIOKafkaConsumer, tps: list, seconds: float) -> dict:
        """Per partition the first offset of a record from the last `seconds`, else the end. The end is
        read first: whatever is written meanwhile is newer, so it is never skipped."""
        for attempt in range(1, 31):  # a topic created a moment ago may not have its leaders yet
            try:
                ends = await consumer.end_offsets(tps)
                found = await consumer.offsets_for_times({tp: int((time.time() - seconds) * 1000) for tp in tps})
                return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in tps}
            except KafkaError as exc:
                if attempt == 30:
                    raise
                log.info("offsets by time not available yet (%s); retrying", exc)
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def _partitions(self, topic: str) -> list[int]:
        return (await self._wait_for_leaders([topic]))[topic]

    async def _wait_for_leaders(self, names: list[str], timeout_s: float = 30.0) -> dict[str, list[int]]:
        """Each topic's partitions, once every one of them has a leader: a consumer that joins before
        a topic created a moment ago has its leaders leaves that topic out until its next metadata refresh."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers, client_id="trackwire-notifier")
        await admin.start()
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                described = await admin.describe_topics(names)
                ready = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described
                         if not t["error_code"] and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])}
                if len(ready) == len(names) or time.monotonic() > deadline:
                    missing = sorted(set(names) - set(ready))
                    if missing:
                        raise RuntimeError(f"topics without leaders after {timeout_s:.0f} s: {', '.join(missing)}")
                    return ready
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    async def _follow_positions(self, consumer: AIOKafkaConsumer, ends: dict) -> None:
        while True:
            data = await consumer.getmany(timeout_ms=500, max_records=5000)
            for messages in data.values():
                for message in messages:
                    try:
                        record = from_msgpack(message.value)
                    except Exception:  # noqa: BLE001 - not ours to judge: the sink dead-letters it
                        continue
                    if isinstance(record, Position):
                        self.last_fixes.observe(record)
            metrics.KNOWN_FIXES.set(len(self.last_fixes))
            if not self._warm.is_set() and all(await asyncio.gather(
                    *(self._reached(consumer, tp, end) for tp, end in ends.items()))):
                self._warm.set()
                log.info("last known fixes: %d devices", len(self.last_fixes))

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, tp, end: int) -> bool:
        return await consumer.position(tp) >= end

    # -- rebalance --------------------------------------------------------------------------

    async def _on_revoked(self, revoked) -> None:
        revoked = set(revoked)
        if not revoked:
            return
        await self._commit()
        dropped = sum(runner.abandon(lambda d: d.ref.tp in revoked) for runner in self.runners.values())
        self.tracker.forget(revoked)
        for tp in revoked:
            self._committed.pop(tp, None)
        if dropped:
            log.info("partitions revoked: %d held deliveries dropped (the new owner sends them again)", dropped)

    async def _on_assigned(self, assigned) -> None:
        consumer = self._consumer
        assert consumer is not None
        fresh = []
        for tp in assigned:
            if await consumer.committed(tp) is None:
                fresh.append(tp)
        if not fresh:
            return
        for tp, offset in (await self._offsets_since(consumer, fresh, self.settings.start_lookback_s)).items():
            consumer.seek(tp, offset)
        log.info("new consumer group: %d partition(s) start %.0f s back", len(fresh), self.settings.start_lookback_s)

    # -- health -----------------------------------------------------------------------------

    def _health(self) -> tuple[bool, dict]:
        body = {
            "state": self._state,
            "unfinished_alerts": self.tracker.unfinished(),
            "webhooks": {name: {"backlog": r.queue.backlog, "in_flight": r.queue.in_flight,
                                "disabled": r.queue.disabled} for name, r in self.runners.items()},
        }
        return self._state == "running" and self._fatal is None, body


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def on_partitions_revoked(self, revoked) -> None:
        await self._notifier._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned) -> None:
        await self._notifier._on_assigned(assigned)
