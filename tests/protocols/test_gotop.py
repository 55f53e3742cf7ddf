"""GOTOP codec: real frames (see frames_gotop.py for sources), framing, detection, commands, fuzz."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # tests/protocols is on sys.path when pytest runs it as a plain directory (rootdir mode)
    import frames_gotop as F
except ImportError:  # ... and a package if someone adds __init__.py files
    from . import frames_gotop as F  # type: ignore[no-redef]
from protocols.base import (
    Command,
    Decoded,
    Detection,
    Frame,
    FrameError,
    Transport,
    UnsupportedCommand,
    guarded_decode,
)
from protocols.gotop import CODEC, GotopSession
from tests.protocols.fuzzing import drive_codec, mutated
from schemas.alarms import Alarm
from schemas.records import Alert, Ble, Cell, Event, Position, Record, Wifi

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
UTC = timezone.utc


def decode(raw: bytes, session: GotopSession | None = None) -> Decoded:
    return guarded_decode(CODEC, raw, session or CODEC.new_session(Transport.TCP), NOW)


def pos(device_id: str, time: datetime, valid: bool, lat: float, lon: float, speed: float, **kw) -> Position:
    return Position(protocol="gotop", device_id=device_id, time=time, valid=valid, lat=lat, lon=lon,
                    speed_kmh=speed, **kw)


def event(device_id: str, name: str, fix: Position | None = None, **kw) -> Event:
    return Event(protocol="gotop", device_id=device_id, event=name,
                 time=fix.time if fix else None,
                 battery_pct=fix.battery_pct if fix else None,
                 rssi=fix.rssi if fix else None, **kw)


def with_alarm(fix: Position, alarm: Alarm) -> list[Record]:
    fix.alarms = [alarm]
    return [fix, Alert.from_fix(fix, alarm)]


def assert_sane_fix(record: Record) -> None:
    """Generic sanity on every decoded fix (after Traccar ProtocolTest.verifyDecodedPosition)."""
    if not isinstance(record, (Position, Alert)) or record.lat is None:
        return
    assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
    assert record.time is None or datetime(2000, 1, 1, tzinfo=UTC) <= record.time <= NOW + timedelta(days=1)
    assert record.speed_kmh is None or 0 <= record.speed_kmh < 500
    assert record.battery_pct is None or 0 <= record.battery_pct <= 100


# --------------------------------------------------------------------------------------------
# Real frames, one expectation each
# --------------------------------------------------------------------------------------------

@dataclass
class Case:
    frame: bytes
    message_type: str
    records: list[Record]
    device_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.device_id = self.frame.strip(b"#").split(b",")[0].decode()


def _cases() -> dict[str, Case]:
    t_wifi = pos("860264050778076", datetime(2022, 5, 16, 10, 6, 27, tzinfo=UTC), True,
                 48.7636978, -3.4652398, 51.4, battery_pct=77, rssi=24, hdop=1.0,
                 wifi=[Wifi("84:a0:6e:94:42:5e", -47), Wifi("b2:22:7a:56:5a:2a", -48),
                       Wifi("b4:b0:24:09:91:d4", -76), Wifi("18:3c:b7:1f:da:67", -83),
                       Wifi("08:86:3b:94:78:44", -85), Wifi("40:24:b2:c5:0f:5e", -87),
                       Wifi("b0:e5:ed:4e:06:61", -87), Wifi("60:1d:9d:a6:d2:5d", -88),
                       Wifi("14:eb:b6:a5:55:8c", -88), Wifi("40:18:b1:d7:28:54", -88)],
                 ble=[Ble("1f:cf:4d:3c:61:bf", -91), Ble("39:82:d0:ba:34:69", -57),
                      Ble("df:3a:31:ac:ad:72", -73), Ble("7c:d9:f4:11:0b:a0", -78),
                      Ble("03:b5:9f:45:bd:0d", -88)])
    gps101 = lambda: pos("353327020115804", datetime(2009, 3, 29, 22, 32, 52, tzinfo=UTC), True,  # noqa: E731
                         22.7634066, 114.3964783, 0.0, battery_pct=84, rssi=20)
    node_fix = lambda batt, rssi, lac, cid: pos(  # noqa: E731
        "861785001515349", datetime(2012, 9, 3, 16, 6, 49, tzinfo=UTC), False, 59.9326566, 10.7875033,
        5.5, battery_pct=batt, rssi=rssi, cells=[Cell(242, 2, lac, cid)])
    oslo = lambda time, valid, lat, lon, batt, rssi: pos(  # noqa: E731
        "012896001890042", time, valid, lat, lon, 0.0, battery_pct=batt, rssi=rssi,
        cells=[Cell(242, 2, 0x0EDD, 0xD9EF)])
    error_fix = oslo(datetime(2012, 11, 7, 21, 2, 8, tzinfo=UTC), False, 59.9323966, 10.7906316, 67, 21)
    a1_fix = oslo(datetime(2012, 11, 7, 21, 10, 22, tzinfo=UTC), False, 59.9322950, 10.7906583, 67, 21)
    m_fix = oslo(datetime(2012, 11, 7, 21, 34, 10, tzinfo=UTC), False, 59.9323683, 10.7907400, 66, 21)
    u1_fix = oslo(datetime(2012, 11, 7, 21, 52, 41, tzinfo=UTC), True, 59.9323933, 10.7907500, 73, 21)
    l_fix = oslo(datetime(2012, 11, 7, 22, 13, 14, tzinfo=UTC), True, 59.9323000, 10.7908633, 72, 22)

    def result(fix: Position, command: str) -> list[Record]:
        return [event(fix.device_id, "command_result", fix, text=f"CMD-{command}",
                      details={"command": command, "ok": True}), fix]

    return {
        # Traccar: LTE cell list (`~` separated, no LAC) is not decoded; battery 95, altitude, hdop are.
        "traccar_cmd_t_lte": Case(F.TRACCAR_CMD_T_LTE, "CMD-T", [pos(
            "867648044456745", datetime(2024, 8, 13, 23, 59, 37, tzinfo=UTC), True, 2.9930825,
            101.5746188, 0.0, battery_pct=95, rssi=70, altitude_m=59.5, hdop=0.9)]),
        "traccar_cmd_t_no_prefix_cell": Case(F.TRACCAR_CMD_T_NO_PREFIX_CELL, "CMD-T", [pos(
            "012896001901633", datetime(2013, 1, 4, 17, 59, 50, tzinfo=UTC), True, -24.0234233,
            29.4691133, 1.8, battery_pct=90, rssi=24, altitude_m=1.3,
            cells=[Cell(655, 1, 0x0371, 0x170D)])]),
        # `00.00` HDOP means none.
        "traccar_cmd_t_no_prefix": Case(F.TRACCAR_CMD_T_NO_PREFIX, "CMD-T", [pos(
            "012896001901633", datetime(2013, 1, 4, 17, 59, 50, tzinfo=UTC), True, -24.0234233,
            29.4691133, 1.8, battery_pct=90, rssi=24, altitude_m=1.3)]),
        # Traccar expects ALARM_GEOFENCE_ENTER.
        "traccar_alm_b1_1": Case(F.TRACCAR_ALM_B1_1, "ALM-B1-1", with_alarm(pos(
            "867688033841044", datetime(2019, 6, 22, 14, 49, 56, tzinfo=UTC), True, 22.7193976,
            114.38782, 0.1, battery_pct=100, rssi=22, hdop=3.72), Alarm.GEOFENCE_ENTER)),
        # Traccar expects ALARM_SOS.
        "traccar_cmd_key": Case(F.TRACCAR_CMD_KEY, "CMD-KEY", with_alarm(pos(
            "860264050778076", datetime(2022, 5, 16, 9, 2, 24, tzinfo=UTC), False, 48.7592616,
            -3.4658121, 0.0, battery_pct=57, rssi=21, hdop=1.6), Alarm.SOS)),
        "traccar_cmd_t_wifi_ble": Case(F.TRACCAR_CMD_T_WIFI_BLE, "CMD-T", [t_wifi]),
        "traccar_cmd_x": Case(F.TRACCAR_CMD_X, "CMD-X", [event("353327020412763", "heartbeat")]),
        # ALM-D: low battery (firmware: 低电报警; Node server: lowBatteryAlarm).
        "traccar_alm_d1": Case(F.TRACCAR_ALM_D1, "ALM-D1", with_alarm(pos(
            "867688038677542", datetime(2019, 7, 9, 18, 52, 14, tzinfo=UTC), False, 50.0422838,
            14.4504646, 4.3, battery_pct=81, rssi=20, hdop=5.68), Alarm.LOW_BATTERY)),
        "traccar_cmd_t_cell": Case(F.TRACCAR_CMD_T_CELL, "CMD-T", [pos(
            "013226009991924", datetime(2013, 8, 2, 15, 37, 21, tzinfo=UTC), True, -25.9757433,
            28.1087816, 0.0, battery_pct=81, rssi=26, cells=[Cell(655, 1, 0x00A0, 0x4B8E)])]),
        # Traccar: position("2009-03-29 22:32:52.000", true, 22.76341, 114.39648).
        "traccar_cmd_t_gps101": Case(F.TRACCAR_CMD_T_GPS101, "CMD-T", [gps101()]),
        "traccar_cmd_t_gps101_flags": Case(F.TRACCAR_CMD_T_GPS101_FLAGS, "CMD-T", [gps101()]),
        "traccar_cmd_f_v": Case(F.TRACCAR_CMD_F_V, "CMD-F", [pos(
            "353327020412763", datetime(2014, 1, 25, 18, 36, 36, tzinfo=UTC), False, 51.6384466,
            0.2863866, 0.0, battery_pct=61, rssi=19)]),
        "traccar_cmd_f_a": Case(F.TRACCAR_CMD_F_A, "CMD-F", [pos(
            "013949008891817", datetime(2015, 2, 25, 17, 54, 41, tzinfo=UTC), True, 50.0, 8.0, 85.9,
            battery_pct=52, rssi=31, cells=[Cell(262, 1, 0x1073, 0x1DF5)])]),
        # Node suite expects batteryLife 49, gsmSignal 5, cell 242/2/3801/55611, speed 5.5, not available.
        "node_cmd_t": Case(F.NODE_CMD_T, "CMD-T", [node_fix(49, 5, 3801, 55611)]),
        "node_cmd_x": Case(F.NODE_CMD_X, "CMD-X", [event("861785001515349", "heartbeat")]),
        # Node suite expects sosAlarm.
        "node_alm_a": Case(F.NODE_ALM_A, "ALM-A", with_alarm(node_fix(82, 10, 0x0324, 0x0E26), Alarm.SOS)),
        "node_cmd_t_gps101": Case(F.NODE_CMD_T_GPS101, "CMD-T", [gps101()]),
        # Node suite expects type 'error'.
        "node_error": Case(F.NODE_ERROR, "ERROR!", [event(
            "012896001890042", "command_result", error_fix, text="ERROR!", details={"ok": False}), error_fix]),
        "node_cmd_a1": Case(F.NODE_CMD_A1, "CMD-A1", result(a1_fix, "A1")),
        # Node suite expects oneTimeLocate.
        "node_cmd_f": Case(F.NODE_CMD_F, "CMD-F", [oslo(
            datetime(2012, 11, 7, 21, 13, 52, tzinfo=UTC), True, 59.9322983, 10.7906366, 67, 21)]),
        "node_cmd_m": Case(F.NODE_CMD_M, "CMD-M", result(m_fix, "M")),
        "node_cmd_u1": Case(F.NODE_CMD_U1, "CMD-U1", result(u1_fix, "U1")),
        "node_cmd_l": Case(F.NODE_CMD_L, "CMD-L", result(l_fix, "L")),
        "firmware_cmd_t": Case(F.FIRMWARE_CMD_T, "CMD-T", [pos(
            "867273021518134", datetime(2016, 1, 13, 14, 7, 9, tzinfo=UTC), True, 22.7613506,
            114.3610382, 0.3, battery_pct=100, rssi=26, cells=[Cell(460, 0, 0x262D, 0xFF86)])]),
        "navtrack_cmd_t": Case(F.NAVTRACK_CMD_T, "CMD-T", [gps101()]),
    }


CASES = _cases()


@pytest.mark.parametrize("name", CASES)
def test_decodes_real_frame(name: str) -> None:
    case = CASES[name]
    session = CODEC.new_session(Transport.TCP)
    decoded = decode(case.frame, session)
    assert decoded.error is None
    assert decoded.message_type == case.message_type
    assert decoded.device_id == case.device_id
    assert session.device_id == case.device_id
    assert decoded.reply is None  # the protocol has no server answers
    assert decoded.records == case.records
    for record in decoded.records:
        assert_sane_fix(record)


def test_every_sample_has_a_case() -> None:
    covered = {case.frame for case in CASES.values()}
    assert set(F.ALL_FRAMES.values()) <= covered


# --------------------------------------------------------------------------------------------
# Alarm letters, constructed per the firmware's `Send_Msg_To_Platform` comments
# --------------------------------------------------------------------------------------------

ALARM_FIX = b",A,DATE:160113,TIME:140709,LAT:22.7613506N,LOT:114.3610382E,Speed:000.3,X-0-1-100-26,000#"


@pytest.mark.parametrize(("msg_type", "alarm"), [
    ("ALM-A5", Alarm.SOS),  # 緊急ブザー詳細 in a JPTL-401 signal table
    ("ALM-B2", Alarm.GEOFENCE_EXIT),  # Traccar's parity rule
    ("ALM-B3-1", Alarm.GEOFENCE_ENTER),
    ("ALM-C", Alarm.OVERSPEED),  # 超速报警
    ("ALM-H", Alarm.MOVEMENT),  # GPS位移报警
    ("ALM-M", Alarm.FALL),  # BMA跌落报警, SMS text "Mdown!"
    ("ALM-N", Alarm.ACCIDENT),  # BMA碰撞报警, SMS text "Sudden Stop or Shock!"
    ("ALM-Z", Alarm.GENERAL),  # reserved letter
])
def test_alarm_letters(msg_type: str, alarm: Alarm) -> None:
    decoded = decode(b"#867273021518134," + msg_type.encode() + ALARM_FIX)
    position, alert = decoded.records
    assert position.alarms == [alarm] and alert.alarm is alarm
    assert isinstance(alert, Alert) and alert.lat == position.lat == 22.7613506


@pytest.mark.parametrize(("msg_type", "text"), [
    ("ALM-E", "gps_no_fix_for_long"), ("ALM-F", "battery_full"), ("ALM-U", "firmware_updated"),
])
def test_notice_letters_are_status_events(msg_type: str, text: str) -> None:
    decoded = decode(b"#867273021518134," + msg_type.encode() + ALARM_FIX)
    status, position = decoded.records
    assert isinstance(status, Event) and status.event == "status" and status.text == text
    assert position.alarms == []


def test_alarm_without_fix_is_an_alert_alone() -> None:
    """Constructed per firmware: `,ALM-E` is sent without a comma; an alarm may come bare too."""
    (alert,) = decode(b"#867273021518134,ALM-A#").records
    assert isinstance(alert, Alert) and alert.alarm is Alarm.SOS and alert.lat is None
    assert alert.device_id == "867273021518134"


def test_gprs_connected_is_a_login() -> None:
    """Constructed per firmware: `Send_Msg_To_Platform(CMD_D, NOGPS, ...)` after connecting."""
    decoded = decode(b"#867273021518134,CMD-D,#")
    assert decoded.records == [event("867273021518134", "login")]
    assert decoded.reply is None


def test_command_answer_in_free_text() -> None:
    """Constructed: an answer without a fix keeps its text (firmware CMD-B sends IMEI/version)."""
    (answer,) = decode(b"#867273021518134,CMD-B,IMEI:867273021518134,TL403_V1#").records
    assert answer.event == "command_result" and answer.text == "IMEI:867273021518134,TL403_V1"


# --------------------------------------------------------------------------------------------
# Malformed frames: an error, never an exception
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"#",
    b"",
    b"#abc,CMD-T#",
    b"#123,CMD-X#",  # too short for an IMEI
    b"#861785001515349,FOO-1#",
    b"#861785001515349#",
    b"#861785001515349,CMD-T#",  # a position report without its fix
    b"#861785001515349,CMD-T,A,DATE:120903,TIME:160649#",
    b"#861785001515349,CMD-T,A,DATE:121303,TIME:160649,LAT:59.9N,LOT:010.7E,Speed:005.5#",
    b"#861785001515349,CMD-T,A,DATE:120903,TIME:160649,LAT:95.9N,LOT:010.7E,Speed:005.5#",
    b"#861785001515349,CMD-T,A,DATE:120903,TIME:160649,LAT:59.9N,LOT:010.7E,5.5#",
    b"#861785001515349,CMD-T,A,DATE:120903,TIME:160649,LAT:59.9N,LOT:010.7E,Speed:fast#",
    b"#861785001515349,CMD-T,A,DATE:120903,TIME:160649,LAT:59.9N,LOT:010.7E,Speed:5.5,1-2,WIFI:{zz&-1}#",
    b"#861785001515349,CMD-T,A,DATE:1209\xff3,TIME:160649#",
])
def test_malformed_frames_give_an_error(raw: bytes) -> None:
    decoded = decode(raw)
    assert decoded.error and decoded.records == [] and decoded.reply is None


def test_zero_date_means_no_time() -> None:
    decoded = decode(b"#861785001515349,CMD-T,V,DATE:000000,TIME:000000,LAT:0.0N,LOT:0.0E,Speed:000.0,50-10#")
    (position,) = decoded.records
    assert position.time is None and position.valid is False


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def wire(raw: bytes) -> bytes:
    """How a device sends it: `#...#` (Traccar's samples have the `#`s stripped)."""
    return raw if raw.endswith(b"#") else b"#" + raw + b"#"


@pytest.mark.parametrize("name", F.ALL_FRAMES)
def test_detects_every_sample_and_its_prefixes(name: str) -> None:
    for raw in (wire(F.ALL_FRAMES[name]), F.ALL_FRAMES[name].lstrip(b"#")):
        assert CODEC.detect(raw, Transport.TCP) is Detection.MATCH
        assert CODEC.detect(raw, Transport.UDP) is Detection.MATCH
        for size in range(0, 30):
            assert CODEC.detect(raw[:size], Transport.TCP) is not Detection.NO_MATCH


@pytest.mark.parametrize("head", [b"", b"#", b"#3548", b"353327020412763", b"#353327020412763,",
                                  b"#353327020412763,CM", b"#353327020412763,AL", b"#012896001890042, ERR"])
def test_short_plausible_prefix_needs_more(head: bytes) -> None:
    assert CODEC.detect(head, Transport.TCP) is Detection.NEED_MORE


@pytest.mark.parametrize("head", [
    b"[SG*8800000015*0002*LK]",  # watch protocol
    b"[",
    b"\x78\x78\x11\x01\x03\x51",  # GT06
    b"\x79\x79\x00",
    b"imei:864035051673672,tracker",  # GPS103
    b"#abc",
    b"#12345678901234567890123,CMD-T",  # too many digits
    b"#1234,CMD-T",  # too few
    b"#353327020412763,XYZ",
    b"#353327020412763,CMD_T",
])
def test_other_protocols_do_not_match(head: bytes) -> None:
    assert CODEC.detect(head, Transport.TCP) is Detection.NO_MATCH


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def drain(framer) -> list[Frame | FrameError]:
    out = []
    while (item := framer.next()) is not None:
        out.append(item)
    return out


def feed_bytewise(framer, data: bytes) -> list[Frame | FrameError]:
    out = []
    for index in range(len(data)):
        framer.feed(data[index:index + 1])
        out += drain(framer)
    return out


STREAM_STYLES = {
    "wrapped": wire,  # `#...#`, as the firmware and the Node suite send it
    "closing_only": lambda raw: raw.strip(b"#") + b"#",  # what Traccar's delimiter decoder allows
}


@pytest.mark.parametrize("style", STREAM_STYLES)
@pytest.mark.parametrize("name", F.ALL_FRAMES)
def test_framer_whole_bytewise_and_with_trailing_bytes(name: str, style: str) -> None:
    data = STREAM_STYLES[style](F.ALL_FRAMES[name])
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(data)
    assert drain(framer) == [Frame(data)] and framer.buffered == 0

    assert feed_bytewise(CODEC.new_framer(Transport.TCP), data) == [Frame(data)]

    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(data + b"#3533270")
    assert drain(framer) == [Frame(data)] and framer.buffered == len(b"#3533270")
    assert decode(data).records == decode(F.ALL_FRAMES[name]).records


def test_several_messages_in_one_read() -> None:
    """The Node suite's MULTIPLE_CMD: `#X##A1##F#` arrives in one TCP read."""
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(F.NODE_MULTIPLE)
    assert drain(framer) == [Frame(F.NODE_CMD_X), Frame(F.NODE_CMD_A1), Frame(F.NODE_CMD_F)]
    assert feed_bytewise(CODEC.new_framer(Transport.TCP), F.NODE_MULTIPLE) == [
        Frame(F.NODE_CMD_X), Frame(F.NODE_CMD_A1), Frame(F.NODE_CMD_F)]


def test_empty_segments_are_not_errors() -> None:
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(b"###" + F.NODE_CMD_X + b"##" + F.NODE_CMD_X)
    assert drain(framer) == [Frame(F.NODE_CMD_X), Frame(F.NODE_CMD_X)]


def test_garbage_between_frames_is_a_frame_error() -> None:
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(b"\r\nGET / HTTP/1.1" + F.NODE_CMD_X + b"junk" + F.NODE_CMD_X)
    assert drain(framer) == [
        FrameError("bytes between frames are not a GOTOP frame", b"\r\nGET / HTTP/1.1"),
        Frame(F.NODE_CMD_X),
        FrameError("bytes between frames are not a GOTOP frame", b"junk"),
        Frame(F.NODE_CMD_X),
    ]


def test_oversized_frame_is_dropped_and_the_stream_resynchronises() -> None:
    big = b"#861785001515349,CMD-T," + b"9" * 500
    for feed in ("whole", "bytewise"):
        framer = CODEC.new_framer(Transport.TCP, max_frame=64)
        data = big + F.NODE_CMD_X
        if feed == "whole":
            framer.feed(data)
            out = drain(framer)
        else:
            out = []
            for index in range(len(data)):
                framer.feed(data[index:index + 1])
                out += drain(framer)
                assert framer.buffered <= 64
        errors = [item for item in out if isinstance(item, FrameError)]
        assert out[-1] == Frame(F.NODE_CMD_X)
        assert b"".join(error.data for error in errors) == big  # every dropped byte is reported


def test_udp_datagrams_stand_alone() -> None:
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(F.NODE_CMD_X + F.NODE_ALM_A)
    assert drain(framer) == [Frame(F.NODE_CMD_X), Frame(F.NODE_ALM_A)]
    framer.feed(b"#861785001515349,CMD-X")  # no closing '#': nothing more will come for it
    (error,) = drain(framer)
    assert isinstance(error, FrameError) and error.data == b"#861785001515349,CMD-X"
    framer.feed(b"861785001515349,CMD-X#")
    assert drain(framer) == [Frame(b"861785001515349,CMD-X#")] and framer.buffered == 0


# --------------------------------------------------------------------------------------------
# Commands, byte for byte
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "expected"), [
    # Node builder test: locateOneTime -> ":123456F#"; firmware: 123456F (单次定位).
    (Command("locate"), b":123456F#"),
    # Node builder: interval "5s" -> ":123456M1,005S#", "30M" -> ":123456M1,030M#"; firmware M1,030S.
    (Command("set_interval", {"seconds": "5"}), b":123456M1,005S#"),
    (Command("set_interval", {"seconds": "30"}), b":123456M1,030S#"),
    (Command("set_interval", {"seconds": "1800"}), b":123456M1,030M#"),
    (Command("set_interval", {"seconds": "7200"}), b":123456M1,120M#"),  # smallest unit that fits
    (Command("set_interval", {"seconds": "36000"}), b":123456M1,010H#"),
    # Node builder: setAuthorizedNumber -> ":123456A1,+1555555#", delete -> ":123456A2,D#".
    (Command("sos_numbers", {"numbers": "+1555555"}), b":123456A1,+1555555#"),
    (Command("sos_numbers", {"numbers": "+8613145906426,"}), b":123456A1,+8613145906426#:123456A2,D#"),
    # Firmware: 123456K -> "Power Off OK!".
    (Command("power_off"), b":123456K#"),
    # Node builder: setTimeZone -> ":123456L+08#"; firmware M2,120 sets the heartbeat.
    (Command("custom", {"text": ":123456L+08#"}), b":123456L+08#"),
    (Command("custom", {"text": "M2,120"}), b":123456M2,120#"),
    (Command("locate", {"password": "555555"}), b":555555F#"),
])
def test_encodes_commands(command: Command, expected: bytes) -> None:
    assert CODEC.encode_command(command, CODEC.new_session(Transport.TCP)) == expected


