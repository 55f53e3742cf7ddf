"""Episode logic without Kafka: SOS/fall de-duplication, offline, thresholds with hysteresis."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.rules import CLEARED, OPEN, FrameContext, Rules, ms_to_time
from processors.settings import Thresholds
from processors.state import DeviceState
from schemas.alarms import Alarm
from schemas.records import Alert, Event, Position, Telemetry

T0 = 1_700_000_000_000
DEV = "8800000015"
GAP_S = 60.0
TH = Thresholds(offline_after_s=300)


def ctx(n: int, ms: int, records: int = 1) -> FrameContext:
    return FrameContext(f"f-{n}", T0 + ms, "watch", records)


def sos(alarm: Alarm = Alarm.SOS, **fix) -> Alert:
    return Alert(protocol="watch", device_id=DEV, alarm=alarm, frame_index=0, **fix)


def frame(rules: Rules, state: DeviceState, n: int, ms: int, *records, thresholds: Thresholds = TH) -> list:
    """What one frame holding `records` publishes, as the pipeline would (alarms through on_alarm)."""
    c = ctx(n, ms, len(records))
    out = rules.on_frame_start(state, c)
    for index, record in enumerate(records):
        record.frame_id, record.frame_index = c.frame_id, index
        if isinstance(record, Alert) and record.alarm in (Alarm.SOS, Alarm.FALL):
            out += rules.on_alarm(state, record, c)
        else:
            out.append(record)
        out += rules.on_record(state, record, thresholds, c)
    rules.on_frame_end(state, c)
    return out


def alerts(out: list) -> list[tuple]:
    return [(a.alarm, a.state, a.repeat_count, a.frame_id, a.frame_index) for a in out if isinstance(a, Alert)]


def test_a_burst_of_sos_repeats_is_one_open_alert_then_one_summary():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    first = frame(rules, state, 1, 0, sos(lat=1.0, lon=2.0, valid=True))
    assert alerts(first) == [(Alarm.SOS, OPEN, 1, "f-1", 0)]
    assert first[0].first_time == first[0].last_time == ms_to_time(T0)
    for n in range(2, 6):  # repeats every 10 s: counted, not published
        assert frame(rules, state, n, (n - 1) * 10_000, sos(lat=1.0 + n, lon=2.0, valid=True)) == []
    assert state.open["sos"].count == 5
    assert rules.next_deadline(state, TH) == T0 + 40_000 + 60_000  # the SOS gap is due before offline
    assert rules.on_tick(state, TH, T0 + 99_999) == []
    [summary] = rules.on_tick(state, TH, T0 + 100_000)
    assert (summary.alarm, summary.state, summary.repeat_count) == (Alarm.SOS, CLEARED, 5)
    assert (summary.first_time, summary.last_time) == (ms_to_time(T0), ms_to_time(T0 + 40_000))
    assert summary.lat == 6.0  # the latest repeat's fix
    # Numbered on from the device's latest frame, after the indexes that frame used.
    assert (summary.frame_id, summary.frame_index) == ("f-5", 1)
    assert "sos" not in state.open


def test_sos_after_the_gap_starts_a_new_episode_and_closes_the_old_one_if_the_timer_has_not():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    frame(rules, state, 1, 0, sos())
    frame(rules, state, 2, 5_000, sos())
    out = frame(rules, state, 3, 65_000, sos())  # 60 s after the last repeat: a new episode
    assert alerts(out) == [(Alarm.SOS, CLEARED, 2, "f-3", 1), (Alarm.SOS, OPEN, 1, "f-3", 0)]


def test_sos_and_fall_are_separate_episodes():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    out = frame(rules, state, 1, 0, sos(Alarm.SOS))
    out += frame(rules, state, 2, 1_000, sos(Alarm.FALL))
    out += frame(rules, state, 3, 2_000, sos(Alarm.FALL))
    assert alerts(out) == [(Alarm.SOS, OPEN, 1, "f-1", 0), (Alarm.FALL, OPEN, 1, "f-2", 0)]
    closed = rules.on_tick(state, TH, T0 + 62_000)
    assert alerts(closed) == [(Alarm.FALL, CLEARED, 2, "f-3", 1), (Alarm.SOS, CLEARED, 1, "f-3", 2)]


def test_offline_after_the_silence_then_cleared_by_the_next_frame():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    frame(rules, state, 1, 0, Position(protocol="watch", device_id=DEV, valid=True, lat=10.5, lon=-3.25))
    assert rules.next_deadline(state, TH) == T0 + 300_000
    assert rules.on_tick(state, TH, T0 + 299_999) == []
    [raised] = rules.on_tick(state, TH, T0 + 300_000)
    assert (raised.alarm, raised.state, raised.frame_id, raised.frame_index) == (Alarm.OFFLINE, OPEN, "f-1", 1)
    assert raised.time == ms_to_time(T0 + 300_000)
    assert (raised.first_time, raised.last_time) == (ms_to_time(T0), ms_to_time(T0))
    assert (raised.lat, raised.lon, raised.valid) == (10.5, -3.25, True)  # where it was last seen
    assert rules.on_tick(state, TH, T0 + 900_000) == []  # once per episode
    assert rules.next_deadline(state, TH) is None
    out = frame(rules, state, 2, 1_000_000, Event(protocol="watch", device_id=DEV, event="heartbeat"))
    [cleared] = [a for a in out if isinstance(a, Alert)]
    assert (cleared.alarm, cleared.state, cleared.frame_id, cleared.frame_index) == (Alarm.OFFLINE, CLEARED, "f-2", 1)
    assert (cleared.first_time, cleared.last_time) == (ms_to_time(T0), ms_to_time(T0 + 1_000_000))
    assert rules.next_deadline(state, TH) == T0 + 1_300_000


def test_offline_switched_off_for_a_device():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    off = TH.override({"offline_after_s": None})
    frame(rules, state, 1, 0, Event(protocol="watch", device_id=DEV, event="heartbeat"), thresholds=off)
    assert rules.next_deadline(state, off) is None
    assert rules.on_tick(state, off, T0 + 10**9) == []


def hr(value: int, **kw) -> Telemetry:
    return Telemetry(protocol="watch", device_id=DEV, heart_rate_bpm=value, **kw)


def test_heart_rate_high_is_raised_once_and_cleared_below_the_hysteresis_band():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    seq = [(100, []), (121, [(Alarm.HEART_RATE_HIGH, OPEN, 1)]), (140, []), (118, []), (125, []),
           (115, [(Alarm.HEART_RATE_HIGH, CLEARED, 3)]), (119, [])]
    for n, (value, expected) in enumerate(seq):
        out = frame(rules, state, n, n * 1000, hr(value))
        assert [(a, s, c) for a, s, c, _, _ in alerts(out)] == expected, value
    assert state.health["heart_rate_bpm"] == [119, T0 + 6000]


def test_cleared_threshold_alert_carries_the_episode_times_and_the_reading_time():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    reading_time = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    frame(rules, state, 1, 0, hr(30))
    frame(rules, state, 2, 1000, hr(35))
    [cleared] = [a for a in frame(rules, state, 3, 2000, hr(60, time=reading_time)) if isinstance(a, Alert)]
    assert (cleared.alarm, cleared.state, cleared.repeat_count) == (Alarm.HEART_RATE_LOW, CLEARED, 2)
    assert (cleared.time, cleared.first_time, cleared.last_time) == (reading_time, ms_to_time(T0), ms_to_time(T0 + 1000))
    assert (cleared.frame_id, cleared.frame_index) == ("f-3", 1)


@pytest.mark.parametrize("record, alarm", [
    (Telemetry(protocol="watch", spo2_pct=88.0), Alarm.SPO2_LOW),
    (Telemetry(protocol="watch", body_temp_c=38.6), Alarm.BODY_TEMP_HIGH),
    (Telemetry(protocol="watch", heart_rate_bpm=35), Alarm.HEART_RATE_LOW),
    (Position(protocol="gt06", battery_pct=12), Alarm.LOW_BATTERY),
    (Event(protocol="gotop", event="heartbeat", battery_pct=5), Alarm.LOW_BATTERY),
])
def test_each_threshold_opens_its_alarm(record, alarm):
    rules, state = Rules(GAP_S), DeviceState(DEV)
    assert [a for a, _, _, _, _ in alerts(frame(rules, state, 1, 0, record))] == [alarm]


def test_readings_of_zero_mean_not_measured_and_raise_nothing():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    out = frame(rules, state, 1, 0, Telemetry(protocol="watch", heart_rate_bpm=0, spo2_pct=0.0, body_temp_c=0.0))
    assert alerts(out) == [] and state.health == {}


def test_low_battery_alert_carries_the_reading_and_clears_at_threshold_plus_margin():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    [raised] = alerts_of(frame(rules, state, 1, 0, Position(protocol="gt06", battery_pct=19)))
    assert (raised.alarm, raised.state, raised.battery_pct) == (Alarm.LOW_BATTERY, OPEN, 19)
    assert alerts_of(frame(rules, state, 2, 1, Position(protocol="gt06", battery_pct=22))) == []
    [cleared] = alerts_of(frame(rules, state, 3, 2, Position(protocol="gt06", battery_pct=25)))
    assert (cleared.state, cleared.battery_pct) == (CLEARED, 25)
    assert (state.battery_pct, state.battery_ms) == (25, T0 + 2)


def alerts_of(out: list) -> list[Alert]:
    return [a for a in out if isinstance(a, Alert)]


def test_per_device_threshold_and_switching_a_threshold_off_clears_its_open_alarm():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    athlete = TH.override({"heart_rate_high_bpm": 180})
    assert alerts(frame(rules, state, 1, 0, hr(150), thresholds=athlete)) == []
    assert alerts(frame(rules, state, 2, 1, hr(150)))[0][:2] == (Alarm.HEART_RATE_HIGH, OPEN)
    off = TH.override({"heart_rate_high_bpm": None})
    assert alerts(frame(rules, state, 3, 2, hr(150), thresholds=off))[0][:2] == (Alarm.HEART_RATE_HIGH, CLEARED)


def test_last_fix_ignores_invalid_fixes_and_records_without_coordinates():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    frame(rules, state, 1, 0, Position(protocol="watch", valid=True, lat=1.5, lon=2.5, speed_kmh=3.0))
    frame(rules, state, 2, 1, Position(protocol="watch", valid=False, lat=9.0, lon=9.0))
    frame(rules, state, 3, 2, Position(protocol="watch", valid=True))
    assert state.last_fix == {"valid": True, "lat": 1.5, "lon": 2.5, "speed_kmh": 3.0}
    assert state.last_fix_ms == T0


def test_frame_end_remembers_the_frame_and_the_next_free_index():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    frame(rules, state, 7, 0, hr(200), hr(201))  # two records + one derived alert
    assert (state.last_frame_id, state.next_index, state.last_seen_ms, state.protocol) == ("f-7", 3, T0, "watch")


def test_a_reading_repeated_by_two_records_of_one_frame_counts_once():
    rules, state = Rules(GAP_S), DeviceState(DEV)
    frame(rules, state, 1, 0, Position(protocol="gt06", battery_pct=10), Alert(protocol="gt06", alarm=Alarm.SOS,
                                                                               battery_pct=10))
    assert state.open["low_battery"].count == 1
    frame(rules, state, 2, 1, Position(protocol="gt06", battery_pct=9))
    assert state.open["low_battery"].count == 2
