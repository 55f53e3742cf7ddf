"""JT/T 808 codec: real frames (sources in frames_jt808.py) with every field, replies byte for byte
(escaping and check code against an independent reference), authentication, framing, detection,
commands, fuzz."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # tests/protocols is on sys.path when pytest runs it as a plain directory (rootdir mode)
    import frames_jt808 as F
except ImportError:
    from . import frames_jt808 as F  # type: ignore[no-redef]
from protocols import jt808
from protocols.base import (
    Command,
    Detection,
    Frame,
    FrameError,
    ServerContext,
    Session,
    Transport,
    UnsupportedCommand,
    guarded_decode,
    guarded_encode,
    guarded_identify,
)
from protocols.jt808 import CODEC
from schemas.alarms import Alarm
from schemas.records import Alert, Event, Position, Record, from_msgpack, to_msgpack
from tests.protocols.fuzzing import drive_codec, mutated

UTC = timezone.utc
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def t(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def authenticated_session(transport: Transport = Transport.TCP, context: ServerContext | None = None):
    s = CODEC.new_session(transport)
    if context is not None:
        s.context = context
    for frame in F.PREAMBLE:
        assert guarded_decode(CODEC, frame, s, NOW).error is None
    return s


def decode(frame: bytes, s: Session | None = None):
    return guarded_decode(CODEC, frame, s if s is not None else authenticated_session(), NOW)


def ref_general_response(frame: bytes, result: int) -> bytes:
    """0x8001 per the standard, built by the independent reference: same header version and phone,
    serial echoed, body = answered serial, answered id, result."""
    raw = frame[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    msg_id, attributes = raw[0:2], int.from_bytes(raw[2:4], "big")
    version = raw[4] if attributes & 0x4000 else None
    phone = raw[5:15] if version is not None else raw[4:10]
    serial = raw[15:17] if version is not None else raw[10:12]
    return F.ref_frame(0x8001, phone, int.from_bytes(serial, "big"), serial + msg_id + bytes([result]), version)


def ref_register_answer(frame: bytes, key: bytes = ServerContext().auth_key) -> bytes:
    raw = frame[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    version = raw[4] if raw[2] & 0x40 else None
    phone = raw[5:15] if version is not None else raw[4:10]
    serial = raw[15:17] if version is not None else raw[10:12]
    body = serial + b"\x00" + F.ref_code(phone.hex(), key).encode()
    return F.ref_frame(0x8100, phone, int.from_bytes(serial, "big"), body, version)


# --------------------------------------------------------------------------------------------
# One expectation per real frame: every field
# --------------------------------------------------------------------------------------------

def fix(device: str, time: datetime | None, valid: bool, lat: float, lon: float, alt: float, speed: float,
        course: float, **kw) -> Position:
    return Position(protocol="jt808", device_id=device, time=time, valid=valid, lat=lat, lon=lon,
                    altitude_m=alt, speed_kmh=speed, course_deg=course, **kw)


def status(device: str, time: datetime | None, alarm_flags: int, status_flags: int, **details) -> Event:
    return Event(protocol="jt808", device_id=device, time=time, event="status",
                 details={"alarm_flags": alarm_flags, "status_flags": status_flags, "acc": bool(status_flags & 1),
                          **details})


def with_alerts(position: Position) -> list[Record]:
    return [position, *(Alert.from_fix(position, alarm) for alarm in position.alarms)]


def event(device: str, name: str, **details) -> Event:
    return Event(protocol="jt808", device_id=device, event=name, details=details)


@dataclass
class Case:
    frame: bytes
    records: list[Record]
    message_type: str
    device_id: str


def blind_item(minute: int, second: int, lat: float, lon: float, alt: float) -> list[Record]:
    time = t(2016, 5, 27, 1, minute, second)  # 16-05-27 09:mm:ss GMT+8
    return [fix("13567777777", time, True, lat, lon, alt, 0.0, 1.0),
            status("13567777777", time, 0, 3, mileage_km=2.9, recorder_speed_kmh=0.0, batch_type=1)]


CASES: dict[str, Case] = {
    # 0x0100 registration: province, city, manufacturer, model, terminal id, plate colour, plate (GBK)
    "REGISTER_2013": Case(F.REGISTER_2013, [event(
        "13511221122", "register", province=0, city=0, manufacturer="70107", model="HB-R03GBD",
        terminal_id="2366104", plate_color=2, plate="苏BA6860")], "register", "13511221122"),
    "REGISTER_2013_BSJ": Case(F.REGISTER_2013_BSJ, [event(
        "14130567872", "register", province=44, city=303, manufacturer="70111", model="BSJ-A6-BD",
        terminal_id="0567872", plate_color=1, plate="粤B88888")], "register", "14130567872"),
    "REGISTER_2011": Case(F.REGISTER_2011, [event(  # 33-byte body: the 2011 8-byte model field
        "13345678906", "register", province=44, city=303, manufacturer="70111", model="BSJ-M7B",
        terminal_id="0000000", plate_color=1, plate="粤B88888")], "register", "13345678906"),
    "REGISTER_EMPTY": Case(F.REGISTER_EMPTY, [event(  # all zero, no plate
        "94027849470", "register", province=0, city=0, manufacturer="", model="", terminal_id="",
        plate_color=0)], "register", "94027849470"),
    "REGISTER_2019": Case(F.REGISTER_2019, [event(  # 2019: manufacturer 11, model 30, terminal id 30
        "866496077582164", "register", province=0, city=0, manufacturer="", model="MD300",
        terminal_id="866496077582164", plate_color=4, protocol_version=1)], "register", "866496077582164"),
    # 0x0102 authentication with this server's code
    "AUTH_2013": Case(F.AUTH_2013, [event("13511221122", "login")], "authenticate", "13511221122"),
    "AUTH_2019": Case(F.AUTH_2019, [event("866496077582164", "login", imei="866496077582164",
                                          software_version="MD300-V1.0")], "authenticate", "866496077582164"),
    # 0x0002 heartbeat
    "HEARTBEAT": Case(F.HEARTBEAT, [event("43048325465", "heartbeat")], "heartbeat", "43048325465"),
    # 0x0200 location: alarm, status (bit 1 fixed, 2 south, 3 west), lat/lon 1e-6°, altitude m,
    # speed 0.1 km/h, course, BCD time GMT+8; items 01 mileage 0.1 km, 2A IO, 30 signal, 31 satellites
    "LOCATION_SOS": Case(F.LOCATION_SOS, [  # status 0A: fixed, west; 13-04-12 16:49:52 +8; 0x36 unknown
        *with_alerts(fix("94027587492", t(2013, 4, 12, 8, 49, 52), True, 50.871735, -1.255923, 0.0, 2.0, 0.0,
                         alarms=[Alarm.SOS])),
        status("94027587492", t(2013, 4, 12, 8, 49, 52), 1, 0x0A, mileage_km=1.8,
               item_36="0002341502cb0c20085c")], "location", "94027587492"),
    "LOCATION_LOW_POWER": Case(F.LOCATION_LOW_POWER, [  # alarm bit 7, ACC on, item EB vendor TLVs
        *with_alerts(fix("12345678901", t(2021, 7, 26, 12, 35, 31), True, 22.641605, 114.032486, 235.0, 0.0,
                         341.0, alarms=[Alarm.LOW_POWER])),
        status("12345678901", t(2021, 7, 26, 12, 35, 31), 0x80, 3, mileage_km=0.0,
               item_eb="000c00b28986047701207027150200060089ffffefff0004002d0e10000600c5ffffffef")],
        "location", "12345678901"),
    "LOCATION_REMOVAL": Case(F.LOCATION_REMOVAL, [  # alarm bit 17; status bit 18 GPS; 24.1 km/h
        *with_alerts(fix("421030000018", t(2021, 1, 18, 1, 58, 53), True, 22.375883, 113.562653, 12.0, 24.1,
                         252.0, alarms=[Alarm.REMOVAL])),
        status("421030000018", t(2021, 1, 18, 1, 58, 53), 0x20000, 0x40002, gps=True, mileage_km=0.0,
               item_fe="40", item_ff="01cc000000002694000055d8")], "location", "421030000018"),
    "LOCATION_POWER_CUT": Case(F.LOCATION_POWER_CUT, [  # alarm bit 8, status 1A: fixed, west; 7 sats, CSQ 0
        *with_alerts(fix("10050376964", t(2024, 5, 6, 19, 51, 52), True, 28.961528, -81.325702, 24.0, 0.0, 0.0,
                         satellites=7, rssi=0, alarms=[Alarm.POWER_CUT])),
        status("10050376964", t(2024, 5, 6, 19, 51, 52), 0x100, 0x1A, mileage_km=0.0,
               item_eb="00060089fffffffe000400ce0000000c00b28942310221007544309f")], "location", "10050376964"),
    "LOCATION_PLAIN": Case(F.LOCATION_PLAIN, [  # status 400E: fixed, south, west (bit 14 reserved)
        fix("1401249917", t(2015, 1, 1, 11, 42, 57), True, -19.591535, -46.912186, 0.0, 0.0, 0.0),
        status("1401249917", t(2015, 1, 1, 11, 42, 57), 0, 0x400E, mileage_km=11.9)], "location", "1401249917"),
    "LOCATION_IO": Case(F.LOCATION_IO, [  # status 40001: ACC, GPS, not fixed; CSQ 27, 3 satellites
        fix("1601285614", t(2017, 1, 17, 2, 4, 42), False, 6.152695, 106.720495, 0.0, 0.0, 0.0,
            satellites=3, rssi=27),
        status("1601285614", t(2017, 1, 17, 2, 4, 42), 0, 0x40001, gps=True, mileage_km=4326.4, io_status=0)],
        "location", "1601285614"),
    "LOCATION_ESCAPED": Case(F.LOCATION_ESCAPED, [  # 7D 02 inside item 0x87 is 7E; status bit 31
        fix("19171590437", t(2021, 11, 8, 11, 40, 50), True, 22.583576, 113.905643, 4.0, 0.0, 269.0, rssi=26),
        status("19171590437", t(2021, 11, 8, 11, 40, 50), 0, 0x80000003, mileage_km=0.3,
               item_cc="3839383630343738313032303730333138363038", item_80="aa", item_81="1388", item_82="007a",
               item_83="14", item_84="aa", item_85="189b", item_86="33", item_87="007e", item_88="33",
               item_89="14", item_8a="0099", item_8b="3132333435363738394142434445464748", item_8c="000200a8",
               item_8d="0082", item_8e="14", item_a0="")], "location", "19171590437"),
    "LOCATION_TAIL": Case(F.LOCATION_TAIL, [  # status 1C06: fixed, south, fuel cut, circuit cut, locked
        fix("202000129707", t(2020, 11, 2, 19, 17, 33), True, -27.455656, 153.029616, 0.0, 0.0, 237.0),
        status("202000129707", t(2020, 11, 2, 19, 17, 33), 0, 0x1C06, fuel_cut=True, power_circuit_cut=True,
               door_locked=True, item_00="", tail_hex="00780000000018000000")], "location", "202000129707"),
    # 0x0704 batch: count, type (0 regular, 1 blind area), items of (length, 0x0200 body)
    "BATCH_2019": Case(F.BATCH_2019, [  # Traccar: 14 satellites
        fix("866496077582164", t(2026, 5, 9, 8, 42, 27), True, -27.263378, 153.037383, 22.0, 0.0, 2.0,
            satellites=14, rssi=0),
        status("866496077582164", t(2026, 5, 9, 8, 42, 27), 0, 7, mileage_km=960.2, batch_type=0)],
        "batch_location", "866496077582164"),
    "BATCH_BLIND": Case(F.BATCH_BLIND, [
        *blind_item(6, 24, 22.639634, 114.031952, 370.0), *blind_item(6, 53, 22.639718, 114.031952, 363.0),
        *blind_item(7, 27, 22.6401, 114.032216, 319.0), *blind_item(7, 56, 22.64035, 114.0324, 302.0),
        *blind_item(8, 30, 22.640316, 114.032336, 301.0), *blind_item(9, 0, 22.640382, 114.03232, 264.0),
        *blind_item(9, 33, 22.640382, 114.032248, 252.0), *blind_item(10, 2, 22.64055, 114.032432, 264.0)],
        "batch_location", "13567777777"),
    "BATCH_2013": Case(F.BATCH_2013, [  # Traccar: 14 satellites; alarm bits 8 and 18; status bit 19 BeiDou
        *with_alerts(fix("14450376202", t(2026, 8, 17, 14, 18, 12), True, 33.697808, 116.954088, 29.0, 0.0,
                         149.0, satellites=14, rssi=31, alarms=[Alarm.POWER_CUT])),
        status("14450376202", t(2026, 8, 17, 14, 18, 12), 0x40100, 0x80003, beidou=True, item_14="00000000",
               item_17="0000", mileage_km=1402.5, recorder_speed_kmh=0.0, vehicle_signals=0, io_status=0,
               item_ea="020c8300", item_ef="00000000", batch_type=1)], "batch_location", "14450376202"),
}


def test_every_sample_has_a_case() -> None:
    frames = {frame for _, frame in F.SAMPLES + F.UDP_SAMPLES}
    assert frames == {case.frame for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decodes_real_frame(name: str) -> None:
    case = CASES[name]
    decoded = decode(case.frame)
    assert decoded.error is None and not decoded.rejected
    assert decoded.records == case.records
    assert decoded.message_type == case.message_type
    assert decoded.device_id == case.device_id
    for record in decoded.records:
        if isinstance(record, (Position, Alert)) and record.time is not None:
            assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
            assert t(2000, 1, 1) <= record.time <= NOW + timedelta(days=1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_identify_agrees_with_decode(name: str) -> None:
    frame = CASES[name].frame
    decoded = decode(frame)
    identified = guarded_identify(CODEC, frame, authenticated_session(), NOW)
    assert (identified.device_id, identified.reply, identified.message_type, identified.error, identified.rejected) == \
        (decoded.device_id, decoded.reply, decoded.message_type, decoded.error, decoded.rejected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_is_the_message_serial(name: str) -> None:
    """`sequence` is the header's message serial (read here independently of the codec)."""
    frame = CASES[name].frame
    raw = frame[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    serial = raw[15:17] if int.from_bytes(raw[2:4], "big") & 0x4000 else raw[10:12]
    identified = guarded_identify(CODEC, frame, authenticated_session(), NOW)
    assert decode(frame).sequence == identified.sequence == int.from_bytes(serial, "big")


def test_records_survive_the_wire_format() -> None:
    for case in CASES.values():
        for record in decode(case.frame).records:
            assert from_msgpack(to_msgpack(record)) == record


# --------------------------------------------------------------------------------------------
# Replies byte for byte
# --------------------------------------------------------------------------------------------

GENERAL = [name for name, case in CASES.items() if case.message_type != "register"]


@pytest.mark.parametrize("name", GENERAL)
def test_general_response_equals_the_reference(name: str) -> None:
    assert decode(CASES[name].frame).reply == ref_general_response(CASES[name].frame, 0)


def test_general_responses_literally() -> None:
    # 8001 | attrs 0005 | phone 043048325465 | serial 00b7 | answered 00b7, 0002, result 0 | check f9
    assert decode(F.HEARTBEAT).reply == F.h("7e 8001 0005 043048325465 00b7 00b7 0002 00 f9 7e")
    # the 2019 header comes back: attrs 4005, version 01, 10-byte phone
    assert decode(F.BATCH_2019).reply == F.h("7e 8001 4005 01 00000866496077582164 881d 881d 0704 00 eb 7e")


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.message_type == "register"])
def test_registration_answer_carries_the_code(name: str) -> None:
    assert decode(CASES[name].frame).reply == ref_register_answer(CASES[name].frame)


