"""Per-device episode logic: SOS/fall de-duplication, offline, low battery and health thresholds.

Pure functions of (state, record, thresholds, times): no Kafka, no clock. Each alarm is an
*episode*: raised once ("open"), then "cleared" when its condition ends, with `first_time`,
`last_time` and `repeat_count` on the alert.

- SOS/fall: a repeat arriving less than `sos_gap_ms` after the previous one of the same alarm joins
  the open episode (counted, not published). The episode ends `sos_gap_ms` after its last repeat
  (timer); its closing alert is the latest repeat (latest fix) with state "cleared", the repeat
  count and first/last time.
- Offline: opens when no frame arrived for `offline_after_s` (timer, from the deadline below);
  clears with the next frame. Carries the last fix. `time` = when the silence crossed the threshold.
- Thresholds (low battery, heart rate high/low, SpO2 low, body temperature high): open when a
  reading goes beyond the threshold, clear when it is back inside by the hysteresis margin.

Episode times (`first_time`/`last_time`) are server reception times; `time` is the device's time of
the reading (reception time when the device gave none). `last_time` is the last moment the
condition was known to hold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from processors.settings import Thresholds
from processors.state import FIX_FIELDS, HEALTH_FIELDS, DeviceState, Episode
from schemas.alarms import SOS_ALARMS, Alarm
from schemas.records import Alert, Position, Record, format_time, from_dict, to_dict

OPEN = "open"
CLEARED = "cleared"


def ms_to_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def time_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


@dataclass(slots=True)
class FrameContext:
    """The frame being processed: derived records take the indexes after the codec's records."""

    frame_id: str
    received_ms: int
    protocol: str
    next_index: int
    # Readings already evaluated in this frame: a position and its alert often repeat the battery
    # level; it counts once.
    readings: set[str] = field(default_factory=set)

    def take_index(self) -> int:
        index = self.next_index
        self.next_index += 1
        return index


class Direction(enum.Enum):
    HIGH = "high"  # beyond = above the threshold
    LOW = "low"  # beyond = below the threshold


@dataclass(frozen=True, slots=True)
class Check:
    alarm: Alarm
    field: str  # record attribute holding the reading
    threshold: str  # Thresholds attribute
    margin: str  # Thresholds attribute: hysteresis for clearing
    direction: Direction
    health: bool  # health readings <= 0 mean "not measured" and are ignored

    def beyond(self, value: float, threshold: float) -> bool:
        return value > threshold if self.direction is Direction.HIGH else value < threshold

    def recovered(self, value: float, threshold: float, margin: float) -> bool:
        if self.direction is Direction.HIGH:
            return value <= threshold - margin
        return value >= threshold + margin


# Dispatch by table: one line per derived alert.
CHECKS: tuple[Check, ...] = (
    Check(Alarm.LOW_BATTERY, "battery_pct", "battery_low_pct", "battery_clear_margin_pct", Direction.LOW, False),
    Check(Alarm.HEART_RATE_HIGH, "heart_rate_bpm", "heart_rate_high_bpm", "heart_rate_clear_margin_bpm",
          Direction.HIGH, True),
    Check(Alarm.HEART_RATE_LOW, "heart_rate_bpm", "heart_rate_low_bpm", "heart_rate_clear_margin_bpm",
          Direction.LOW, True),
    Check(Alarm.SPO2_LOW, "spo2_pct", "spo2_low_pct", "spo2_clear_margin_pct", Direction.LOW, True),
    Check(Alarm.BODY_TEMP_HIGH, "body_temp_c", "body_temp_high_c", "body_temp_clear_margin_c", Direction.HIGH, True),
)


def fix_of(record: Position | Alert) -> dict:
    """The record's FIX_FIELDS as in its JSON form (None left out)."""
    fix = {}
    for name in FIX_FIELDS:
        value = getattr(record, name)
        if value is not None:
            fix[name] = format_time(value) if name == "time" else value
    return fix


