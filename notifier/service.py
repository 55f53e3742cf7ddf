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
- Dead letters: notifier.dead_letters writes them (stage "notifier"), retried until Kafka acknowledges.
- Last known fix: notifier.positions follows the positions topic (from `last_fix_lookback_s`
  back) into a bounded per-device map, for alerts that came without a fix.

Lifecycle: `await start()` / `await stop()` (idempotent) or `async with`; `wait()` until it stops.
This module is the thin I/O shell; every decision is made in the pure modules it calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from notifier import metrics
from notifier.config import NotifyConfig
from notifier.dead_letters import DeadLetterWriter, Letter
from notifier.deliverer import WebhookRunner
from notifier.http_app import start_http
from notifier.http_client import WebhookClient
from notifier.kafka_offsets import offsets_since, wait_for_leaders
from notifier.lanes import Finished
from notifier.offsets import OffsetTracker
from notifier.payload import LastFixes
from notifier.positions import PositionsFollower
from notifier.routing import Source, deliveries_for, wanted
from notifier.settings import NotifierSettings
from schemas import topics
from schemas.alarms import SOS_ALARMS
from schemas.records import Alert, Position, from_msgpack
from common.kafka_security import aiokafka_options
from common.settings import KafkaSettings
from common.kafka import ensure_topics

log = logging.getLogger("trackwire.notify")

POLL_MS = 200


def group_id(settings: NotifierSettings, kafka: KafkaSettings) -> str:
    return settings.group_id or f"{kafka.topic_prefix}notifier"


def reads_alerts_topic(config: NotifyConfig) -> bool:
    """The alerts topic is read only when some webhook wants an alarm that is not on the SOS topic."""
    return bool(config.alarms() - SOS_ALARMS)


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
        self._positioned: set = set()  # assigned partitions whose start _on_assigned has set (seeked)
        self.last_fixes = LastFixes(settings.last_fix_devices)
        self.runners: dict[str, WebhookRunner] = {}
        for hook in config.webhooks:
            secret = secrets[hook.name] if secrets is not None else hook.signing_secret()
            self.runners[hook.name] = WebhookRunner(
                hook, WebhookClient(hook, secret), lambda finished, name=hook.name: self._finished(name, finished),
                on_failure=self._fail)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._positions: PositionsFollower | None = None
        self._tasks: set[asyncio.Task] = set()
        self._main: asyncio.Task | None = None
        self._letters: DeadLetterWriter | None = None
        self._http = None
        self.http_port: int | None = None
        self._stopping = asyncio.Event()
        self._stop_task: asyncio.Task | None = None
        self._started = asyncio.Event()  # start() has finished, one way or another
        self._state = "new"
        self._paused = False
        self._fatal: BaseException | None = None

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
        self._producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap_servers, **aiokafka_options(self.kafka),
                                          client_id="trackwire-notifier", acks="all", enable_idempotence=True)
        await self._producer.start()
        for runner in self.runners.values():
            await runner.start()
        self._letters = DeadLetterWriter(self._producer, self.dead_letter_topic,
                                         lambda source: self.tracker.done(source.tp, source.offset))
        self._spawn(self._letters.run(), "notify-dead-letters")
        if self.settings.last_fix_devices > 0:
            await self._start_positions()
        await wait_for_leaders(self.kafka.bootstrap_servers, self.topic_names, security=aiokafka_options(self.kafka))
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            **aiokafka_options(self.kafka),
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
        if self._letters is not None and self._letters.pending():
            try:
                await asyncio.wait_for(self._letters.drained(), timeout)
            except asyncio.TimeoutError:
                log.warning("stopping with %d dead letters unwritten: their alerts stay uncommitted and are "
                            "read again", self._letters.pending())
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
                    if tp not in self._positioned:
                        # Fetched before _on_assigned set where this partition starts (aiokafka sets an
                        # assignment, and may fetch, before the callback): the seek there reads it again.
                        continue
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
            self._dead(Letter(Source(message.topic, tp, message.offset, message.value or b"", None),
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
        self._dead(Letter(source, reason))

    def _dead(self, letter: Letter) -> None:
        assert self._letters is not None, "dead letters before start()"
        self._letters.put(letter)

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

    # -- last known fixes -------------------------------------------------------------------

    async def _start_positions(self) -> None:
        self._positions = PositionsFollower(self.kafka.bootstrap_servers, self.positions_topic, self.last_fixes,
                                            lookback_s=self.settings.last_fix_lookback_s,
                                            security=aiokafka_options(self.kafka))
        await self._positions.start()
        self._spawn(self._positions.follow(), "notify-positions")
        try:
            await asyncio.wait_for(self._positions.caught_up.wait(), self.settings.last_fix_warmup_s)
        except asyncio.TimeoutError:
            log.warning("positions of the last %.0f s not read within %.0f s; starting anyway (alerts without a fix "
                        "may lack the last known one for a while)", self.settings.last_fix_lookback_s,
                        self.settings.last_fix_warmup_s)

    # -- rebalance --------------------------------------------------------------------------

    async def _on_revoked(self, revoked) -> None:
        revoked = set(revoked)
        if not revoked:
            return
        self._positioned -= revoked
        await self._commit()
        dropped = sum(runner.abandon(lambda d: d.ref.tp in revoked) for runner in self.runners.values())
        self.tracker.forget(revoked)
        for tp in revoked:
            self._committed.pop(tp, None)
        if dropped:
            log.info("partitions revoked: %d held deliveries dropped (the new owner sends them again)", dropped)

    async def _on_assigned(self, assigned) -> None:
        """Where each assigned partition starts: its committed offset, or, for a new group, the first
        record of the last start_lookback_s. Every partition is seeked, not only the new ones: records
        fetched before this ran were dropped (`_positioned`), and the seek reads them again."""
        consumer = self._consumer
        assert consumer is not None
        fresh = []
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is None:
                fresh.append(tp)
            else:
                self._start_at(tp, committed)
        if fresh:
            for tp, offset in (await offsets_since(consumer, fresh, self.settings.start_lookback_s)).items():
                self._start_at(tp, offset)
            log.info("new consumer group: %d partition(s) start %.0f s back", len(fresh),
                     self.settings.start_lookback_s)

    def _start_at(self, tp, offset: int) -> None:
        # Seek and mark together, with no await between: a record fetched before the seek is dropped
        # (not yet positioned) and read again from here; one fetched after it is handled. Marking
        # later, after the next await, dropped records fetched after the seek for good (seen: an
        # alert never sent after a restart).
        assert self._consumer is not None
        self._consumer.seek(tp, offset)
        self._positioned.add(tp)

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
        try:
            await self._notifier._on_assigned(assigned)
        except Exception as exc:  # aiokafka would log it and go on, with these partitions never read
            log.error("could not set where the assigned partitions start; stopping", exc_info=exc)
            self._notifier._fail(exc)