def test_registration_answer_literally() -> None:
    # 8100 | attrs 0013 | phone | serial 0005 | answered 0005, result 0, code (16 base32 chars) | check
    code = F.ref_code("013511221122")
    assert len(code) == 16 and code.isalnum() and code.isupper()
    assert decode(F.REGISTER_2013).reply == (
        F.h("7e 8100 0013 013511221122 0005 0005 00") + code.encode()
        + bytes([F.ref_xor(F.h("8100 0013 013511221122 0005 0005 00") + code.encode())]) + b"\x7e")


def test_reply_escapes_7e_and_7d() -> None:
    # constructed per the standard: a heartbeat whose serial is 7E7D must be answered with it escaped
    frame = F.ref_frame(0x0002, F.PHONE_13511221122, 0x7E7D, b"")
    assert F.h("7d027d01") in frame
    reply = decode(frame).reply
    assert reply == ref_general_response(frame, 0)
    assert reply.count(b"\x7e") == 2 and F.h("7d027d01") in reply


def test_escaping_matches_the_standard_example() -> None:
    assert jt808.escape(F.UNESCAPED[1:-1]) == F.ESCAPED[1:-1]
    assert jt808.unescape(F.ESCAPED[1:-1]) == F.UNESCAPED[1:-1]


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------