def begin_episode(alert: Alert, received_ms: int) -> Alert:
    """The SOS/fall alert as the opening alert of its episode (a new record; the decoded one is kept)."""
    opened = ms_to_time(received_ms)
    return replace(alert, state=OPEN, repeat_count=1, first_time=opened, last_time=opened)


class Rules:
    def __init__(self, sos_gap_s: float) -> None:
        self.sos_gap_ms = int(sos_gap_s * 1000)

    # -- a frame ---------------------------------------------------------------------------

    def on_frame_start(self, state: DeviceState, ctx: FrameContext) -> list[Alert]:
        """A frame arrived: a device that was offline is back."""
        episode = state.open.pop(Alarm.OFFLINE.value, None)
        if episode is None:
            return []
        episode.last_ms = ctx.received_ms
        alert = self._derived(state, Alarm.OFFLINE, CLEARED, episode, ms_to_time(ctx.received_ms), ctx.protocol)
        alert.repeat_count = None
        self._fill_fix(alert, state)
        return [self._number(alert, ctx.frame_id, ctx.take_index())]

    def on_alarm(self, state: DeviceState, alert: Alert, ctx: FrameContext) -> list[Alert]:
        """An SOS/fall alert from the device: the opening alert of a new episode, or a counted repeat."""
        code = alert.alarm.value
        received = ctx.received_ms
        episode = state.open.get(code)
        if episode is not None and received - episode.last_ms < self.sos_gap_ms:
            episode.count += 1
            episode.last_ms = max(episode.last_ms, received)
            episode.alert = to_dict(alert)
            return []
        out: list[Alert] = []
        if episode is not None:  # over, but the timer has not closed it yet
            out.append(self._close_alarm(state, code, episode, ctx.frame_id, ctx.take_index()))
        state.open[code] = Episode(received, received, 1, to_dict(alert))
        out.append(begin_episode(alert, received))
        return out

    def on_record(self, state: DeviceState, record: Record, thresholds: Thresholds, ctx: FrameContext) -> list[Alert]:
        """Keep the record's fix and readings; open/clear threshold episodes they cause."""
        received = ctx.received_ms
        if isinstance(record, (Position, Alert)) and record.lat is not None and record.lon is not None \
                and record.valid is not False:
            state.last_fix = fix_of(record)
            state.last_fix_ms = received
        out: list[Alert] = []
        fresh: set[str] = set()
        for check in CHECKS:
            value = getattr(record, check.field, None)
            if value is None or (check.health and value <= 0):
                continue
            if check.field in ctx.readings and check.field not in fresh:
                continue  # the same reading from another record of this frame
            if check.field not in fresh:
                fresh.add(check.field)
                self._keep_reading(state, check.field, value, received)
            alert = self._evaluate(state, check, value, thresholds, record, ctx)
            if alert is not None:
                out.append(alert)
        ctx.readings |= fresh
        return out

    def on_frame_end(self, state: DeviceState, ctx: FrameContext) -> None:
        if state.last_seen_ms is None or ctx.received_ms >= state.last_seen_ms:
            state.last_seen_ms = ctx.received_ms
        state.protocol = ctx.protocol
        state.last_frame_id = ctx.frame_id
        state.next_index = ctx.next_index

    # -- time passing ----------------------------------------------------------------------

    def on_tick(self, state: DeviceState, thresholds: Thresholds, now_ms: int) -> list[Alert]:
        """Close SOS/fall episodes whose repeats stopped; open `offline` after the silence."""
        out: list[Alert] = []
        for code in sorted(a.value for a in SOS_ALARMS):
            episode = state.open.get(code)
            if episode is not None and now_ms - episode.last_ms >= self.sos_gap_ms:
                del state.open[code]
                out.append(self._close_alarm(state, code, episode, state.last_frame_id, state.take_index()))
        after = thresholds.offline_after_s
        if (after is not None and state.last_seen_ms is not None and Alarm.OFFLINE.value not in state.open
                and now_ms - state.last_seen_ms >= after * 1000):
            episode = Episode(state.last_seen_ms, state.last_seen_ms, 1)
            state.open[Alarm.OFFLINE.value] = episode
            alert = self._derived(state, Alarm.OFFLINE, OPEN, episode,
                                  ms_to_time(state.last_seen_ms + int(after * 1000)), state.protocol)
            alert.repeat_count = None
            self._fill_fix(alert, state)
            out.append(self._number(alert, state.last_frame_id, state.take_index()))
        return out

    def next_deadline(self, state: DeviceState, thresholds: Thresholds) -> int | None:
        """When `on_tick` next has something to do for this device (epoch ms), or None."""
        due: list[int] = []
        for alarm in SOS_ALARMS:
            episode = state.open.get(alarm.value)
            if episode is not None:
                due.append(episode.last_ms + self.sos_gap_ms)
        after = thresholds.offline_after_s
        if after is not None and state.last_seen_ms is not None and Alarm.OFFLINE.value not in state.open:
            due.append(state.last_seen_ms + int(after * 1000))
        return min(due) if due else None

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _keep_reading(state: DeviceState, name: str, value: float, received: int) -> None:
        if name == "battery_pct":
            state.battery_pct = int(value)
            state.battery_ms = received
        elif name in HEALTH_FIELDS:
            state.health[name] = [value, received]

    def _evaluate(self, state: DeviceState, check: Check, value: float, thresholds: Thresholds,
                  record: Record, ctx: FrameContext) -> Alert | None:
        threshold = getattr(thresholds, check.threshold)
        code = check.alarm.value
        episode = state.open.get(code)
        received = ctx.received_ms
        when = record.time or ms_to_time(received)
        if episode is None:
            if threshold is None or not check.beyond(value, threshold):
                return None
            episode = state.open[code] = Episode(received, received, 1)
            alert = self._derived(state, check.alarm, OPEN, episode, when, ctx.protocol)
        elif threshold is None or check.recovered(value, threshold, getattr(thresholds, check.margin)):
            del state.open[code]
            alert = self._derived(state, check.alarm, CLEARED, episode, when, ctx.protocol)
        else:
            if check.beyond(value, threshold):
                episode.count += 1
                episode.last_ms = received
            return None
        if check.alarm is Alarm.LOW_BATTERY:
            alert.battery_pct = int(value)
        return self._number(alert, ctx.frame_id, ctx.take_index())

    @staticmethod
    def _derived(state: DeviceState, alarm: Alarm, status: str, episode: Episode, when: datetime,
                 protocol: str | None) -> Alert:
        return Alert(
            protocol=protocol or state.protocol or "unknown",
            device_id=state.device_id,
            time=when,
            alarm=alarm,
            state=status,
            repeat_count=episode.count,
            first_time=ms_to_time(episode.first_ms),
            last_time=ms_to_time(episode.last_ms),
        )

    @staticmethod
    def _fill_fix(alert: Alert, state: DeviceState) -> None:
        """Offline alerts say where the device was last seen (its last fix, without the fix time)."""
        if not state.last_fix:
            return
        fix = from_dict({"type": "position", "protocol": alert.protocol, **state.last_fix})
        for name in FIX_FIELDS:
            if name != "time":
                setattr(alert, name, getattr(fix, name))

    def _close_alarm(self, state: DeviceState, code: str, episode: Episode, frame_id: str | None,
                     index: int) -> Alert:
        if episode.alert is not None:
            alert = from_dict(episode.alert)
            assert isinstance(alert, Alert)
        else:  # not expected: episodes of SOS alarms always keep their latest alert
            alert = Alert(protocol=state.protocol or "unknown", device_id=state.device_id, alarm=Alarm(code))
        alert.state = CLEARED
        alert.repeat_count = episode.count
        alert.first_time = ms_to_time(episode.first_ms)
        alert.last_time = ms_to_time(episode.last_ms)
        return self._number(alert, frame_id, index)

    @staticmethod
    def _number(alert: Alert, frame_id: str | None, index: int) -> Alert:
        alert.frame_id = frame_id
        alert.frame_index = index
        return alert
