"""The Faust wiring: one agent over the raw-frames topic, one timer, one table. The logic lives in
processors.pipeline / processors.rules; this module only moves bytes between them and Kafka.

- Agent `decode`: raw-frame messages in batches (`stream.take_events`: up to `batch_max`, or what
  came within `batch_wait_s`), each through `FrameProcessor.process`; each frame's outputs are sent
  (keyed by device id) as it is processed, without waiting for each acknowledgement, except that
  an SOS record is let out before the batch goes on (`_let_alarm_out`); then each device's state
  is written to the table once (processors.batching.WriteBehind, `_write_states`), then the batch
  is acknowledged.
  Faust commits the acknowledged offsets only after the producer flushed everything sent before,
  outputs and changelog alike, so delivery is at-least-once; every record carries
  (frame_id, frame_index) for downstream de-duplication.
- Table `devices`: device id -> DeviceState msgpack, backed by a changelog topic
  (`<app id>-devices-changelog`), partitioned like the raw-frames topic (`use_partitioner`: the
  changelog partition is the one the device id hashes to, as on the raw-frames topic, so the timer
  may write it too). A worker given a partition recovers that partition's devices from it.
- Timer `deadlines`: every `tick_interval_s`, pops the devices whose deadline passed (a heap, not a
  scan; rebuilt from the table when the partition assignment changes) and lets the pipeline raise
  `offline` or close SOS episodes. Only devices of partitions this worker actively owns are handled,
  and a partition with a backlog is judged at the time of its latest processed frame
  (deadlines.StreamClock), so catching up after an outage raises no false `offline`; a partition
  just assigned is not judged at all until its first frame is processed or it has nothing to read.
- HTTP (`http_port`, default 9101): /healthz, /readyz and /metrics (processors.metrics) from
  common.service.HealthApp, started as a Faust service inside the worker's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path

import faust
import mode
from faust.types import TP

from common.kafka_security import faust_credentials
from common.service import HealthApp
from common.settings import KafkaSettings
from processors import metrics
from processors.alarm_gate import AlarmGate
from processors.batching import WriteBehind
from processors.deadlines import DeadlineIndex, StreamClock
from processors.recovery import SeekFirstTableManager
from processors.pipeline import FrameProcessor, Output, Result, has_open_sos
from processors.settings import ProcessorSettings
from schemas.topics import partition_for, topic_names

log = logging.getLogger("trackwire.processor")

TABLE_NAME = "devices"
MAX_DUE_PER_TICK = 10_000  # a mass outage raises its offline alerts over several ticks, not in one
SOS_WAIT_S = 0.05  # longest an SOS record holds up its batch waiting for the broker's acknowledgement


def default_app_id(kafka: KafkaSettings) -> str:
    return kafka.topic_prefix + "processor"


def changelog_topic(app_id: str) -> str:
    """The name Faust gives the `devices` table's changelog topic."""
    return f"{app_id}-{TABLE_NAME}-changelog"


def _highwater(consumer, tp) -> int | None:
    try:
        return consumer.highwater(tp)
    except Exception:  # noqa: BLE001 - a partition revoked meanwhile: no answer is a fine answer
        return None


def bound_fetch_wait(consumer, wait_s: float) -> None:
    """Make Faust's fetch loop ask for new records with at most `wait_s` of waiting.

    Faust's fetcher (`Consumer._drain_messages`) calls `getmany(timeout=1.0)`, which asks aiokafka,
    on Faust's consumer thread, for records of the *active* partitions only. Measured with a steady
    200 frames/s (benchmarks/bench_notify.py): frames reached the pipeline 1.1-1.3 s after Kafka had
    them (18 ms without the background load), and the delay followed the 1 s timeout (0.1 s: 22-76 ms)
    and, less so, the commit interval: the wait ran out instead of ending when records arrived.
    Bounding it bounds that delay; with data waiting, getmany returns at once as before, so the
    cost is a few more empty polls a second on an idle worker. Set on the instance because the
    fetch loop binds `self.getmany` when it starts."""
    inner = consumer.getmany

    async def getmany(timeout: float):
        async for item in inner(timeout=min(timeout, wait_s)):
            yield item

    consumer.getmany = getmany
    _bound_broker_fetch_wait(consumer, wait_s)