def test_register_then_authenticate_with_the_issued_code() -> None:
    s = CODEC.new_session(Transport.TCP)
    answer = guarded_decode(CODEC, F.REGISTER_2013, s, NOW).reply
    issued = jt808.unescape(answer[1:-1])[15:-1]  # after header 12, serial 2, result 1
    auth = F.ref_frame(0x0102, F.PHONE_13511221122, 6, issued)
    assert auth == F.AUTH_2013
    decoded = guarded_decode(CODEC, auth, s, NOW)
    assert decoded.error is None and decoded.reply == ref_general_response(auth, 0)
    located = guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW)
    assert located.error is None and located.records[0].alarms == [Alarm.SOS]
    assert located.reply == ref_general_response(F.LOCATION_13511221122, 0)


@pytest.mark.parametrize("frame", F.WRONG_CODE)
def test_a_wrong_code_is_answered_with_failure_and_refused(frame: bytes) -> None:
    s = CODEC.new_session(Transport.TCP)
    decoded = guarded_decode(CODEC, frame, s, NOW)
    assert decoded.rejected and decoded.records == []
    assert decoded.error.startswith("not authenticated: wrong authentication code")
    assert decoded.reply == ref_general_response(frame, 1)


def test_frames_after_a_failed_authentication_are_refused() -> None:
    s = CODEC.new_session(Transport.TCP)
    guarded_decode(CODEC, F.REGISTER_2013, s, NOW)
    assert guarded_decode(CODEC, F.AUTH_FOREIGN_CODE, s, NOW).rejected
    for frame in (F.LOCATION_13511221122, F.ref_frame(0x0002, F.PHONE_13511221122, 8, b"")):
        decoded = guarded_decode(CODEC, frame, s, NOW)
        assert decoded.rejected and decoded.records == []
        assert decoded.error.startswith("not authenticated:")
        assert decoded.reply == ref_general_response(frame, 1)
        assert guarded_identify(CODEC, frame, s, NOW).rejected


