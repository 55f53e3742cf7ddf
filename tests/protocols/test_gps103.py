"""GPS103 codec: real frames (see frames_gps103.py for sources), framing, detection, replies,
commands, fuzz.

Coordinates are written as degrees + minutes / 60 from the frame's digits (`dm`), speeds as knots x
1.852 (`kn`). Times are the UTC time of day the frame carries, on the local date moved by a day
where the local time says so (comments give the local time); Traccar's stated values agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    import frames_gps103 as F
except ImportError:  # pragma: no cover
    from . import frames_gps103 as F  # type: ignore[no-redef]
from protocols.base import (
    Command,
    Detection,
    Frame,
    Transport,
    UnsupportedCommand,
    guarded_decode,
    guarded_encode,
    guarded_identify,
)
from protocols.gps103 import CODEC
from protocols.registry import CODECS
from protocols.stream import detect
from schemas.alarms import Alarm
from schemas.records import Alert, Event, Position, Record, Telemetry
from tests.protocols.fuzzing import drive_codec, mutated

UTC = timezone.utc
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def dm(degrees: int, minutes: float, negative: bool = False) -> float:
    value = round(degrees + minutes / 60, 6)
    return -value if negative else value


def kn(knots: float) -> float:
    return round(knots * 1.852, 2)


def t(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def pos(device_id: str, time: datetime | None, lat: float, lon: float, speed: float | None,
        course: float | None = None, valid: bool = True, **kw) -> Position:
    return Position(protocol="gps103", device_id=device_id, time=time, valid=valid, lat=lat, lon=lon,
                    speed_kmh=speed, course_deg=course, **kw)


def alarmed(fix: Position, alarm: Alarm) -> list[Record]:
    fix.alarms = [alarm]
    return [fix, Alert.from_fix(fix, alarm)]


def alert(device_id: str, alarm: Alarm) -> Alert:
    return Alert(protocol="gps103", device_id=device_id, alarm=alarm)


def event(device_id: str, name: str, **kw) -> Event:
    return Event(protocol="gps103", device_id=device_id, event=name, **kw)


def obd(device_id: str, time: datetime, details: dict, battery_v: float | None = None) -> list[Record]:
    out: list[Record] = [event(device_id, "obd", time=time, details=details)]
    if battery_v is not None:
        out.append(Telemetry(protocol="gps103", device_id=device_id, time=time, battery_v=battery_v))
    return out


def status(device_id: str, keyword: str, fix: Position, **details) -> Event:
    return event(device_id, "status", time=fix.time, text=keyword, details={"keyword": keyword, **details})


@dataclass
class Case:
    frame: bytes
    message_type: str
    records: list[Record]
    reply: bytes | None = None


def cancel(imei: str) -> bytes:
    return f"**,imei:{imei},E;".encode()


def _cases() -> dict[str, Case]:
    coban = lambda: pos(  # noqa: E731
        "359586015829802", t(2008, 9, 23, 6, 29, 47), dm(22, 34.4026), dm(113, 54.3277), 0.0)
    # local 2008-09-23 19:29, UTC 05:54:03 -> the next UTC day
    mileage = lambda course=None, altitude=None: pos(  # noqa: E731
        "353451044508750", t(2008, 9, 24, 5, 54, 3), dm(22, 33.187), dm(113, 54.3067), 0.0, course, altitude_m=altitude)
    shenzhen = lambda course: pos("359587010124900", t(2008, 9, 23, 11, 29, 9), dm(22, 34.4669),  # noqa: E731
                                  dm(113, 54.3287), kn(0.11), course)
    tijuana = lambda time: pos("868683026321020", time, dm(32, 27.3057), dm(116, 49.4754, True), 0.0, 0.0)  # noqa: E731
    acc_on = pos("864180036029895", t(2018, 5, 8, 6, 56, 45), dm(47, 29.1497), dm(19, 4.2342), 0.0, 0.0)
    acc_alarm = pos("359710041641581", t(2014, 2, 23, 6, 59, 7), dm(24, 56.2591), dm(67, 8.8335), kn(7.53), 76.1)
    acc_off = pos("865328023776874", t(2015, 6, 19, 7, 22, 18), dm(54, 39.8489), dm(25, 18.5945), 0.0)
    glued = pos("359769031878322", t(2016, 2, 15, 22, 18, 11), dm(16, 55.2193, True), dm(145, 46.6722), 0.0)
    return {
        "login": Case(F.LOGIN, "login", [event("359586015829802", "login")], b"LOAD"),
        "heartbeat": Case(F.HEARTBEAT, "heartbeat", [event("359586015829802", "heartbeat")], b"ON"),
        "sensor_alarm_no_gps": Case(F.SENSOR_ALARM_NO_GPS, "sensor alarm", [alert("865456055519122", Alarm.VIBRATION)]),
        # local 08:37:46, UTC 12:37:46; `100%` in the phone field is not read.
        "battery_field": Case(F.BATTERY_FIELD, "report", [pos("864035052942928", t(2024, 12, 14, 12, 37, 46),
                                                              dm(10, 12.63368), dm(67, 57.59559, True), 0.0, 340.61)]),
        "utc_no_fraction": Case(F.UTC_NO_FRACTION, "tracker", [pos(
            "864035050002451", t(2020, 12, 23, 6, 49, 47), dm(19, 35.7064), dm(98, 59.94436, True), kn(0.025))]),
        "numeric_keyword": Case(F.NUMERIC_KEYWORD, "001", [pos("760112011448012", t(2020, 1, 15, 19, 18, 33),
                                                               dm(61, 36.6174), dm(21, 26.9901), 0.0, 202.6,
                                                               altitude_m=-0.1)]),
        # Traccar: course 83.95. Local 08:45, UTC 06:44:59.
        "course": Case(F.COURSE, "tracker", [pos("868683023212255", t(2019, 2, 5, 6, 44, 59), dm(49, 15.1221),
                                                 dm(16, 34.5655), kn(3.91), 83.95)]),
        "photo_announce": Case(F.PHOTO_ANNOUNCE, "vt14", [pos("864180034124375", t(2019, 1, 16, 17, 27, 50),
                                                              dm(36, 49.2186), dm(2, 35.8411, True), 0.0, 0.0)]),
        "temperature_alarm": Case(F.TEMPERATURE_ALARM, "T:+11", alarmed(tijuana(t(2018, 12, 17, 8, 0, 47)),
                                                                        Alarm.TEMPERATURE)),
        "tracker_temperature": Case(F.TRACKER_TEMPERATURE, "tracker", [tijuana(t(2018, 12, 17, 8, 1, 2))]),
        "obd_dtc": Case(F.OBD_DTC, "OBD", obd("868683027758113", t(2018, 9, 5, 20, 2, 18), {
            "engine_hours": 0.0, "obd_speed_kmh": 0, "engine_load_pct": 0.39, "coolant_temp_c": 70.0,
            "throttle_pct": 9.41, "rpm": 494, "dtcs": "P0137 P0430"})),  # battery 0.00 V: omitted
        "fuel": Case(F.FUEL, "001", [mileage(30.1, 65.43)]),
        "acc_on": Case(F.ACC_ON, "acc on", [status("864180036029895", "acc on", acc_on, acc=True), acc_on]),
        "ac_alarm_no_gps": Case(F.AC_ALARM_NO_GPS, "ac alarm", [alert("864895030279986", Alarm.POWER_CUT)]),
        "obd_full": Case(F.OBD_FULL, "OBD", obd("359710048977327", t(2018, 3, 1, 9, 40, 3), {
            "odometer": 5000000.0, "fuel_instant": 0.0, "fuel_average": 0.0, "engine_hours": 98.0,
            "obd_speed_kmh": 18, "engine_load_pct": 68.63, "coolant_temp_c": 55.0, "throttle_pct": 25.1,
            "rpm": 1368}, 14.24)),
        "obd_coolant": Case(F.OBD_COOLANT, "OBD", obd("862106025092216", t(2017, 6, 5, 9, 59, 49), {
            "odometer": 195874.0, "fuel_average": 370.8, "engine_hours": 808.0, "obd_speed_kmh": 66,
            "engine_load_pct": 30.0, "coolant_temp_c": 87.0, "throttle_pct": 13.0, "rpm": 2444}, 14.3)),
        "obd_zeros": Case(F.OBD_ZEROS, "OBD", obd("868683027825532", t(2017, 6, 13, 20, 30, 14), {
            "engine_hours": 0.0, "obd_speed_kmh": 0, "engine_load_pct": 0.0, "coolant_temp_c": 0.0,
            "throttle_pct": 0.0, "rpm": 0})),
        "obd_no_coolant": Case(F.OBD_NO_COOLANT, "OBD", obd("862106025092216", t(2017, 6, 12, 16, 56, 56), {
            "odometer": 196043.0, "fuel_average": 145803.9, "obd_speed_kmh": 0, "engine_load_pct": 0.0,
            "throttle_pct": 0.0, "rpm": 0}, 12.6)),
        "dtc": Case(F.DTC, "DTC", alarmed(mileage(30.1), Alarm.GENERAL)),
        "oil1": Case(F.OIL1, "oil1", alarmed(mileage(), Alarm.GENERAL)),
        "oil_level": Case(F.OIL_LEVEL, "oil 51.67", alarmed(mileage(), Alarm.GENERAL)),
        "temperature_28": Case(F.TEMPERATURE_28, "T:+28.0", alarmed(mileage(), Alarm.TEMPERATURE)),
        "bonnet": Case(F.BONNET, "bonnet alarm", alarmed(mileage(), Alarm.GENERAL)),
        "footbrake": Case(F.FOOTBRAKE, "footbrake alarm", alarmed(mileage(), Alarm.GENERAL)),
        "ac_alarm": Case(F.AC_ALARM, "ac alarm", alarmed(pos("862106021237716", t(2016, 11, 29, 20, 44, 57),
                                                             dm(10, 10.2783), dm(64, 41.0274, True), 0.0),
                                                         Alarm.POWER_CUT)),
        "obd_two_dtcs": Case(F.OBD_TWO_DTCS, "OBD", obd("359710049057798", t(2016, 10, 3, 19, 27, 52), {
            "odometer": 1785.0, "engine_hours": 0.0, "obd_speed_kmh": 54, "engine_load_pct": 96.47,
            "coolant_temp_c": 75.0, "throttle_pct": 20.0, "rpm": 1892, "dtcs": "P0134 P0571"})),
        # local 2016-06-29 02:29, UTC 18:29:49 -> the day before
        "tracker_west": Case(F.TRACKER_WEST, "tracker", [pos("359710049090138", t(2016, 6, 28, 18, 29, 49),
                                                             dm(40, 43.8839), dm(113, 28.8029, True), kn(65.26),
                                                             271.82)]),
        "obd_u_code": Case(F.OBD_U_CODE, "OBD", obd("359710049028435", t(2016, 3, 16, 5, 36, 57), {
            "odometer": 70430.0, "engine_hours": 0.0, "obd_speed_kmh": 49, "engine_load_pct": 60.0,
            "coolant_temp_c": 46.0, "throttle_pct": 19.22, "rpm": 859, "dtcs": "U1108"})),
        "heartbeat_glued": Case(F.HEARTBEAT_GLUED, "tracker", [event("359769031878322", "heartbeat"), glued], b"ON"),
        "obd_no_battery": Case(F.OBD_NO_BATTERY, "OBD", obd("865328021049167", t(2014, 11, 18, 11, 50, 36), {
            "fuel_average": 0.0, "obd_speed_kmh": 0, "engine_load_pct": 0.0, "throttle_pct": 0.0, "rpm": 0})),
        "help_me_no_gps": Case(F.HELP_ME_NO_GPS, "help me", [alert("359710049075097", Alarm.SOS)],
                               cancel("359710049075097")),
        "tracker_no_clock": Case(F.TRACKER_NO_CLOCK, "tracker", [event(
            "359710041100000", "status", text="tracker", details={"gps": False, "lac": 0xFA8, "cid": 0xC9AF})]),
        "tracker_no_date": Case(F.TRACKER_NO_DATE, "tracker", [event(
            "863070016871385", "status", text="tracker", details={"gps": False, "lac": 0x0FB6, "cid": 0xCB5D})]),
        # Traccar: position("2015-10-30 00:01:01.000", true, 54.72306, 25.21512).
        "tracker_lithuania": Case(F.TRACKER_LITHUANIA, "tracker", [pos(
            "359710045559474", t(2015, 10, 30, 0, 1, 1), dm(54, 43.3834), dm(25, 12.9071), 0.0, 0.0)]),
        # Traccar: position("2015-10-26 23:59:57.000", true, 24.49193, 44.40971).
        "tracker_day_before": Case(F.TRACKER_DAY_BEFORE, "tracker", [pos(
            "359710049092324", t(2015, 10, 26, 23, 59, 57), dm(24, 29.5156), dm(44, 24.5828), kn(0.01), 27.91)]),
        # Traccar: position("2015-10-27 01:15:31.000", true, 60.33830, 25.10323).
        "tracker_finland": Case(F.TRACKER_FINLAND, "tracker", [pos(
            "865328021058861", t(2015, 10, 27, 1, 15, 31), dm(60, 20.2979), dm(25, 6.194), kn(0.49), 113.3)]),
        "no_gps_signal": Case(F.NO_GPS_SIGNAL, "tracker", [event("359586015829802", "status", text="tracker",
                                                                 details={"gps": False})]),
        "altitude": Case(F.ALTITUDE, "tracker", [pos("869039001186913", t(2013, 8, 28, 21, 56, 30), dm(56, 2.11015),
                                                     dm(92, 46.30767), kn(1.4), altitude_m=175.9)]),
        "slashed_date": Case(F.SLASHED_DATE, "tracker", [pos("359710040656622", t(2013, 2, 27, 12, 59, 52),
                                                             dm(34, 50.943, True), dm(138, 28.6753), 0.0, 0.0)]),
        "slashed_date_malaysia": Case(F.SLASHED_DATE_MALAYSIA, "tracker", [pos(
            "359710040565419", t(2013, 5, 25, 6, 22, 9), dm(6, 26.0411), dm(101, 49.3904), 0.0, 0.0)]),
        "tracker_peru": Case(F.TRACKER_PERU, "tracker", [pos("353451047570260", t(2013, 2, 11, 14, 48, 7),
                                                             dm(8, 5.6615, True), dm(78, 59.9763, True), 0.0)]),
        "tracker_arizona": Case(F.TRACKER_ARIZONA, "tracker", [pos("359587016817564", t(2013, 1, 25, 8, 2, 51),
                                                                   dm(32, 23.5832), dm(110, 58.9449, True), kn(0.03))]),
        "no_speed": Case(F.NO_SPEED, "tracker", [pos("359587016817564", t(2013, 1, 25, 8, 2, 51), dm(32, 23.5832),
                                                     dm(110, 58.9449, True), None)]),
        "tracker_chile": Case(F.TRACKER_CHILE, "tracker", [pos("012497000208821", t(2013, 1, 7, 21, 25, 11),
                                                               dm(22, 28.5279, True), dm(68, 55.6328, True),
                                                               kn(18.62), 268.98)]),
        "tracker_venezuela": Case(F.TRACKER_VENEZUELA, "tracker", [pos(
            "012497000431811", t(2012, 10, 25, 22, 9, 25), dm(8, 45.55), dm(70, 24.7673, True), 0.0)]),
        # local 2010-04-17 19:10, UTC 01:02:03 -> the next day
        "help_me_test": Case(F.HELP_ME_TEST, "help me", alarmed(pos(
            "100000000000000", t(2010, 4, 18, 1, 2, 3), dm(1, 2.0003), dm(1, 2.0003), kn(1.02)), Alarm.SOS),
            cancel("100000000000000")),
        "phone": Case(F.PHONE, "tracker", [pos("353451040164707", t(2011, 5, 18, 21, 44, 18), dm(48, 4.2222),
                                               dm(19, 16.7593), kn(0.37))]),
        "tracker_brazil": Case(F.TRACKER_BRAZIL, "tracker", [pos(
            "353451042861763", t(2011, 6, 13, 14, 41, 14), dm(23, 1.9052, True), dm(49, 9.3676, True), kn(0.13))]),
        "tracker_shenzhen": Case(F.TRACKER_SHENZHEN, "tracker", [shenzhen(321.53)]),
        "phone_with_space": Case(F.PHONE_WITH_SPACE, "tracker", [pos("353451049926460", t(2012, 8, 4, 12, 43, 36),
                                                                     dm(35, 9.8668), dm(33, 22.7636), 0.0)]),
        "help_me": Case(F.HELP_ME, "help me", alarmed(coban(), Alarm.SOS), cancel("359586015829802")),
        "low_battery": Case(F.LOW_BATTERY, "low battery", alarmed(coban(), Alarm.LOW_BATTERY)),
        "stockade": Case(F.STOCKADE, "stockade", alarmed(coban(), Alarm.GEOFENCE_EXIT)),
        "move": Case(F.MOVE, "move", alarmed(coban(), Alarm.MOVEMENT)),
        "speed": Case(F.SPEED, "speed", alarmed(coban(), Alarm.OVERSPEED)),
        "tracker_hk": Case(F.TRACKER_HK, "tracker", [pos("863070010423167", t(2012, 11, 5, 11, 51, 23),
                                                         dm(22, 20.6322), dm(114, 7.5313), 0.0)]),
        "tracker_hk_moving": Case(F.TRACKER_HK_MOVING, "tracker", [pos(
            "863070010423167", t(2012, 11, 6, 6, 21, 52), dm(22, 20.6914), dm(114, 7.5506), kn(15.85), 347.84)]),
        "tracker_russia": Case(F.TRACKER_RUSSIA, "tracker", [pos("863070012698733", t(2013, 3, 9, 19, 34, 27),
                                                                 dm(51, 39.0369), dm(39, 7.2791), 0.0)]),
        "altitude_seconds": Case(F.ALTITUDE_SECONDS, "tracker", [pos(
            "869039001186913", t(2013, 9, 25, 6, 55, 33), dm(56, 4.11015), dm(92, 32.12238), 0.0, altitude_m=329.0)]),
        "acc_alarm": Case(F.ACC_ALARM, "acc alarm", [status("359710041641581", "acc alarm", acc_alarm), acc_alarm]),
        "fuel_decimals": Case(F.FUEL_DECIMALS, "tracker", [pos("313009071131684", t(2014, 3, 21, 11, 28, 17),
                                                               dm(6, 10.1133), dm(1, 16.584), 0.0)]),
        # local 2014-05-27 05:56:53, UTC 21:56:53 -> the day before
        "centi_seconds": Case(F.CENTI_SECONDS, "tracker", [pos("866989771979791", t(2014, 5, 26, 21, 56, 53),
                                                               dm(50, 50.33113), dm(3, 36.98783), kn(0.066), 0.0)]),
        # `31.0` / `0.0` where the UTC time belongs: no UTC time, so no record time (not a local guess).
        "utc_unreadable": Case(F.UTC_UNREADABLE, "tracker", [pos("353552045375005", None, dm(10, 50.73696),
                                                                 dm(106, 36.49489), kn(8.0), altitude_m=22.0)]),
        "utc_zero": Case(F.UTC_ZERO, "tracker", [pos("353552045403597", None, dm(53, 6.64155), dm(7, 0.77848), 0.0,
                                                     altitude_m=1.0)]),
        "tracker_malaysia": Case(F.TRACKER_MALAYSIA, "tracker", [pos(
            "359710047424644", t(2015, 5, 6, 15, 40, 37), dm(3, 35.2785), dm(98, 41.1543), kn(3.03), 337.54)]),
        "acc_off": Case(F.ACC_OFF, "acc off", [status("865328023776874", "acc off", acc_off, acc=False), acc_off]),
        "navtrack_tracker": Case(F.NAVTRACK_TRACKER, "tracker", [shenzhen(None)]),
    }


CASES = _cases()


def _decode(frame: bytes, transport: Transport = Transport.TCP, session=None):
    return guarded_decode(CODEC, frame, session or CODEC.new_session(transport), NOW)


def test_every_sample_has_a_case():
    case_frames = {case.frame for case in CASES.values()}
    assert [label for label, frame in F.SAMPLES + F.UDP_SAMPLES if frame not in case_frames] == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_frames_decode_field_by_field(name):
    case = CASES[name]
    decoded = _decode(case.frame)
    assert decoded.error is None and not decoded.bug
    assert decoded.message_type == case.message_type
    assert decoded.records == case.records
    assert decoded.reply == case.reply
    assert decoded.device_id == case.records[0].device_id


@pytest.mark.parametrize("name", sorted(CASES))
def test_identify_agrees_with_decode(name):
    case = CASES[name]
    identified = guarded_identify(CODEC, case.frame, CODEC.new_session(Transport.TCP), NOW)
    assert (identified.device_id, identified.reply, identified.message_type, identified.error) == (
        case.records[0].device_id, case.reply, case.message_type, None)


def test_the_login_identifies_the_connection():
    session = CODEC.new_session(Transport.TCP)
    assert _decode(F.LOGIN, session=session).reply == b"LOAD"
    assert session.device_id == "359586015829802"
    assert guarded_encode(CODEC, Command("locate"), session) == b"**,imei:359586015829802,B;"


@pytest.mark.parametrize("label,frame", F.MALFORMED)
def test_malformed_frames_are_decode_errors_not_bugs(label, frame):
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(frame)
    assert [item.data for item in iter(framer.next, None)] == [frame]
    decoded = _decode(frame)
    assert decoded.error and not decoded.bug and decoded.records == []


# --------------------------------------------------------------------------------------------
# Detection and framing
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,frame", F.SAMPLES + F.UDP_SAMPLES)
@pytest.mark.parametrize("transport", [Transport.TCP, Transport.UDP])
def test_samples_are_detected_as_gps103_by_the_registry(label, frame, transport):
    codec = detect(frame, transport)
    assert getattr(codec, "name", None) == "gps103", codec
    for other in CODECS:
        if other.name != "gps103":
            assert other.detect(frame, transport) is Detection.NO_MATCH, other.name


@pytest.mark.parametrize("prefix", [b"#", b"##", b"##,im", b"imei", b"3595", b"359586015829802", b"359586015829802im"])
def test_prefixes_need_more(prefix):
    assert CODEC.detect(prefix, Transport.TCP) is Detection.NEED_MORE


@pytest.mark.parametrize("head", [b"#8602", b"##,imx", b"imex", b"35958,", b"12345;", b"359586015829802,CMD-T",
                                  b"*HQ,1", b"**,imei:1"])
def test_other_bytes_do_not_match(head):
    assert CODEC.detect(head, Transport.TCP) is Detection.NO_MATCH


@pytest.mark.parametrize("label,frame", F.SAMPLES)
def test_tcp_samples_frame_whole_and_byte_by_byte(label, frame):
    for chunk in (len(frame) * 2, 1):
        framer = CODEC.new_framer(Transport.TCP)
        data, items = frame + frame, []
        for i in range(0, len(data), chunk):
            framer.feed(data[i:i + chunk])
            items.extend(iter(framer.next, None))
        assert items == [Frame(frame), Frame(frame)]


def test_a_datagram_with_two_frames_gives_both():
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(F.LOGIN + F.HEARTBEAT)
    assert list(iter(framer.next, None)) == [Frame(F.LOGIN), Frame(F.HEARTBEAT)]


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def _session():
    session = CODEC.new_session(Transport.TCP)
    _decode(F.LOGIN, session=session)
    return session


@pytest.mark.parametrize("command,expected", [
    # Traccar Gps103ProtocolEncoderTest: `**,imei:123456789012345,C,05m` for 300 s, `...,H,080` custom;
    # the Coban document ends commands with ';'.
    (Command("locate"), b"**,imei:359586015829802,B;"),
    (Command("set_interval", {"seconds": "300"}), b"**,imei:359586015829802,C,05m;"),
    (Command("set_interval", {"seconds": "30"}), b"**,imei:359586015829802,C,30s;"),
    (Command("set_interval", {"seconds": "7200"}), b"**,imei:359586015829802,C,02h;"),
    (Command("stop_tracking"), b"**,imei:359586015829802,D;"),
    (Command("cancel_alarm"), b"**,imei:359586015829802,E;"),
    (Command("engine_stop"), b"**,imei:359586015829802,J;"),
    (Command("engine_resume"), b"**,imei:359586015829802,K;"),
    (Command("alarm_arm"), b"**,imei:359586015829802,L;"),
    (Command("alarm_disarm"), b"**,imei:359586015829802,M;"),
    (Command("custom", {"text": "H,080"}), b"**,imei:359586015829802,H,080;"),
])
def test_commands(command, expected):
    assert guarded_encode(CODEC, command, _session()) == expected


@pytest.mark.parametrize("command", [Command("reboot"), Command("set_interval", {"seconds": "150"}),
                                     Command("set_interval", {"seconds": "x"}), Command("custom", {"text": "a;b"})])
def test_unsupported_commands(command):
    with pytest.raises(UnsupportedCommand):
        guarded_encode(CODEC, command, _session())


def test_commands_need_the_imei():
    with pytest.raises(UnsupportedCommand):
        guarded_encode(CODEC, Command("locate"), CODEC.new_session(Transport.TCP))


# --------------------------------------------------------------------------------------------
# Sanity and fuzz
# --------------------------------------------------------------------------------------------

def test_every_fix_is_sane():
    for case in CASES.values():
        for record in case.records:
            if isinstance(record, (Position, Alert)) and record.lat is not None:
                assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
                assert record.time is None or t(2000, 1, 1) <= record.time <= NOW + timedelta(days=1)
                assert record.speed_kmh is None or 0 <= record.speed_kmh < 400


_SAMPLES = [frame for _, frame in F.SAMPLES]


@settings(max_examples=400, deadline=None)
@given(mutated(_SAMPLES, b"#;:,.0123456789ABCDEFLNSEWimeVx%+- \x00\xff"), st.lists(st.integers(1, 40), max_size=6),
       st.sampled_from([Transport.TCP, Transport.UDP]))
def test_mutated_frames_never_raise(data, chunks, transport):
    drive_codec(CODEC, data, chunks, transport, 512, NOW)
    assert not guarded_decode(CODEC, data, CODEC.new_session(transport), NOW).bug
    assert not guarded_identify(CODEC, data, CODEC.new_session(transport), NOW).bug


# --------------------------------------------------------------------------------------------
# The simulator's frames decode to what they were built from
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sos", [False, True])
@pytest.mark.parametrize("lat,lon", [(-33.8688, 151.2093), (59.99999999, -0.5)])
def test_simulated_frames_decode_to_what_they_were_built_from(sos, lat, lon):
    from simulator.frames import Fix
    from simulator.profiles.gps103 import gps103_heartbeat, gps103_login, gps103_report

    imei = "860000000000007"
    assert _decode(gps103_login(imei)).reply == b"LOAD"
    assert _decode(gps103_heartbeat(imei)).reply == b"ON"
    fix = Fix(t(2026, 11, 25, 10, 0, 5), lat, lon, speed_kmh=12.0, course_deg=90.0)
    decoded = _decode(gps103_report(imei, fix, sos=sos))
    position = decoded.records[0]
    assert (position.device_id, position.time, position.valid, position.course_deg) == (imei, fix.time, True, 90.0)
    assert abs(position.lat - lat) < 2e-6 and abs(position.lon - lon) < 2e-6
    assert abs(position.speed_kmh - 12.0) < 0.01
    assert position.alarms == ([Alarm.SOS] if sos else [])
    assert decoded.reply == (cancel(imei) if sos else None)


def test_the_example_capture_decodes_as_the_docs_show():
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from trackwire.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "gps103.txt"
    result = CliRunner().invoke(main, ["decode", str(example)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [(o["type"], o["line"]) for o in out] == [
        ("event", 1), ("reply", 1), ("event", 2), ("reply", 2), ("position", 3), ("position", 4), ("alert", 4),
        ("reply", 4), ("event", 5), ("telemetry", 5)]
    assert [bytes.fromhex(o["hex"]) for o in out if o["type"] == "reply"] == [
        b"LOAD", b"ON", b"**,imei:359586015829802,E;"]
    assert out[6]["alarm"] == "sos" and out[9]["battery_v"] == 14.24


@pytest.mark.parametrize("label,frame", __import__("tests.protocols.other_frames", fromlist=["x"])
                         .frames_of_other_codecs("gps103"))
def test_no_frame_of_another_protocol_is_taken_for_gps103(label, frame):
    for transport in Transport:
        assert CODEC.detect(frame, transport) is not Detection.MATCH