def _bound_broker_fetch_wait(consumer, wait_s: float) -> None:
    """The same bound on the fetch requests aiokafka sends the broker (Faust asks for 1.5 s).

    aiokafka leaves a partition out of the next fetch request while it still holds records of it
    that were not consumed; when every raw-frames partition had some, the request went out for the
    idle partitions alone (the assignor's topic, the changelog) and the broker held it for its
    full 1.5 s. Frames arriving meanwhile waited for it: SOS alerts 1.6-1.8 s late at p99 with 800
    background devices (benchmarks/bench_notify.py) while the producer acknowledged within 80 ms.
    An idle worker now sends a fetch request every `wait_s` instead of every 1.5 s."""
    thread = getattr(consumer, "_thread", None)
    create = getattr(thread, "_create_worker_consumer", None)
    if create is None:  # another transport: nothing to bound
        return

    def create_worker_consumer(transport):
        kafka_consumer = create(transport)
        kafka_consumer._fetch_max_wait_ms = max(1, int(wait_s * 1000))  # read when it starts its fetcher
        return kafka_consumer

    thread._create_worker_consumer = create_worker_consumer


class ProcessorApp:
    """A Faust app running `FrameProcessor` on every raw frame, plus the deadline timer."""

    def __init__(self, settings: ProcessorSettings, kafka: KafkaSettings, partitions: int) -> None:
        self.settings = settings
        self.app_id = settings.app_id or default_app_id(kafka)
        self.partitions = partitions
        self.topics = topic_names(kafka.topic_prefix)
        # Faust wants a data directory even with the memory store (nothing is kept there then).
        datadir = Path(tempfile.gettempdir()) / "trackwire-faust" / self.app_id
        datadir.mkdir(parents=True, exist_ok=True)
        extra = {}
        if settings.session_timeout_s is not None:
            extra["broker_session_timeout"] = settings.session_timeout_s
            extra["broker_heartbeat_interval"] = max(0.5, settings.session_timeout_s / 6)
        self.app = faust.App(
            self.app_id,
            broker=[f"kafka://{host.strip()}" for host in kafka.bootstrap_servers.split(",") if host.strip()],
            broker_credentials=faust_credentials(kafka),
            store=settings.store,
            datadir=str(datadir),
            topic_partitions=partitions,
            topic_replication_factor=kafka.topic_replication_factor,
            table_standby_replicas=settings.standby_replicas,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=settings.commit_interval_s,
            # Commit on the interval only: Faust's default also commits every 10 000 messages from
            # inside the fetch loop, which stops fetching for the commit's producer flush.
            broker_commit_every=1 << 62,
            producer_acks=-1,
            TableManager=SeekFirstTableManager,  # processors/recovery.py: no frame skipped at start
            web_enabled=settings.web_port is not None,
            web_port=settings.web_port or 6066,
            web_host="127.0.0.1",
            **extra,
        )
        bound_fetch_wait(self.app.consumer, settings.fetch_wait_s)
        self.table = self.app.Table(
            TABLE_NAME,
            default=None,
            key_type=bytes,  # bytes key/value types give the raw serializer
            value_type=bytes,
            partitions=partitions,
            use_partitioner=True,
            help="device id -> DeviceState (processors/state.py), msgpack",
        )
        self.states = WriteBehind(self.table)  # written at the end of each batch and timer tick
        self.changelog = self.table.changelog_topic.get_topic_name()
        self.pipeline = FrameProcessor(self.topics, settings, self.states)
        self.index = DeadlineIndex()
        self.clock = StreamClock()
        # (consumer generation, raw-topic partitions) the index was built for
        self._indexed: tuple[int, frozenset[int]] | None = None
        # For the gauges: this worker's devices, those with an open SOS/fall episode, and the next
        # raw-frames offset to process per partition (rebuilt with the index after a rebalance).
        self._devices: set[str] = set()
        self._open_sos: set[str] = set()
        self._next_offset: dict[int, int] = {}
        self._lag = 0
        self._agent_running = False
        self.alarm_gate = AlarmGate(max_wait_s=SOS_WAIT_S)
        self.raw_topic = self.app.topic(self.topics.raw_frames, key_type=bytes, value_type=bytes,
                                        key_serializer="raw", value_serializer="raw")
        self.agent = self.app.agent(self.raw_topic, name="decode")(self._decode_agent)
        self.app.timer(settings.tick_interval_s, name="deadlines")(self._deadlines_timer)
        self.http = HealthApp(settings.http_host, settings.http_port, health=self._health_probe,
                              ready=self._ready_probe)
        self.app.service(_http_service(self.http))
        metrics.DEVICES.set_function(lambda: len(self._devices))
        metrics.OPEN_SOS.set_function(lambda: len(self._open_sos))
        metrics.LAG.set_function(lambda: self._lag)

    async def _send(self, outputs: list[tuple[Output, float | None]]) -> None:
        # Straight to the app's producer (already bytes): Faust's commit flushes this producer
        # before it commits the offsets, as for channel sends, without a channel's per-message work.
        # Awaiting `send` only waits while the producer's batches are full (backpressure); the
        # acknowledgements are not awaited one by one.
        # Each output carries its frame's reception time as its timestamp: the sink stores that as
        # `time` of a record without a device time, so a frame processed again after a crash gives
        # the same rows, which ClickHouse collapses (with the processing time it gave new ones).
        producer = self.app.producer
        for out, timestamp_s in outputs:
            await producer.send(out.topic, out.key, out.value, None, timestamp_s, None)

    async def _write_states(self) -> None:
        """The pending device states into the table: the store, and one changelog message each.

        Sent like the outputs, straight to the producer, not through `table[key] = value`: that
        queues each changelog message in Faust's ProducerBuffer, drained one message per loop turn,
        and the commit's flush waits until that buffer is empty, which it never is while a backlog
        is being processed (commits took 45 s). Sent this way they are in aiokafka's batches, which
        the commit's flush waits for before committing the offsets. The partition is the one the
        table's partitioner would give (`use_partitioner`: the key's, as on the raw-frames topic).
        With a RocksDB store no changelog offset is persisted locally: recovery replays the
        changelog from its start (correct, only slower to start)."""
        pending = self.states.take()
        if not pending:
            return
        store = self.table.data
        producer = self.app.producer
        for key, value in pending.items():
            store[key] = value
            await producer.send(self.changelog, key, value, partition_for(key, self.partitions), None, None)

    def _track(self, result: Result) -> None:
        device_id = result.device_id
        if result.stateful and device_id is not None:
            self.index.set(device_id, result.deadline_ms)
            self._devices.add(device_id)
            if result.open_sos:
                self._open_sos.add(device_id)
            else:
                self._open_sos.discard(device_id)

    async def _decode_agent(self, stream) -> None:
        self._agent_running = True
        try:
            if self.settings.batch_max == 1:
                async for event in stream.events():
                    await self._process_batch([event])
            else:
                async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_wait_s):
                    await self._process_batch(events)
        finally:
            self._agent_running = False

    async def _process_batch(self, events: list) -> None:
        """Process, send, write state; the batch is acknowledged when this returns.

        Each frame's outputs are handed to the producer as the frame is processed. An SOS output
        goes out at once: the loop is given to the producer's sender before the rest of the batch
        is processed (a batch of frame batches can hold thousands of frames, milliseconds to
        seconds of work), so an alarm never waits for the frames behind it."""
        consumer = self.app.consumer
        producer = self.app.producer
        sos_topic = self.topics.sos
        protocols: Counter[str] = Counter()
        records: Counter[str] = Counter()
        dead: Counter[str] = Counter()
        for event in events:
            message = event.message
            message_ms = int(message.timestamp * 1000)
            frame_ms = message_ms
            for result in self.pipeline.process_message(event.key, event.value):  # a batch: several frames
                self._track(result)
                protocols[result.protocol or "unknown"] += 1
                if result.dead_reasons:
                    dead.update(result.dead_reasons)
                frame_ms = result.received_ms if isinstance(result.received_ms, int) else message_ms
                alarm = None
                for out in result.outputs:  # each carries its frame's reception time: see _send
                    delivery = await producer.send(out.topic, out.key, out.value, None, frame_ms / 1000, None)
                    records[out.topic] += 1
                    if out.topic == sos_topic:
                        alarm = delivery
                if alarm is not None:
                    await self._let_alarm_out(alarm)
            self.clock.observe(message.partition, message.offset, _highwater(consumer, message.tp), frame_ms)
            self._next_offset[message.partition] = message.offset + 1
        # Outputs before state: a crash between the two re-processes the frames from the old state.
        await self._write_states()
        metrics.count_totals(protocols, records, dead)
        metrics.BATCHES.inc()

    async def _let_alarm_out(self, delivery) -> None:
        """Wait (at most SOS_WAIT_S) until the broker has the SOS record before processing on: the
        producer's sender runs only while this loop waits, and the batch's remaining frames would
        keep it from running. In an SOS storm the gate (processors/alarm_gate.py) spaces the waits,
        so the storm's records still go out together and waiting takes at most half of the time."""
        wait_s = self.alarm_gate.wait_s()
        if wait_s is None:
            return
        started = self.alarm_gate.now()
        await asyncio.wait({delivery}, timeout=wait_s)
        self.alarm_gate.waited(started)

    def _active_partitions(self) -> frozenset[int]:
        raw = self.topics.raw_frames
        return frozenset(tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == raw)

    def _ready(self) -> bool:
        app = self.app
        return not app.rebalancing and not app.in_recovery and app.tables.recovery.completed.is_set()

    # -- HTTP probes -----------------------------------------------------------------------

    def _health_probe(self) -> tuple[bool, dict]:
        ok = not self.app.crashed and not self.agent.crashed
        return ok, {"status": "ok" if ok else "crashed", "app_id": self.app_id}

    def _ready_probe(self) -> tuple[bool, dict]:
        app = self.app
        ready = self._ready() and self._agent_running
        body = {"ready": ready, "rebalancing": bool(app.rebalancing), "recovering": bool(app.in_recovery),
                "agent_running": self._agent_running, "lag": self._lag}
        if self._indexed is not None:
            body["partitions"] = sorted(self._indexed[1])
        return ready, body

    def _update_lag(self, actives: frozenset[int]) -> None:
        """Messages behind the raw-frames end on the active partitions (a partition not yet read
        from counts from where this worker is to start, once the consumer knows its end)."""
        consumer = self.app.consumer
        lag = 0
        for partition in actives:
            tp = TP(self.topics.raw_frames, partition)
            end = _highwater(consumer, tp)
            position = self._next_offset.get(partition)
            if end is not None and position is not None:
                lag += max(0, end - position)
            elif end is not None:
                lag += end  # nothing processed here yet by this worker: at most the whole partition
        self._lag = lag

    def _rebuild_index(self, generation: int, actives: frozenset[int]) -> None:
        entries = []
        devices, open_sos = set(), set()
        for key in list(self.table.keys()):
            if partition_for(key, self.partitions) in actives:
                device_id = key.decode()
                entries.append((device_id, self.pipeline.deadline(device_id)))
                devices.add(device_id)
                state = self.pipeline.load(device_id)
                if state is not None and has_open_sos(state):
                    open_sos.add(device_id)
        self.index.rebuild(entries)
        self._devices, self._open_sos = devices, open_sos
        for partition in set(self._next_offset) - actives:
            del self._next_offset[partition]
        self._indexed = (generation, actives)
        log.info("trackwire-processor: active partitions %s, %d devices, %d with a deadline "
                 "(app %s, %s of %d partitions)", sorted(actives), len(entries), len(self.index), self.app_id,
                 self.topics.raw_frames, self.partitions)

    async def _deadlines_timer(self) -> None:
        if not self._ready():
            return
        actives = self._active_partitions()
        generation = self.app.consumer_generation_id
        if (generation, actives) != self._indexed:
            # A rebalance: the table now holds what the changelog says for these partitions.
            self.clock.forget(set(self._indexed[1] if self._indexed else ()) - actives)
            self.clock.hold(actives)  # each read again from its committed offset
            self._rebuild_index(generation, actives)
        self._settle_caught_up()
        self._update_lag(actives)
        wall_ms = int(time.time() * 1000)
        held = []
        for device_id in self.index.pop_due(wall_ms, limit=MAX_DUE_PER_TICK):
            partition = partition_for(device_id.encode(), self.partitions)
            if partition not in actives:
                continue  # moved to another worker
            now_ms = self.clock.now(partition, wall_ms)
            if now_ms is None:  # its partition's backlog not started yet: judged once it is
                held.append(device_id)
                continue
            # Not yet due if its partition is still being caught up: it comes back next tick.
            result = self.pipeline.tick(device_id, now_ms)
            self._track(result)
            metrics.count_outputs(result)
            await self._send([(out, None) for out in result.outputs])  # derived now: their own time
            await self._write_states()
        for device_id in held:
            self.index.set(device_id, wall_ms)  # due again next tick

    def _settle_caught_up(self) -> None:
        """Release held partitions that have nothing to process: their committed offset (Faust's,
        from the seek at assignment) is their end. One with a backlog is released by its first
        processed message (StreamClock.observe)."""
        consumer = self.app.consumer
        committed_offsets = getattr(consumer, "_committed_offset", None)
        if committed_offsets is None:  # a Faust without it: no telling, so the wall clock as before
            for partition in self.clock.held():
                self.clock.settle(partition)
            return
        for partition in self.clock.held():
            tp = TP(self.topics.raw_frames, partition)
            end = _highwater(consumer, tp)
            committed = committed_offsets.get(tp)
            if end == 0 or (end is not None and committed is not None and committed >= end):
                self.clock.settle(partition)


def _http_service(http: HealthApp) -> type[mode.Service]:
    """A Faust service (started with the app, in the worker's loop) serving `http`."""

    class ProcessorHttp(mode.Service):
        async def on_start(self) -> None:
            await http.start()
            if http.port is not None:
                log.info("trackwire-processor: health and metrics on http://%s:%d", http.host, http.port)

        async def on_stop(self) -> None:
            await http.stop()

    return ProcessorHttp