def test_a_code_for_another_terminal_does_not_authenticate() -> None:
    s = CODEC.new_session(Transport.TCP)
    borrowed = F.ref_frame(0x0102, F.PHONE_13511221122, 1, F.ref_code("094027587492").encode())
    assert guarded_decode(CODEC, borrowed, s, NOW).rejected
    assert guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW).rejected


def test_rotating_the_key_invalidates_codes() -> None:
    s = CODEC.new_session(Transport.TCP)
    s.context = ServerContext(auth_key=b"rotated")
    for frame in F.PREAMBLE:  # codes issued under the old key
        assert guarded_decode(CODEC, frame, s, NOW).rejected
    s = CODEC.new_session(Transport.TCP)
    s.context = ServerContext(auth_key=b"rotated")
    assert guarded_decode(CODEC, F.ref_auth_2013(F.PHONE_13511221122, key=b"rotated"), s, NOW).error is None
    assert guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW).error is None


def test_a_terminal_registering_again_must_authenticate_again() -> None:
    s = authenticated_session()
    assert guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW).error is None
    guarded_decode(CODEC, F.REGISTER_2013, s, NOW)
    assert guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW).rejected


def test_logout_ends_the_authentication() -> None:
    s = authenticated_session()
    logout = F.ref_frame(0x0003, F.PHONE_13511221122, 9, b"")
    decoded = guarded_decode(CODEC, logout, s, NOW)
    assert decoded.records == [event("13511221122", "logout")] and decoded.reply == ref_general_response(logout, 0)
    assert guarded_decode(CODEC, F.LOCATION_13511221122, s, NOW).rejected


