"""The device allow-list: a compacted Kafka topic (device id -> settings), read by every listener.

Each listener instance reads the whole topic (no consumer group) and follows it, so `trackwire
devices add|remove` reaches every instance without a restart. A tombstone (null value) removes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Callable

import msgpack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.kafka_security import aiokafka_options, start_checked
from common.service import supervise
from common.settings import KafkaSettings

log = logging.getLogger(__name__)

DEVICE_SETTINGS_VERSION = 1


@dataclass(slots=True)
class DeviceSettings:
    display_name: str | None = None
    group: str | None = None

    def to_msgpack(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        body["v"] = DEVICE_SETTINGS_VERSION
        return msgpack.packb(body, use_bin_type=True)

    @classmethod
    def from_msgpack(cls, payload: bytes) -> "DeviceSettings":
        data = msgpack.unpackb(payload, raw=False)
        data.pop("v", None)
        known = {k: data[k] for k in ("display_name", "group") if k in data}
        return cls(**known)


class DeviceRegistry:
    def __init__(self, kafka: KafkaSettings, topic: str,
                 on_failure: Callable[[BaseException], None] | None = None) -> None:
        self._kafka = kafka
        self._topic = topic
        self._on_failure = on_failure  # the follower died: the list would go stale, the owner decides
        self._devices: dict[str, DeviceSettings] = {}
        self._task: asyncio.Future | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()

    def is_registered(self, device_id: str) -> bool:
        return device_id in self._devices

    def get(self, device_id: str) -> DeviceSettings | None:
        return self._devices.get(device_id)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        device_id = key.decode(errors="replace")
        if value is None:
            self._devices.pop(device_id, None)
            return
        try:
            self._devices[device_id] = DeviceSettings.from_msgpack(value)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            log.warning("ignoring unreadable settings for device %s: %r", device_id, exc)

    async def start(self, ready_timeout_s: float = 30.0) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", **aiokafka_options(self._kafka),
        )
        await start_checked(self._consumer, self._kafka)  # `devices list` connects here first
        partitions = await _partitions_of(self._kafka, self._topic)
        if not partitions:
            await self._consumer.stop()
            raise RuntimeError(f"devices topic {self._topic!r} does not exist; run `trackwire topics`")
        assigned = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        end = await self._consumer.end_offsets(assigned)
        self._task = supervise(asyncio.ensure_future(self._follow(end)), "listener.devices", self._on_failure)
        await asyncio.wait_for(self.ready.wait(), ready_timeout_s)

    async def _follow(self, end: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        remaining = {tp: off for tp, off in end.items() if off > 0}
        if not remaining:
            self.ready.set()
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for tp, messages in batches.items():
                for message in messages:
                    self.apply(message.key, message.value)
                    if tp in remaining and message.offset + 1 >= remaining[tp]:
                        del remaining[tp]
            if not remaining and not self.ready.is_set():
                log.info("device allow-list loaded: %d devices", len(self._devices))
                self.ready.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # a failure was logged by supervise
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def snapshot(self) -> dict[str, DeviceSettings]:
        return dict(self._devices)


async def _partitions_of(kafka: KafkaSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="trackwire-devices",
                                **aiokafka_options(kafka))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described if d.get("error_code", 0) == 0 for p in d.get("partitions", []))


async def put_device(kafka: KafkaSettings, topic: str, device_id: str, settings: DeviceSettings | None) -> None:
    """Register (settings) or remove (None) a device."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", **aiokafka_options(kafka))
    try:
        await start_checked(producer, kafka)
        value = settings.to_msgpack() if settings is not None else None
        await producer.send_and_wait(topic, key=device_id.encode(), value=value)
    finally:
        await producer.stop()


async def list_devices(kafka: KafkaSettings, topic: str) -> dict[str, DeviceSettings]:
    registry = DeviceRegistry(kafka, topic)
    try:
        await registry.start()
        return registry.snapshot()
    finally:
        await registry.stop()
