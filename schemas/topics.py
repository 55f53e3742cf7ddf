"""Every Kafka topic of the pipeline, in one place: name, key, record type, partitions, retention
and cleanup policy.

`TOPICS` is the one registry: `trackwire topics` (trackwire/topics_cmd.py, through common/kafka.py) creates and updates the
topics from it, the stages take their topic names from it, and docs/topics.md documents it (a test
keeps the two in step). A topic's full name is `KafkaSettings.topic_prefix` + `TopicSpec.name`, so
several deployments can share one cluster.

Every value is a msgpack map carrying the schema version `v`: a record of schemas/records.py, an
envelope of schemas/envelopes.py, or the device settings of listener/devices.py. Keys are the
device id as UTF-8 (`device_key`); see docs/topics.md for the exceptions before a device is known.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aiokafka.partitioner import murmur2

from schemas.records import Record, is_sos

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


class Cleanup(enum.StrEnum):
    DELETE = "delete"  # segments older than retention.ms are deleted
    COMPACT = "compact"  # the latest value per key is kept; a null value (tombstone) deletes the key


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str  # after the prefix: "positions" -> "trackwire.positions"
    key: str  # what the message key is, for the docs
    value: str  # the class of the value: schemas.records, schemas.envelopes or listener.devices
    summary: str
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int | None = 7 * DAY_MS  # None: not managed (compacted topics keep the latest value)
    partitions: int | None = None  # None: KafkaSettings.topic_partitions

    def full_name(self, prefix: str) -> str:
        return prefix + self.name

    @property
    def attribute(self) -> str:
        """Its field in TopicNames: "dead-letters" -> dead_letters."""
        return self.name.replace("-", "_")

    def configs(self) -> dict[str, str]:
        """The topic configs `trackwire topics` sets and keeps equal to these; others are left alone."""
        configs = {"cleanup.policy": self.cleanup.value}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs

    def partition_count(self, default: int) -> int:
        return self.partitions if self.partitions is not None else default


DEVICE_KEY = "device id"
RAW_KEY = "device id, or the connection id before the device is known (none on a frame batch)"
DEAD_LETTER_KEY = "device id if known, else the raw frame's key, or none"

RAW_FRAMES = TopicSpec(
    name="raw-frames", key=RAW_KEY, value="RawFrame", retention_ms=7 * DAY_MS,
    summary="Every frame a device sent, exactly as received, written by the listener before it replies; "
            "decoders read it, and can re-read it after a codec fix.",
)
POSITIONS = TopicSpec(
    name="positions", key=DEVICE_KEY, value="Position", retention_ms=7 * DAY_MS,
    summary="Decoded fixes (GNSS, or cells/Wi-Fi/BLE for a network fix); ClickHouse keeps the history.",
)
ALERTS = TopicSpec(
    name="alerts", key=DEVICE_KEY, value="Alert", retention_ms=30 * DAY_MS,
    summary="Every alarm, from the device or derived by a processor, one record per alarm, "
            "with the fix it came with.",
)
SOS = TopicSpec(
    name="sos", key=DEVICE_KEY, value="Alert", retention_ms=30 * DAY_MS,
    summary="The alerts that alerting consumers must act on at once: SOS and fall alarms only "
            "(schemas.alarms.SOS_ALARMS). Each is on `alerts` as well.",
)
TELEMETRY = TopicSpec(
    name="telemetry", key=DEVICE_KEY, value="Telemetry", retention_ms=7 * DAY_MS,
    summary="Health and device readings: heart rate, SpO2, blood pressure, temperature, steps, battery.",
)
EVENTS = TopicSpec(
    name="events", key=DEVICE_KEY, value="Event", retention_ms=7 * DAY_MS,
    summary="Device events that are neither fix, alarm nor reading: login, heartbeat, command results.",
)
DEAD_LETTERS = TopicSpec(
    name="dead-letters", key=DEAD_LETTER_KEY, value="DeadLetter", retention_ms=30 * DAY_MS,
    summary="What a stage could not handle (unframeable bytes, undecodable frames, records a sink "
            "rejected), with the reason and the bytes, for a person to look at.",
)
COMMANDS = TopicSpec(
    name="commands", key=DEVICE_KEY, value="DownlinkCommand", retention_ms=1 * DAY_MS,
    summary="Downlink commands for devices; every listener reads them all and sends those for the "
            "devices connected to it.",
)
DEVICES = TopicSpec(
    name="devices", key=DEVICE_KEY, value="DeviceSettings", cleanup=Cleanup.COMPACT, retention_ms=None,
    summary="Device id -> its settings, latest value per device (compacted); a null value removes the "
            "device. The source of the device allow-list.",
)

# In pipeline order; docs/topics.md follows it.
TOPICS: tuple[TopicSpec, ...] = (
    RAW_FRAMES, POSITIONS, ALERTS, SOS, TELEMETRY, EVENTS, DEAD_LETTERS, COMMANDS, DEVICES,
)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Every topic's full name under one prefix: `topic_names("trackwire.").positions`."""

    raw_frames: str
    positions: str
    alerts: str
    sos: str
    telemetry: str
    events: str
    dead_letters: str
    commands: str
    devices: str

    def for_record(self, record: Record) -> tuple[str, ...]:
        """The full names of the topics a decoded record goes to (`topics_for`)."""
        return tuple(getattr(self, spec.attribute) for spec in topics_for(record))


def topic_names(prefix: str) -> TopicNames:
    return TopicNames(**{spec.attribute: spec.full_name(prefix) for spec in TOPICS})


# Where a decoded record goes (besides SOS, see `topics_for`).
RECORD_TOPICS: dict[str, TopicSpec] = {"position": POSITIONS, "alert": ALERTS, "telemetry": TELEMETRY, "event": EVENTS}


def topics_for(record: Record) -> tuple[TopicSpec, ...]:
    """The topics a decoded record is published to: its type's topic, and SOS for an SOS/fall alert."""
    if is_sos(record):
        return (ALERTS, SOS)
    return (RECORD_TOPICS[record.type],)


def device_key(device_id: str) -> bytes:
    return device_id.encode()


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka and Java) gives a key: where a
    device's frames, records and state live, whoever computes it (listener batches, processor state)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _duration(ms: int | None) -> str:
    if ms is None:
        return "latest value per key"
    if ms % DAY_MS == 0:
        days = ms // DAY_MS
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{ms // HOUR_MS} h"


def markdown_table(prefix: str = "trackwire.", partitions: int = 6) -> str:
    """The topic table of docs/topics.md, from the registry (a test checks the file contains it)."""
    lines = [
        "| topic | key | value | partitions | cleanup.policy | retention |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for spec in TOPICS:
        count = spec.partitions if spec.partitions is not None else f"{partitions} (configurable)"
        lines.append(
            f"| `{spec.full_name(prefix)}` | {spec.key} | [`{spec.value}`](#{spec.value.lower()}) | {count} | "
            f"{spec.cleanup.value} | {_duration(spec.retention_ms)} |"
        )
    return "\n".join(lines) + "\n"