def test_a_session_vouched_for_needs_no_authentication() -> None:
    s = CODEC.new_session(Transport.TCP)
    s.authenticated = True  # as the processors do for frames a listener accepted: they hold no key
    assert guarded_decode(CODEC, F.LOCATION_SOS, s, NOW).error is None
    assert guarded_decode(CODEC, F.ref_auth_2013(F.PHONE_13511221122, key=b"another key"), s, NOW).error is None


def test_the_listener_decodes_a_plain_session_without_crashing() -> None:
    decoded = guarded_decode(CODEC, F.LOCATION_SOS, Session(), NOW)
    assert decoded.rejected and not decoded.bug


def test_authentication_state_is_bounded() -> None:
    s = CODEC.new_session(Transport.TCP)
    for n in range(jt808.MAX_AUTHENTICATED_PER_SESSION + 10):
        phone = bytes.fromhex(f"{n:012d}")
        assert guarded_decode(CODEC, F.ref_auth_2013(phone), s, NOW).error is None
    assert len(s.terminals) == jt808.MAX_AUTHENTICATED_PER_SESSION


def envelope(frame: bytes, rejected: str | None = None):
    from schemas.envelopes import RawFrame
    return RawFrame(frame_id="c-1", received_at_ms=int(NOW.timestamp() * 1000), transport="tcp", peer="p",
                    listener_id="l", connection_id="c", data=frame, protocol="jt808", device_id="94027587492",
                    rejected=rejected)


