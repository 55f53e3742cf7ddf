"""The Faust wiring: one agent over the raw-frames topic, one timer, one table. The logic lives in
processors.pipeline / processors.rules; this module only moves bytes between them and Kafka.

- Agent `decode`: each raw-frame message -> `FrameProcessor.process` -> sends its outputs (keyed by
  device id) and sets the device's next deadline. Faust commits the offset only after the producer
  flushed what the frame produced, so delivery is at-least-once; every record carries
  (frame_id, frame_index) for downstream de-duplication.
- Table `devices`: device id -> DeviceState msgpack, backed by a changelog topic
  (`<app id>-devices-changelog`), partitioned like the raw-frames topic (`use_partitioner`: the
  changelog partition is the one the device id hashes to, as on the raw-frames topic, so the timer
  may write it too). A worker given a partition recovers that partition's devices from it.
- Timer `deadlines`: every `tick_interval_s`, pops the devices whose deadline passed (a heap, not a
  scan; rebuilt from the table when the partition assignment changes) and lets the pipeline raise
  `offline` or close SOS episodes. Only devices of partitions this worker actively owns are handled,
  and a partition with a backlog is judged at the time of its latest processed frame
  (deadlines.StreamClock), so catching up after an outage raises no false `offline`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import faust
from aiokafka.partitioner import murmur2

from processors.deadlines import DeadlineIndex, StreamClock
from processors.pipeline import FrameProcessor, Output, OutputTopics, Result
from processors.settings import ProcessorSettings
from trackwire.settings import KafkaSettings

log = logging.getLogger("trackwire.processor")

TABLE_NAME = "devices"
MAX_DUE_PER_TICK = 10_000  # a mass outage raises its offline alerts over several ticks, not in one


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka and Java) gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


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


class ProcessorApp:
    """A Faust app running `FrameProcessor` on every raw frame, plus the deadline timer."""

    def __init__(self, settings: ProcessorSettings, kafka: KafkaSettings, partitions: int) -> None:
        self.settings = settings
        self.app_id = settings.app_id or default_app_id(kafka)
        self.partitions = partitions
        self.topics = OutputTopics.from_prefix(kafka.topic_prefix)
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
            web_enabled=settings.web_port is not None,
            web_port=settings.web_port or 6066,
            web_host="127.0.0.1",
            **extra,
        )
        self.table = self.app.Table(
            TABLE_NAME,
            default=None,
            key_type=bytes,  # bytes key/value types give the raw serializer
            value_type=bytes,
            partitions=partitions,
            use_partitioner=True,
            help="device id -> DeviceState (processors/state.py), msgpack",
        )
        self.pipeline = FrameProcessor(self.topics, settings, self.table)
        self.index = DeadlineIndex()
        self.clock = StreamClock()
        # (consumer generation, raw-topic partitions) the index was built for
        self._indexed: tuple[int, frozenset[int]] | None = None
        self.raw_topic = self.app.topic(self.topics.raw_frames, key_type=bytes, value_type=bytes,
                                        key_serializer="raw", value_serializer="raw")
        self.app.agent(self.raw_topic, name="decode")(self._decode_agent)
        self.app.timer(settings.tick_interval_s, name="deadlines")(self._deadlines_timer)

    async def _send(self, outputs: list[Output], frame_ms: int | None = None) -> None:
        # Straight to the app's producer (already bytes): Faust's commit flushes this producer
        # before it commits the offsets, as for channel sends, without a channel's per-message work.
        # A frame's outputs carry its reception time as their timestamp: the sink stores that as
        # `time` of a record without a device time, so a frame processed again after a crash gives
        # the same rows, which ClickHouse collapses (with the processing time it gave new ones).
        producer = self.app.producer
        timestamp_s = frame_ms / 1000 if frame_ms is not None else None
        for out in outputs:
            await producer.send(out.topic, out.key, out.value, None, timestamp_s, None)

    def _track(self, result: Result) -> None:
        if result.stateful and result.device_id is not None:
            self.index.set(result.device_id, result.deadline_ms)

    async def _decode_agent(self, stream) -> None:
        consumer = self.app.consumer
        async for event in stream.events():
            message = event.message
            result = self.pipeline.process(event.key, event.value)
            self._track(result)
            frame_ms = result.received_ms if isinstance(result.received_ms, int) else int(message.timestamp * 1000)
            await self._send(result.outputs, frame_ms)
            self.clock.observe(message.partition, message.offset, _highwater(consumer, message.tp), frame_ms)

    def _active_partitions(self) -> frozenset[int]:
        raw = self.topics.raw_frames
        return frozenset(tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == raw)

    def _ready(self) -> bool:
        app = self.app
        return not app.rebalancing and not app.in_recovery and app.tables.recovery.completed.is_set()

    def _rebuild_index(self, generation: int, actives: frozenset[int]) -> None:
        entries = []
        for key in list(self.table.keys()):
            if partition_for(key, self.partitions) in actives:
                device_id = key.decode()
                entries.append((device_id, self.pipeline.deadline(device_id)))
        self.index.rebuild(entries)
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
            self._rebuild_index(generation, actives)
        wall_ms = int(time.time() * 1000)
        for device_id in self.index.pop_due(wall_ms, limit=MAX_DUE_PER_TICK):
            partition = partition_for(device_id.encode(), self.partitions)
            if partition not in actives:
                continue  # moved to another worker
            # Not yet due if its partition is still being caught up: it comes back next tick.
            result = self.pipeline.tick(device_id, self.clock.now(partition, wall_ms))
            self._track(result)
            await self._send(result.outputs)
