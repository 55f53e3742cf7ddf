"""One raw-frame message in, the messages to publish out; per-device state in a key-value store.

`FrameProcessor` is everything the Faust agent and timer do, without Faust: it takes the raw
message's key and value, and returns `Output`s (topic, key, value) in the order to send them. The
state store is any mutable mapping of device-id bytes to `DeviceState` msgpack (a dict in unit
tests, the Faust table in the worker). State is read, changed on a copy and written back only when
the whole frame went through, so a failure half-way leaves it untouched.

Nothing is dropped silently: an unreadable envelope, a frame no codec can decode, a codec that
raises, a record with an impossible fix, and a bug of ours all become dead letters carrying the
original envelope and the reason. The only records not published one by one are SOS/fall repeats
within an episode, which are counted into the episode's closing alert (processors.rules).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from processors.decoding import check_fix, decode_envelope, read_envelope, strip_fix
from processors.rules import FrameContext, Rules, begin_episode
from processors.settings import ProcessorSettings, ThresholdBook
from processors.state import DeviceState
from schemas import topics as spec
from schemas.topics import device_key
from schemas.alarms import SOS_ALARMS
from schemas.envelopes import DeadLetter, RawFrame
from schemas.records import Alert, Record, to_msgpack

log = logging.getLogger(__name__)

STAGE = "processor"


@dataclass(frozen=True, slots=True)
class OutputTopics:
    """The full names of the topics the processor reads and writes, for one topic prefix."""

    prefix: str
    raw_frames: str
    positions: str
    alerts: str
    sos: str
    telemetry: str
    events: str
    dead_letters: str

    @classmethod
    def from_prefix(cls, prefix: str) -> "OutputTopics":
        return cls(
            prefix=prefix,
            raw_frames=spec.RAW_FRAMES.full_name(prefix),
            positions=spec.POSITIONS.full_name(prefix),
            alerts=spec.ALERTS.full_name(prefix),
            sos=spec.SOS.full_name(prefix),
            telemetry=spec.TELEMETRY.full_name(prefix),
            events=spec.EVENTS.full_name(prefix),
            dead_letters=spec.DEAD_LETTERS.full_name(prefix),
        )

    def outputs(self) -> tuple[str, ...]:
        return (self.positions, self.alerts, self.sos, self.telemetry, self.events, self.dead_letters)

    def for_record(self, record: Record) -> tuple[str, ...]:
        """schemas.topics.topics_for: its type's topic, and `sos` too for an SOS/fall alert."""
        return tuple(topic.full_name(self.prefix) for topic in spec.topics_for(record))