def test_the_processors_decode_accepted_frames_and_dead_letter_refused_ones() -> None:
    from processors.decoding import decode_envelope, read_envelope
    accepted = decode_envelope(read_envelope(envelope(F.LOCATION_SOS).to_msgpack()))
    assert accepted.error is None
    assert [r.frame_id for r in accepted.records] == ["c-1"] * 3 and accepted.records[1].alarm is Alarm.SOS
    refused = decode_envelope(read_envelope(envelope(F.LOCATION_SOS, "not authenticated: x").to_msgpack()))
    assert refused.records == [] and refused.error == "rejected by the listener: not authenticated: x"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,frame", F.MALFORMED)
def test_malformed_frames_are_errors_not_bugs(label: str, frame: bytes) -> None:
    decoded = decode(frame)
    assert decoded.error and not decoded.bug and decoded.records == []


def test_a_bad_check_code_gets_no_reply() -> None:
    decoded = decode(F.MALFORMED[0][1])
    assert decoded.error.startswith("bad check code") and decoded.reply is None


def test_a_truncated_body_is_answered_message_error() -> None:
    frame = F.MALFORMED[-1][1]
    assert decode(frame).reply == ref_general_response(frame, 2)


def test_unknown_messages_are_answered_not_supported() -> None:
    frame = F.ref_frame(0x0900, F.PHONE_13511221122, 3, b"\x41hello")  # constructed: transparent uplink
    decoded = decode(frame)
    assert decoded.error == "unsupported JT/T 808 message 0x0900"
    assert decoded.reply == ref_general_response(frame, 3)


def test_sub_packaged_and_encrypted_messages_are_not_supported() -> None:
    for attributes in (0x2000, 0x0400):
        content = F.h("0200") + (attributes | 4).to_bytes(2, "big") + F.PHONE_13511221122 + F.h("0010")
        content += F.h("00010001") if attributes == 0x2000 else b""
        content += b"\0\0\0\0"
        frame = b"\x7e" + F.ref_escape(content + bytes([F.ref_xor(content)])) + b"\x7e"
        decoded = decode(frame)
        assert "is not supported" in decoded.error and decoded.records == []


# --------------------------------------------------------------------------------------------
# Detection and framing
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,frame", F.SAMPLES)
def test_detects_every_sample(label: str, frame: bytes) -> None:
    for transport in Transport:
        assert CODEC.detect(frame, transport) is Detection.MATCH
        assert CODEC.detect(frame[:2], transport) is Detection.MATCH


