"""Envelope -> numbered records: the envelope's codec or detection, and the sanity check on fixes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgpack
import pytest

from processors.decoding import check_fix, decode_envelope, read_envelope, strip_fix
from protocols.base import Decoded
from protocols.registry import CODECS
from schemas.alarms import Alarm
from schemas.envelopes import RawFrame
from schemas.records import Alert, Event, Position, Telemetry

from sample_frames import envelope, load

GOTOP = load("frames_gotop")
WATCH = load("frames_watch")
RECEIVED = datetime(2025, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def test_records_get_the_frame_id_their_index_and_the_envelope_device_id():
    env = envelope(WATCH.AL_FALL, device_id="8308373902", protocol="watch", frame_id="l1-7-3")
    out = decode_envelope(env)
    assert out.error is None and out.protocol == "watch" and not out.redetected
    assert [(type(r), r.frame_id, r.frame_index, r.device_id) for r in out.records] == [
        (Position, "l1-7-3", 0, "8308373902"), (Alert, "l1-7-3", 1, "8308373902")]


@pytest.mark.parametrize("protocol", [None, "no-such-protocol"])
def test_a_missing_or_unknown_protocol_is_detected_again(protocol):
    env = envelope(b"#" + GOTOP.TRACCAR_CMD_KEY + b"#", device_id=None, protocol=protocol, frame_id="f")
    out = decode_envelope(env)
    assert out.redetected and out.protocol == "gotop" and out.device_id == "860264050778076"
    assert [r.type for r in out.records] == ["position", "alert"]


def test_bytes_no_protocol_matches_give_an_error_naming_the_protocols():
    out = decode_envelope(envelope(b"SSH-2.0-OpenSSH_9.6\r\n", device_id=None, protocol=None, frame_id="f"))
    names = ", ".join(codec.name for codec in CODECS)
    assert out.records == [] and f"match no known protocol ({names})" in out.error


def test_the_codecs_own_error_is_kept():
    out = decode_envelope(envelope(b"[3G*8800000015*0010*UD,not,a,fix]", device_id="8800000015", protocol="watch",
                                   frame_id="f"))
    assert out.records == [] and out.error and out.device_id == "8800000015"


def test_a_codec_that_raises_is_an_error_not_an_exception():
    class Broken:
        name = "broken"

        def new_session(self, transport):
            from protocols.base import Session
            return Session(transport)

        def decode(self, frame, session, now) -> Decoded:
            raise IndexError("oops")

    env = envelope(b"x", device_id="1", protocol="broken", frame_id="f")
    out = decode_envelope(env, CODECS, {"broken": Broken()})
    assert out.error == "codec broken failed (bug): IndexError('oops')"


def test_the_codec_decodes_with_the_reception_time_as_now():
    # A watch heartbeat has no time of its own; replaying the frame must give the same records.
    env = envelope(WATCH.LK_FULL, device_id="4700186508", protocol="watch", frame_id="f")
    assert decode_envelope(env).records == decode_envelope(env).records


def test_read_envelope_accepts_an_envelope_packed_without_protocol_and_device_id():
    env = RawFrame(frame_id="f", received_at_ms=1, transport="tcp", peer="p", listener_id="l", connection_id="c",
                   protocol=None, device_id=None, data=b"\x01")
    assert read_envelope(env.to_msgpack()) == env


@pytest.mark.parametrize("payload, message", [
    (b"\xc1", "not msgpack"),
    (msgpack.packb([1, 2]), "not a map"),
    (msgpack.packb({"v": 9}), "unsupported RawFrame envelope version 9"),
    (msgpack.packb({"v": 1, "frame_id": "f"}), "missing"),
])
def test_read_envelope_refuses_garbage(payload, message):
    with pytest.raises(Exception, match=message):
        read_envelope(payload)


@pytest.mark.parametrize("record, reason", [
    (Position(protocol="p", lat=90.5, lon=0.0), "latitude 90.5 out of range [-90, 90]"),
    (Position(protocol="p", lat=0.0, lon=-180.01), "longitude -180.01 out of range [-180, 180]"),
    (Alert(protocol="p", alarm=Alarm.SOS, lat=float("nan"), lon=0.0), "latitude nan out of range"),
    (Position(protocol="p", time=RECEIVED + DAY + timedelta(seconds=1), lat=1.0, lon=1.0),
     "fix time 2025-01-02T00:00:01+00:00 is 86401s after reception (limit 86400s)"),
])
def test_impossible_fixes_are_named(record, reason):
    assert reason in check_fix(record, RECEIVED, DAY)


@pytest.mark.parametrize("record", [
    Position(protocol="p", lat=-90.0, lon=180.0, time=RECEIVED + DAY),
    Position(protocol="p", valid=False, lat=0.0, lon=0.0, time=datetime(2000, 1, 1, tzinfo=timezone.utc)),
    Position(protocol="p", valid=False),  # no coordinates at all: a cell/Wi-Fi fix
    Telemetry(protocol="p", time=RECEIVED + 10 * DAY),  # not a fix
    Event(protocol="p", event="login"),
])
def test_possible_fixes_pass_and_invalid_ones_stay_marked(record):
    assert check_fix(record, RECEIVED, DAY) is None


def test_strip_fix_keeps_the_alarm_and_drops_only_what_is_impossible():
    alert = Alert(protocol="p", alarm=Alarm.SOS, valid=True, lat=95.0, lon=1.0, speed_kmh=3.0,
                  time=RECEIVED, battery_pct=50)
    strip_fix(alert, RECEIVED, DAY)
    assert (alert.lat, alert.lon, alert.speed_kmh, alert.valid, alert.time, alert.battery_pct) == (
        None, None, None, False, RECEIVED, 50)
    future = Alert(protocol="p", alarm=Alarm.FALL, lat=1.0, lon=2.0, time=RECEIVED + 2 * DAY)
    strip_fix(future, RECEIVED, DAY)
    assert (future.lat, future.lon, future.time, future.valid) == (1.0, 2.0, None, False)