@dataclass(frozen=True, slots=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


@dataclass(slots=True)
class Result:
    outputs: list[Output] = field(default_factory=list)
    device_id: str | None = None
    stateful: bool = False  # the device's state was read and written
    deadline_ms: int | None = None  # when the timer next has to look at this device
    received_ms: int | None = None  # the frame's reception time (the envelope's), when readable


@dataclass(slots=True)
class Counters:
    frames: int = 0
    records: int = 0
    dead_letters: int = 0
    repeats_folded: int = 0  # SOS/fall repeats counted into an open episode
    stateless: int = 0  # frames whose Kafka key is not their device id: decoded without state
    bugs: int = 0


class FrameProcessor:
    def __init__(
        self,
        topics: OutputTopics,
        settings: ProcessorSettings,
        states: MutableMapping[bytes, bytes],
        *,
        decode: Callable[[RawFrame], object] = decode_envelope,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = topics
        self.states = states
        self.thresholds: ThresholdBook = settings.thresholds()
        self.rules = Rules(settings.sos_episode_gap_s)
        self.max_future = timedelta(seconds=settings.max_future_s)
        self.counters = Counters()
        self._decode = decode
        self._wall_clock = wall_clock

    # -- state -----------------------------------------------------------------------------

    def load(self, device_id: str) -> DeviceState | None:
        payload = self.states.get(device_key(device_id))
        return DeviceState.from_msgpack(payload) if payload is not None else None

    def _save(self, state: DeviceState) -> None:
        self.states[device_key(state.device_id)] = state.to_msgpack()

    def deadline(self, device_id: str) -> int | None:
        state = self.load(device_id)
        return None if state is None else self.rules.next_deadline(state, self.thresholds.for_device(device_id))

    # -- frames ----------------------------------------------------------------------------

    def process(self, key: bytes | None, value: bytes) -> Result:
        """The messages one raw-frame message gives. Never raises: failures become dead letters."""
        self.counters.frames += 1
        try:
            envelope = read_envelope(value)
        except Exception as exc:  # noqa: BLE001 - any garbage on the topic: msgpack, version, fields
            return self._dead(Result(), f"unreadable raw-frame envelope: {exc!r}", value, key, None)
        try:
            return self._process(key, value, envelope)
        except Exception as exc:  # noqa: BLE001 - our bug: dead-letter the frame, keep the partition moving
            self.counters.bugs += 1
            log.exception("processor failed on frame %s", envelope.frame_id)
            return self._dead(Result(device_id=envelope.device_id), f"processor failed (bug): {exc!r}", value, key,
                              envelope)

    def _process(self, key: bytes | None, value: bytes, envelope: RawFrame) -> Result:
        decoded = self._decode(envelope)
        device_id = decoded.device_id
        result = Result(device_id=device_id, received_ms=envelope.received_at_ms)
        out_key = device_key(device_id) if device_id else key
        protocol = decoded.protocol or "unknown"
        received = datetime.fromtimestamp(envelope.received_at_ms / 1000, timezone.utc)

        stateful = device_id is not None and key == device_key(device_id)
        if device_id is not None and not stateful:
            self.counters.stateless += 1
        state = ctx = None
        if stateful:
            state = self.load(device_id) or DeviceState(device_id)
            ctx = FrameContext(envelope.frame_id, envelope.received_at_ms, protocol, len(decoded.records))

        if decoded.error:
            self._dead(result, decoded.error, value, out_key, envelope, protocol=decoded.protocol)
        records: list[Record] = []
        if state is not None:
            records += self.rules.on_frame_start(state, ctx)
        thresholds = self.thresholds.for_device(device_id)
        for record in decoded.records:
            self.counters.records += 1
            reason = check_fix(record, received, self.max_future)
            if reason:
                self._dead(result, f"impossible fix in record {record.frame_index} ({record.type}): {reason}",
                           value, out_key, envelope, protocol=protocol, device_id=device_id)
                if not isinstance(record, Alert):
                    continue
                strip_fix(record, received, self.max_future)  # an alarm is never lost over its fix
            sos = isinstance(record, Alert) and record.alarm in SOS_ALARMS
            if state is None:
                if sos:
                    begin_episode(record, envelope.received_at_ms)
                records.append(record)
                continue
            if sos:
                published = self.rules.on_alarm(state, record, ctx)
                if not published:
                    self.counters.repeats_folded += 1
                records += published
            else:
                records.append(record)
            records += self.rules.on_record(state, record, thresholds, ctx)

        # SOS first: alerting consumers wait on it, the other topics do not.
        records.sort(key=lambda r: not (isinstance(r, Alert) and r.alarm in SOS_ALARMS))
        self._publish(result, records, out_key)
        if state is not None:  # last: only a frame that went through all the way changes state
            self.rules.on_frame_end(state, ctx)
            result.deadline_ms = self.rules.next_deadline(state, thresholds)
            self._save(state)
            result.stateful = True
        return result

    # -- time ------------------------------------------------------------------------------

    def tick(self, device_id: str, now_ms: int | None = None) -> Result:
        """Deadlines due for this device: close quiet SOS episodes, raise `offline`."""
        now_ms = int(self._wall_clock() * 1000) if now_ms is None else now_ms
        result = Result(device_id=device_id)
        state = self.load(device_id)
        if state is None:
            return result
        thresholds = self.thresholds.for_device(device_id)
        alerts = self.rules.on_tick(state, thresholds, now_ms)
        self._publish(result, alerts, device_key(device_id))
        if alerts:
            self._save(state)
        result.stateful = True
        result.deadline_ms = self.rules.next_deadline(state, thresholds)
        return result

    # -- output ----------------------------------------------------------------------------

    def _publish(self, result: Result, records: list[Record], key: bytes | None) -> None:
        for record in records:
            payload = to_msgpack(record)
            for topic in self.topics.for_record(record):
                result.outputs.append(Output(topic, key, payload))

    def _dead(self, result: Result, reason: str, value: bytes, key: bytes | None, envelope: RawFrame | None,
              *, protocol: str | None = None, device_id: str | None = None) -> Result:
        self.counters.dead_letters += 1
        letter = DeadLetter(
            stage=STAGE,
            reason=reason,
            data=value,  # the original envelope, whole: it can be re-processed as is
            at_ms=int(self._wall_clock() * 1000),
            protocol=protocol or (envelope.protocol if envelope else None),
            device_id=device_id or (envelope.device_id if envelope else None),
            peer=envelope.peer if envelope else None,
            frame_id=envelope.frame_id if envelope else None,
            source_topic=self.topics.raw_frames,
        )
        result.outputs.append(Output(self.topics.dead_letters, key, letter.to_msgpack()))
        return result