@pytest.mark.parametrize("head", [b"\x78\x78", b"[3G*", b"#86", b"\x00\x0f", b"GET /", b"*HQ"])
def test_other_protocols_do_not_match(head: bytes) -> None:
    assert CODEC.detect(head, Transport.TCP) is Detection.NO_MATCH


@pytest.mark.parametrize("head", [b"", b"\x7e", b"\x7e\x7e"])
def test_a_delimiter_alone_needs_more(head: bytes) -> None:
    assert CODEC.detect(head, Transport.TCP) is Detection.NEED_MORE


def frames_of(framer, data: bytes, step: int | None = None) -> list:
    out = []
    for i in range(0, len(data), step or max(len(data), 1)):
        framer.feed(data[i:i + (step or len(data))])
        while (item := framer.next()) is not None:
            out.append(item)
    return out


@pytest.mark.parametrize("label,frame", F.SAMPLES)
def test_framer_whole_bytewise_and_with_trailing_bytes(label: str, frame: bytes) -> None:
    assert frames_of(CODEC.new_framer(Transport.TCP), frame) == [Frame(frame)]
    assert frames_of(CODEC.new_framer(Transport.TCP), frame, 1) == [Frame(frame)]
    framer = CODEC.new_framer(Transport.TCP)
    assert frames_of(framer, frame + frame[:5]) == [Frame(frame)] and framer.buffered == 5


def test_back_to_back_frames_garbage_and_a_lost_delimiter() -> None:
    stream = b"$$" + F.HEARTBEAT + F.LOCATION_SOS + b"\x7e" + F.HEARTBEAT
    items = frames_of(CODEC.new_framer(Transport.TCP), stream, 3)
    assert items == [FrameError("bytes before a JT/T 808 frame start (7E)", b"$$"), Frame(F.HEARTBEAT),
                     Frame(F.LOCATION_SOS), Frame(F.HEARTBEAT)]


def test_garbage_fed_byte_by_byte_is_one_error() -> None:
    items = frames_of(CODEC.new_framer(Transport.TCP), b"x" * 100 + F.HEARTBEAT, 1)
    assert items == [FrameError("bytes before a JT/T 808 frame start (7E)", b"x" * 100), Frame(F.HEARTBEAT)]


def test_an_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    framer = CODEC.new_framer(Transport.TCP, max_frame=64)
    items = frames_of(framer, b"\x7e" + b"\x01" * 100 + F.HEARTBEAT, 7)
    assert isinstance(items[0], FrameError) and items[-1] == Frame(F.HEARTBEAT)
    assert framer.buffered == 0


def test_udp_datagram_is_framed_alone() -> None:
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(F.HEARTBEAT + F.LOCATION_SOS[:10])
    assert framer.next() == Frame(F.HEARTBEAT)
    error = framer.next()
    assert isinstance(error, FrameError) and error.data == F.LOCATION_SOS[:10]
    assert CODEC.transports == frozenset({Transport.TCP, Transport.UDP})


# --------------------------------------------------------------------------------------------
# Commands: 0x8300 text, 0x8105 control, 0x8201 locate, 0x8103 interval
# --------------------------------------------------------------------------------------------

def command_session() -> Session:
    s = CODEC.new_session(Transport.TCP)
    guarded_decode(CODEC, F.AUTH_2013, s, NOW)
    return s


def test_text_command_layout() -> None:
    # like Traccar's encoder example ("Test, Command, 123#" behind flag 01) but with this codec's flag
    frame = guarded_encode(CODEC, Command("custom", {"text": "Test, Command, 123#"}), command_session())
    body = b"\x0c" + b"Test, Command, 123#"
    assert frame == F.ref_frame(0x8300, F.PHONE_13511221122, 1, body)


def test_text_command_in_gbk_for_a_2019_terminal() -> None:
    s = CODEC.new_session(Transport.TCP)
    guarded_decode(CODEC, F.AUTH_2019, s, NOW)
    frame = guarded_encode(CODEC, Command("message", {"text": "你好"}), s)
    assert frame == F.ref_frame(0x8300, F.PHONE_2019, 1, b"\x0c\x01" + "你好".encode("gbk"), version=1)