def test_session_password_is_used() -> None:
    # Node builder: password 555555, interval "10S" -> ":555555M1,010S#".
    session = GotopSession(password="555555")
    assert CODEC.encode_command(Command("set_interval", {"seconds": "10"}), session) == b":555555M1,010S#"


@pytest.mark.parametrize("name", ["reboot", "find_device", "factory_reset", "nonsense"])
def test_unsupported_commands(name: str) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(Command(name), CODEC.new_session(Transport.TCP))


@pytest.mark.parametrize("command", [
    Command("set_interval", {"seconds": "0"}),
    Command("set_interval", {"seconds": "255"}),  # 255 s is neither 1-254 s nor whole minutes
    Command("set_interval", {}),
    Command("sos_numbers", {"numbers": "call-me"}),
    Command("sos_numbers", {"numbers": ",".join(["+100"] * 9)}),
    Command("custom", {"text": "F#M0"}),
    Command("custom", {"text": "F\r\n"}),
    Command("locate", {"password": "12ab56"}),
])
def test_bad_command_parameters(command: Command) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(command, CODEC.new_session(Transport.TCP))


# --------------------------------------------------------------------------------------------
# Property: nothing raises, buffers stay bounded
# --------------------------------------------------------------------------------------------

MAX_FRAME = 256
SAMPLES = [wire(raw) for raw in F.ALL_FRAMES.values()]


def run_everything(data: bytes, chunks: list[int], transport: Transport) -> None:
    drive_codec(CODEC, data, chunks, transport, MAX_FRAME, NOW)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), chunks=st.lists(st.integers(1, 64), max_size=20),
       transport=st.sampled_from(list(Transport)))
def test_random_bytes_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    run_everything(data, chunks, transport)


def mutated_samples():
    return mutated(SAMPLES, b"#,:-&{}AVNSEW0159.xX \xff")


@settings(max_examples=300, deadline=None)
@given(data=mutated_samples(), chunks=st.lists(st.integers(1, 40), max_size=12),
       transport=st.sampled_from(list(Transport)))
def test_mutated_real_frames_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    run_everything(data, chunks, transport)
    decoded = guarded_decode(CODEC, data, CODEC.new_session(transport), NOW)
    assert isinstance(decoded, Decoded) and not decoded.bug, decoded.error
    # No range check here: a mutated digit can make a year 2054 or a latitude 92; the codec reports
    # what the device said, and the processors dead-letter impossible fixes.
    assert decoded.error is None or decoded.records == []
