"""Device state: the msgpack form the table changelog carries."""

from __future__ import annotations

import msgpack
import pytest

from processors.state import STATE_VERSION, DeviceState, Episode


def test_round_trip_of_a_full_state():
    state = DeviceState(
        device_id="358688000000158", protocol="gt06", last_seen_ms=1, last_frame_id="l1-3-9", next_index=4,
        last_fix={"time": "2024-05-01T10:20:30.000Z", "valid": True, "lat": -33.5, "lon": 151.25},
        last_fix_ms=1, battery_pct=55, battery_ms=1, health={"heart_rate_bpm": [72, 1], "spo2_pct": [97.5, 1]},
        open={"sos": Episode(1, 2, 3, {"type": "alert", "protocol": "gt06", "alarm": "sos"}),
              "offline": Episode(5, 5)},
    )
    assert DeviceState.from_msgpack(state.to_msgpack()) == state


def test_an_empty_state_round_trips_and_a_foreign_version_is_refused():
    assert DeviceState.from_msgpack(DeviceState("1").to_msgpack()) == DeviceState("1")
    body = msgpack.unpackb(DeviceState("1").to_msgpack())
    body["v"] = STATE_VERSION + 1
    with pytest.raises(ValueError, match="unsupported device state version"):
        DeviceState.from_msgpack(msgpack.packb(body))


def test_take_index_numbers_on_from_the_last_frame():
    state = DeviceState("1", last_frame_id="f", next_index=2)
    assert [state.take_index(), state.take_index()] == [2, 3] and state.next_index == 4


def test_recent_frames_round_trip_and_a_state_written_before_them_loads_empty():
    state = DeviceState("1", recent_frames=[[2**64 - 1, 15, 1_760_000_000_000, "l1-1-1"]])
    assert DeviceState.from_msgpack(state.to_msgpack()) == state
    older = msgpack.unpackb(DeviceState("1", last_seen_ms=5).to_msgpack())
    del older["recent_frames"]  # the form a build before processors.resends wrote
    assert DeviceState.from_msgpack(msgpack.packb(older)) == DeviceState("1", last_seen_ms=5, recent_frames=[])