@pytest.mark.parametrize("name,word", [("power_off", 3), ("reboot", 4), ("factory_reset", 5)])
def test_terminal_control(name: str, word: int) -> None:
    frame = guarded_encode(CODEC, Command(name), command_session())
    assert frame == F.ref_frame(0x8105, F.PHONE_13511221122, 1, bytes([word]))


def test_locate_and_interval() -> None:
    s = command_session()
    assert guarded_encode(CODEC, Command("locate"), s) == F.ref_frame(0x8201, F.PHONE_13511221122, 1, b"")
    assert guarded_encode(CODEC, Command("set_interval", {"seconds": "60"}), s) == F.ref_frame(
        0x8103, F.PHONE_13511221122, 2, F.h("01 00000029 04 0000003c"))


def test_a_location_answer_decodes() -> None:
    frame = F.ref_frame(0x0201, F.PHONE_13511221122, 11, F.h("0001") + F.LOCATION_SOS[13:-2])  # constructed
    decoded = decode(frame)
    assert decoded.error is None and decoded.reply is None
    assert decoded.records[-1].details["answered_serial"] == 1 and decoded.records[0].alarms == [Alarm.SOS]


def test_a_terminal_response_decodes_without_reply() -> None:
    frame = F.ref_frame(0x0001, F.PHONE_13511221122, 12, F.h("0001 8300 00"))  # constructed: answers 8300
    decoded = decode(frame)
    assert decoded.reply is None
    assert decoded.records == [event("13511221122", "command_result", answered_serial=1, answered_id="0x8300",
                                     result=0)]


@pytest.mark.parametrize("command", [
    Command("sos_numbers", {"numbers": "1"}), Command("custom"), Command("set_interval", {"seconds": "x"}),
    Command("set_interval", {"seconds": "0"}), Command("custom", {"text": "x" * 1100}),
])
def test_unsupported_commands_raise_only_unsupported(command: Command) -> None:
    with pytest.raises(UnsupportedCommand):
        guarded_encode(CODEC, command, command_session())


def test_a_command_before_identification_is_unsupported() -> None:
    with pytest.raises(UnsupportedCommand):
        guarded_encode(CODEC, Command("reboot"), CODEC.new_session(Transport.TCP))


# --------------------------------------------------------------------------------------------
# Fuzz
# --------------------------------------------------------------------------------------------

REAL = [frame for _, frame in F.SAMPLES] + F.PREAMBLE


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=10), st.sampled_from(list(Transport)))
def test_random_bytes_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    drive_codec(CODEC, b"\x7e" + data, chunks, transport, 256, NOW)


@settings(max_examples=300, deadline=None)
@given(mutated(REAL, b"\x7e\x7d\x00\x01\x02\xff"), st.lists(st.integers(1, 40), max_size=10),
       st.sampled_from(list(Transport)))
def test_mutated_real_frames_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    drive_codec(CODEC, data, chunks, transport, 4096, NOW)
    for frame in (data, *F.PREAMBLE[:1]):
        assert not guarded_decode(CODEC, frame, authenticated_session(), NOW).bug


def test_the_example_capture_decodes_with_the_cli() -> None:
    """examples/jt808.hex: registration, authentication with the development-key code, an SOS
    location, then a foreign code (refused)."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from trackwire.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "jt808.hex"
    result = CliRunner().invoke(main, ["decode", "--hex", str(example)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [(o["type"], o["line"]) for o in out] == [
        ("event", 1), ("reply", 1), ("event", 2), ("reply", 2),
        ("position", 3), ("alert", 3), ("event", 3), ("reply", 3), ("error", 4), ("reply", 4)]
    assert out[1]["hex"] == ref_register_answer(F.REGISTER_2013).hex()
    assert out[8]["reason"].startswith("not authenticated: wrong authentication code")
    assert out[9]["hex"] == ref_general_response(F.AUTH_FOREIGN_CODE, 1).hex()


@given(st.binary(max_size=200))
def test_check_code_is_the_xor_of_every_byte(data: bytes) -> None:
    assert jt808.check_code(data) == F.ref_xor(data)
