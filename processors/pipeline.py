"""One raw-frame message in, the messages to publish out; per-device state in a key-value store.

`FrameProcessor` is everything the Faust agent and timer do, without Faust: it takes the raw
message's key and value, and returns `Output`s (topic, key, value) in the order to send them. The
state store is any mutable mapping of device-id bytes to `DeviceState` msgpack (a dict in unit
tests, the Faust table in the worker). State is read, changed on a copy and written back only when
the whole frame went through, so a failure half-way leaves it untouched.

The main path reads top to bottom (`_process`): decode; sanity-check fixes (`_sane`); then either
the stateless path (a frame not keyed by its device id) or the stateful one (`_stateful`: the rules
over the device's state); every SOS/fall alert goes through `_on_sos`; publish, SOS first; write
the state back last. Decoded records are never changed in place: numbering, a stripped fix and an
opened episode are new records (dataclasses.replace). Topic names come from schemas.topics.

Nothing is dropped silently: an unreadable envelope, a frame no codec can decode, a codec that
raises, a record with an impossible fix, and a bug of ours all become dead letters carrying the
original envelope and the reason. The only records not published one by one are SOS/fall repeats
within an episode, which are counted into the episode's closing alert (processors.rules), and the
records without a device time of a frame the device resent (same sequence number and bytes,
processors.resends), which were published with the first copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from processors import resends
from processors.decoding import check_fix, decode_envelope, read_envelope, strip_fix
from processors.rules import FrameContext, Rules, begin_episode
from processors.settings import ProcessorSettings, ThresholdBook
from processors.state import DeviceState
from schemas.alarms import SOS_ALARMS
from schemas.envelopes import DeadLetter, RawFrame, frames_of
from schemas.records import Alert, Record, is_sos, to_msgpack
from schemas.topics import TopicNames, device_key

log = logging.getLogger(__name__)

STAGE = "processor"

# Why a frame (or one of its records) became a dead letter: the metric's `reason` label, a fixed set.
DEAD_LETTER_REASONS = ("envelope", "rejected", "decode", "codec_bug", "impossible_fix", "bug")


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
    protocol: str | None = None  # the frame's protocol as decoded (else the envelope's), for metrics
    dead_reasons: list[str] = field(default_factory=list)  # a DEAD_LETTER_REASONS entry per dead letter
    open_sos: bool | None = None  # stateful: whether the device has an open SOS/fall episode afterwards


@dataclass(frozen=True, slots=True)
class _Frame:
    """The frame being processed, as the steps of `_process` need it."""

    envelope: RawFrame
    value: bytes  # the raw message, for dead letters
    device_id: str | None
    protocol: str
    out_key: bytes | None  # the device id, else the raw message's key
    decoded_count: int  # records the codec decoded (before any was dropped)

    @property
    def received(self) -> datetime:
        return datetime.fromtimestamp(self.envelope.received_at_ms / 1000, timezone.utc)

    @property
    def received_ms(self) -> int:
        return self.envelope.received_at_ms


@dataclass(slots=True)
class Counters:
    frames: int = 0
    records: int = 0
    dead_letters: int = 0
    repeats_folded: int = 0  # SOS/fall repeats counted into an open episode
    stateless: int = 0  # frames whose Kafka key is not their device id: decoded without state
    resends: int = 0  # frames a device sent again (same sequence number and bytes, processors.resends)
    duplicates: int = 0  # records of resent frames not published again (those without a device time)
    renumbered: int = 0  # numbered frames showing the device's numbering started again
    bugs: int = 0


class FrameProcessor:
    def __init__(
        self,
        topics: TopicNames,
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

    def process_message(self, key: bytes | None, value: bytes) -> list[Result]:
        """One Result per frame of a raw-frames message: a plain RawFrame is one frame; a frame
        batch (schemas.envelopes.pack_frame_batch) is its frames in order, each with its own key.
        Never raises: an unreadable batch is one dead letter holding the whole message."""
        try:
            items = frames_of(key, value)
        except ValueError as exc:
            self.counters.frames += 1
            return [self._dead(Result(), "envelope", f"unreadable raw-frame batch: {exc}", value, key, None)]
        return [self.process(item_key, item_value) for item_key, item_value in items]

    def process(self, key: bytes | None, value: bytes) -> Result:
        """The messages one raw frame gives. Never raises: failures become dead letters."""
        self.counters.frames += 1
        try:
            envelope = read_envelope(value)
        except Exception as exc:  # noqa: BLE001 - any garbage on the topic: msgpack, version, fields
            return self._dead(Result(), "envelope", f"unreadable raw-frame envelope: {exc!r}", value, key, None)
        try:
            return self._process(key, value, envelope)
        except Exception as exc:  # noqa: BLE001 - our bug: dead-letter the frame, keep the partition moving
            self.counters.bugs += 1
            log.exception("processor failed on frame %s", envelope.frame_id)
            return self._dead(Result(device_id=envelope.device_id, protocol=envelope.protocol), "bug",
                              f"processor failed (bug): {exc!r}", value, key, envelope)

    def _process(self, key: bytes | None, value: bytes, envelope: RawFrame) -> Result:
        decoded = self._decode(envelope)
        frame = _Frame(envelope, value, decoded.device_id, decoded.protocol or "unknown",
                       device_key(decoded.device_id) if decoded.device_id else key, len(decoded.records))
        result = Result(device_id=frame.device_id, received_ms=envelope.received_at_ms, protocol=frame.protocol)
        if decoded.error:
            kind = "rejected" if envelope.rejected else "codec_bug" if decoded.bug else "decode"
            self._dead(result, kind, decoded.error, value, frame.out_key, envelope, protocol=decoded.protocol)
        records = self._sane(decoded.records, frame, result)
        # State belongs to the partition the device id hashes to: only a frame keyed by its device id
        # (the listener keys by connection id until it knows the device) may read and write it.
        state = ctx = None
        if frame.device_id is not None and key == device_key(frame.device_id):
            state = self.load(frame.device_id) or DeviceState(frame.device_id)
            # Derived records are numbered after all of the codec's records, published or not.
            ctx = FrameContext(envelope.frame_id, envelope.received_at_ms, frame.protocol, frame.decoded_count)
            if decoded.sequence is not None:
                records = self._unless_resent(state, envelope, decoded.sequence, records)
            published = self._stateful(state, ctx, records)
        else:
            if frame.device_id is not None:
                self.counters.stateless += 1
            published = [r for record in records for r in (self._on_sos(None, record, frame) if is_sos(record)
                                                          else [record])]
        # SOS first: alerting consumers wait on it, the other topics do not.
        published.sort(key=lambda r: not is_sos(r))
        self._publish(result, published, frame.out_key)
        if state is not None:  # last: only a frame that went through all the way changes state
            self._end_frame(state, ctx, result)
        return result

    def _sane(self, records: list[Record], frame: "_Frame", result: Result) -> list[Record]:
        """The records that may be published: an impossible fix is dead-lettered, and its record
        dropped, except an alert, which is kept without the impossible parts (an alarm is never lost)."""
        received = frame.received
        kept = []
        for record in records:
            self.counters.records += 1
            reason = check_fix(record, received, self.max_future)
            if reason:
                self._dead(result, "impossible_fix",
                           f"impossible fix in record {record.frame_index} ({record.type}): {reason}", frame.value,
                           frame.out_key, frame.envelope, protocol=frame.protocol, device_id=frame.device_id)
                if not isinstance(record, Alert):
                    continue
                record = strip_fix(record, received, self.max_future)
            kept.append(record)
        return kept

    def _unless_resent(self, state: DeviceState, envelope: RawFrame, sequence: int,
                       records: list[Record]) -> list[Record]:
        """The records to go on with. A device's resend of a numbered frame (processors.resends)
        loses its records without a device time: the first copy's are already out. Records with a
        device time go on; the sink collapses them (same time and content, same dedup_id)."""
        verdict = resends.check(state.recent_frames, sequence, envelope.data, envelope.frame_id,
                                envelope.received_at_ms)
        if verdict is resends.Verdict.RENUMBERED:
            self.counters.renumbered += 1
        if verdict is not resends.Verdict.RESEND:
            return records
        self.counters.resends += 1
        kept = [record for record in records if record.time is not None]
        self.counters.duplicates += len(records) - len(kept)
        return kept

    def _stateful(self, state: DeviceState, ctx: FrameContext, records: list[Record]) -> list[Record]:
        """The rules over a frame of a device whose state this worker holds (changed in `state`)."""
        thresholds = self.thresholds.for_device(state.device_id)
        published = self.rules.on_frame_start(state, ctx)
        for record in records:
            published += self._on_sos(state, record, ctx) if is_sos(record) else [record]
            published += self.rules.on_record(state, record, thresholds, ctx)
        return published

    def _end_frame(self, state: DeviceState, ctx: FrameContext, result: Result) -> None:
        self.rules.on_frame_end(state, ctx)
        result.deadline_ms = self.rules.next_deadline(state, self.thresholds.for_device(state.device_id))
        self._save(state)
        result.stateful = True
        result.open_sos = has_open_sos(state)

    def _on_sos(self, state: DeviceState | None, alert: Alert, ctx: "FrameContext | _Frame") -> list[Record]:
        """Every SOS/fall alert passes here. With the device's state: the episode rules (the first
        alarm opens an episode, repeats within the gap are counted, not published). Without (a frame
        not keyed by its device): each alarm is published as an episode of its own."""
        if state is None:
            return [begin_episode(alert, ctx.received_ms)]
        published = self.rules.on_alarm(state, alert, ctx)  # type: ignore[arg-type]
        if not published:
            self.counters.repeats_folded += 1
        return list(published)

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
        result.open_sos = has_open_sos(state)
        result.deadline_ms = self.rules.next_deadline(state, thresholds)
        return result

    # -- output ----------------------------------------------------------------------------

    def _publish(self, result: Result, records: list[Record], key: bytes | None) -> None:
        for record in records:
            payload = to_msgpack(record)
            for topic in self.topics.for_record(record):
                result.outputs.append(Output(topic, key, payload))

    def _dead(self, result: Result, kind: str, reason: str, value: bytes, key: bytes | None, envelope: RawFrame | None,
              *, protocol: str | None = None, device_id: str | None = None) -> Result:
        self.counters.dead_letters += 1
        result.dead_reasons.append(kind)
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


def has_open_sos(state: DeviceState) -> bool:
    """Whether the device has an open SOS/fall episode (the processor's `open_sos` gauge)."""
    return any(code in SOS_ALARMS for code in state.open)
