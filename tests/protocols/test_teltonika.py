"""Teltonika codec: real frames (wiki, navtrack, Traccar) decoded field by field, replies byte for
byte, CRCs against an independent reference, framing, detection against the other protocols,
Codec 12 commands, alarms, the processors' decoding and a fuzz property."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.decoding import decode_envelope
from protocols import teltonika
from protocols.base import (
    Command,
    Detection,
    Frame,
    FrameError,
    Transport,
    UnsupportedCommand,
    guarded_decode,
    guarded_encode,
    guarded_identify,
)
from protocols.registry import CODECS
from schemas.alarms import Alarm
from schemas.envelopes import RawFrame
from schemas.records import from_msgpack, to_dict, to_msgpack
from tests.protocols import frames_gotop, frames_gt06, frames_teltonika as F, frames_watch
from tests.protocols.fuzzing import drive_codec, mutated

CODEC = teltonika.CODEC
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
WIKI_DEVICE = "356307042441013"
SAMPLES = dict(F.SAMPLES)
UDP_SAMPLES = dict(F.UDP_SAMPLES)
TYPE_LETTERS = {"position": "P", "alert": "A", "telemetry": "T", "event": "E"}


def decode(frame: bytes, transport: Transport = Transport.TCP):
    session = CODEC.new_session(transport)
    if transport is Transport.TCP:
        for preamble in F.PREAMBLE:
            assert CODEC.decode(preamble, session, NOW).error is None
    return guarded_decode(CODEC, frame, session, NOW)


def plain(record) -> dict:
    out = to_dict(record)
    for key in ("type", "protocol", "device_id"):
        out.pop(key, None)
    return out


def crc16_arc_reference(data: bytes) -> int:
    """CRC-16/ARC written out bit by bit (poly 0xA001 reflected, init 0): independent of crcmod."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# --------------------------------------------------------------------------------------------
# The wiki's examples, every field as the wiki's parsed tables give it
# --------------------------------------------------------------------------------------------

def _no_fix(time: str, **extra) -> dict:
    return {"time": time, "valid": False, "satellites": 0, **extra}


def _io(time: str, details: dict, **extra) -> dict:
    return {"time": time, "event": "io", **extra, "details": details}


WIKI_CASES: dict[str, tuple[str | None, list[dict]]] = {
    "imei handshake, WIKI": ("01", [{"event": "login"}]),
    "codec 8 first example, WIKI": ("00000001", [
        _no_fix("2019-06-10T10:04:46.000Z", rssi=3),
        _io("2019-06-10T10:04:46.000Z", {"priority": 1, "event_io_id": 1, "gsm_signal": 3, "din1": True,
                                         "external_v": 24.079, "gsm_operator": 24602, "io_78": 0}, rssi=3),
    ]),
    "codec 8 second example, WIKI": ("00000001", [
        _no_fix("2019-06-10T10:05:36.000Z", rssi=3),
        _io("2019-06-10T10:05:36.000Z", {"priority": 1, "event_io_id": 1, "gsm_signal": 3, "din1": True,
                                         "external_v": 24.08}, rssi=3),
    ]),
    "codec 8 third example, WIKI": ("00000002", [
        _no_fix("2019-06-10T10:01:01.000Z"),
        _io("2019-06-10T10:01:01.000Z", {"priority": 1, "event_io_id": 1, "din1": False}),
        _no_fix("2019-06-10T10:01:19.000Z"),
        _io("2019-06-10T10:01:19.000Z", {"priority": 1, "event_io_id": 1, "din1": True}),
    ]),
    "codec 8E example, WIKI": ("00000001", [
        _no_fix("2019-06-10T11:36:32.000Z"),
        _io("2019-06-10T11:36:32.000Z", {"priority": 1, "event_io_id": 1, "din1": True, "io_17": 29,
                                         "odometer_m": 22949000, "io_11": 893700218, "io_14": 500686954}),
    ]),
    "codec 16 example, WIKI": ("00000002", [
        _no_fix("2019-07-10T12:06:54.000Z"),
        _io("2019-07-10T12:06:54.000Z", {"priority": 0, "event_io_id": 11, "generation_type": 5, "din1": False,
                                         "din3": False, "io_11": 39, "external_v": 22.074}),
        _no_fix("2019-07-10T12:06:55.000Z"),
        _io("2019-07-10T12:06:55.000Z", {"priority": 0, "event_io_id": 11, "generation_type": 5, "din1": False,
                                         "din3": False, "io_11": 38, "external_v": 22.074}),
    ]),
    "codec 12 getinfo response, WIKI": (None, [{"event": "command_result", "text": (
        "INI:2019/7/22 7:22 RTC:2019/7/22 7:53 RST:2 ERR:1 SR:0 BR:0 CF:0 FG:0 FL:0 TU:0/0 UT:0 SMS:0 "
        "NOGPS:0:30 GPS:1 SAT:0 RS:3 RF:65 SF:1 MD:0")}]),
    "codec 12 getio response, WIKI": (None, [{"event": "command_result",
                                              "text": "DI1:1 DI2:0 DI3:0 AIN1:0 AIN2:16924 DO1:0 DO2:1"}]),
}

WIKI_UDP_CASES: dict[str, tuple[str, str, list[dict]]] = {
    "codec 8 over UDP, WIKI": ("0005cafe010501", "352093086403655", [
        _no_fix("2019-06-13T06:23:26.000Z", rssi=3),
        _io("2019-06-13T06:23:26.000Z", {"priority": 1, "event_io_id": 1, "gsm_signal": 3, "din1": True,
                                         "external_v": 23.996}, rssi=3),
    ]),
    "codec 8E over UDP, WIKI": ("0005cafe010701", "352093086403655", [
        _no_fix("2019-06-13T06:25:21.000Z"),
        _io("2019-06-13T06:25:21.000Z", {"priority": 1, "event_io_id": 1, "din1": True, "io_17": 157,
                                         "odometer_m": 22949000, "io_11": 893700218, "io_14": 500686954}),
    ]),
    "codec 8 over UDP, TRACCAR": ("0005cafe012201", "357454072713975", [
        {"time": "2017-07-12T15:24:41.000Z", "valid": True, "lat": 51.630115, "lon": 0.4124566, "altitude_m": 99.0,
         "speed_kmh": 49.0, "course_deg": 109.0, "satellites": 9},
        _io("2017-07-12T15:24:41.000Z", {"priority": 0, "event_io_id": 0, "din1": False, "din2": False,
                                         "movement": True, "sleep_mode": 0, "external_v": 14.364,
                                         "gnss_speed_kmh": 50, "trip_odometer_m": 225}),
    ]),
}

# Real captures: reply, record types (P position, A alert, T telemetry, E event), first record.
CAPTURE_CASES: dict[str, tuple[str | None, str, dict]] = {
    'imei handshake, NAVTRACK': ('01', 'E', {'event': 'login'}),
    'codec 8 eighteen records, NAVTRACK': ('00000012', 'PTEPTEPTEPTEPTEPTEPTEPTEPTEPTE'
        'PTEPTEPTEPTEPTEPTEPTEPTE',
        {'time': '2008-01-01T06:12:31.560Z', 'valid': False, 'satellites': 0, 'hdop': 0.0}),
    'imei handshake, TRACCAR': ('01', 'E', {'event': 'login'}),
    'codec 8E beacons, TRACCAR': ('00000001', 'PE',
        {'time': '2023-10-12T12:29:59.011Z',
         'valid': False,
         'lat': 62.0355866,
         'lon': -6.76889,
         'altitude_m': 0.0,
         'satellites': 0}),
    'codec 8E tag battery, TRACCAR': ('00000001', 'PE',
        {'time': '2022-09-23T04:22:29.011Z',
         'valid': True,
         'lat': 54.70086,
         'lon': 25.25975,
         'altitude_m': 179.0,
         'speed_kmh': 0.0,
         'course_deg': 180.0,
         'satellites': 14}),
    'codec 8E many IO, TRACCAR': ('00000001', 'PTE',
        {'time': '2022-10-06T08:20:14.000Z',
         'valid': False,
         'lat': 50.46389,
         'lon': 30.6100635,
         'altitude_m': 0.0,
         'satellites': 0,
         'hdop': 0.0,
         'rssi': 3}),
    'codec 8 three records, TRACCAR': ('00000003', 'PTEPTEPTE',
        {'time': '2022-08-12T20:54:20.000Z',
         'valid': False,
         'lat': 55.9511166,
         'lon': 23.291255,
         'altitude_m': 0.0,
         'satellites': 0,
         'rssi': 0}),
    'codec 8 three records B, TRACCAR': ('00000003', 'PTEPTEPTE',
        {'time': '2022-03-28T04:53:34.230Z',
         'valid': True,
         'lat': 24.9484381,
         'lon': 67.1363518,
         'altitude_m': 56.0,
         'speed_kmh': 0.0,
         'course_deg': 301.0,
         'satellites': 16,
         'rssi': 3}),
    'codec 8E alarm, TRACCAR': ('00000002', 'PATEPTE',
        {'time': '2021-05-10T08:19:55.000Z',
         'valid': False,
         'lat': -33.9656016,
         'lon': 18.8357883,
         'altitude_m': 0.0,
         'satellites': 0,
         'battery_pct': 1,
         'rssi': 0,
         'alarms': ['general']}),
    'codec 8E VIN and text, TRACCAR': ('00000001', 'PTE',
        {'time': '2021-04-08T10:52:26.000Z',
         'valid': True,
         'lat': 52.0296716,
         'lon': 6.7877833,
         'altitude_m': 33.0,
         'speed_kmh': 19.0,
         'course_deg': 225.0,
         'satellites': 19,
         'rssi': 3}),
    'codec 8E two records, TRACCAR': ('00000002', 'PEPE',
        {'time': '2020-08-31T06:00:56.001Z',
         'valid': True,
         'lat': 55.365185,
         'lon': 10.2598799,
         'altitude_m': 50.0,
         'speed_kmh': 0.0,
         'course_deg': 46.0,
         'satellites': 12}),
    'codec 12 text response, TRACCAR': (None, 'E',
        {'event': 'command_result',
         'text': 'UUUUww06.4;04.2;00.0;00.0;00.0;00.0;00.0;00.0;01.3;00.0;10.7;00.0;SSS'}),
    'codec 12 binary response, TRACCAR': (None, 'E',
        {'event': 'command_result', 'details': {'data_hex': '010300010015d5c5'}}),
    'codec 8 A, TRACCAR': ('00000001', 'PTE',
        {'time': '2019-01-04T12:27:19.000Z',
         'valid': True,
         'lat': 48.1523066,
         'lon': 16.3745183,
         'altitude_m': 190.0,
         'speed_kmh': 83.0,
         'course_deg': 198.0,
         'satellites': 15,
         'rssi': 3}),
    'codec 8E VIN, TRACCAR': ('00000001', 'PTE',
        {'time': '2018-11-05T10:26:18.000Z',
         'valid': True,
         'lat': 54.6708533,
         'lon': 25.2545883,
         'altitude_m': 141.0,
         'speed_kmh': 0.0,
         'course_deg': 259.0,
         'satellites': 8,
         'hdop': 0.7,
         'rssi': 4}),
    'codec 16, TRACCAR': ('00000001', 'PE',
        {'time': '2018-07-26T20:43:43.000Z',
         'valid': True,
         'lat': -33.4379166,
         'lon': -70.64967,
         'altitude_m': 571.0,
         'speed_kmh': 0.0,
         'course_deg': 282.0,
         'satellites': 6}),
    'codec 8 many IO, TRACCAR': ('00000001', 'PTE',
        {'time': '2018-03-28T00:00:25.000Z',
         'valid': True,
         'lat': 48.2316083,
         'lon': 17.367425,
         'altitude_m': 136.0,
         'speed_kmh': 0.0,
         'course_deg': 70.0,
         'satellites': 18}),
    'codec 8 B, TRACCAR': ('00000001', 'PE',
        {'time': '2018-03-05T00:07:46.000Z',
         'valid': False,
         'lat': 25.06804,
         'lon': 55.1443366,
         'altitude_m': 0.0,
         'satellites': 0}),
    'codec 8 30 IO, TRACCAR': ('00000001', 'PTE',
        {'time': '2013-07-17T06:34:09.140Z',
         'valid': True,
         'lat': 54.6990336,
         'lon': 25.2618832,
         'altitude_m': 148.0,
         'speed_kmh': 0.0,
         'course_deg': 0.0,
         'satellites': 18,
         'hdop': 0.7,
         'rssi': 4}),
    'codec 8 four records, TRACCAR': ('00000004', 'PEPEPEPE',
        {'time': '2017-01-06T11:34:59.000Z',
         'valid': True,
         'lat': 28.5913718,
         'lon': 77.3044118,
         'altitude_m': 215.0,
         'speed_kmh': 0.0,
         'course_deg': 0.0,
         'satellites': 11}),
    'codec 12 $MSG response, TRACCAR': (None, 'E',
        {'event': 'command_result',
         'text': 'AT$MSGSND=4,"STGB40,PR,356601060265050,1604221517,1604221518,C,+023.3,0,+023.1,0,'
                 'DEACTI,0,DEACTI,0,1,0"'}),
    'codec 8 C, TRACCAR': ('00000001', 'PE',
        {'time': '2015-09-02T12:21:40.000Z',
         'valid': True,
         'lat': 25.6808615,
         'lon': 55.7956015,
         'altitude_m': -6.0,
         'speed_kmh': 0.0,
         'course_deg': 0.0,
         'satellites': 18}),
    'codec 8 D, TRACCAR': ('00000001', 'PTE',
        {'time': '2013-06-01T11:44:19.352Z',
         'valid': True,
         'lat': 55.4824704,
         'lon': 38.9190912,
         'altitude_m': 129.0,
         'speed_kmh': 0.0,
         'course_deg': 174.0,
         'satellites': 11}),
    'codec 8 E, TRACCAR': ('00000001', 'PE',
        {'time': '2013-08-31T15:00:41.710Z',
         'valid': True,
         'lat': 37.6743392,
         'lon': 21.432776,
         'altitude_m': -4.0,
         'speed_kmh': 0.0,
         'course_deg': 0.0,
         'satellites': 9}),
    'codec 12 #FM2 response, TRACCAR': (None, 'E',
        {'event': 'command_result', 'text': '#FM2=262032761721396,26203,07.02.05'}),
    'codec 8 14 IO, TRACCAR': ('00000001', 'PTE',
        {'time': '2017-09-25T03:17:54.000Z',
         'valid': True,
         'lat': 56.8255366,
         'lon': 60.4544333,
         'altitude_m': 311.0,
         'speed_kmh': 95.0,
         'course_deg': 95.0,
         'satellites': 18,
         'hdop': 0.6,
         'rssi': 3}),
    'codec 8 15 IO, TRACCAR': ('00000001', 'PTE',
        {'time': '2017-09-26T02:56:53.000Z',
         'valid': True,
         'lat': 56.9463366,
         'lon': 60.5131366,
         'altitude_m': 267.0,
         'speed_kmh': 94.0,
         'course_deg': 185.0,
         'satellites': 19,
         'hdop': 0.6,
         'rssi': 5}),
}


def test_every_sample_has_a_case() -> None:
    assert set(SAMPLES) == set(WIKI_CASES) | set(CAPTURE_CASES)
    assert set(UDP_SAMPLES) == set(WIKI_UDP_CASES)


@pytest.mark.parametrize("label", WIKI_CASES)
def test_wiki_examples_decode_field_by_field(label: str) -> None:
    reply, expected = WIKI_CASES[label]
    decoded = decode(SAMPLES[label])
    assert decoded.error is None and not decoded.bug
    assert (decoded.reply.hex() if decoded.reply else None) == reply
    assert [plain(r) for r in decoded.records] == expected
    device = "356307042441013" if label.endswith("WIKI") else None
    assert {r.device_id for r in decoded.records} == {device}


@pytest.mark.parametrize("label", WIKI_UDP_CASES)
def test_udp_datagrams_decode_and_are_acked_as_the_udp_protocol_says(label: str) -> None:
    reply, device, expected = WIKI_UDP_CASES[label]
    session = CODEC.new_session(Transport.UDP)  # no handshake: the IMEI is in the datagram
    decoded = guarded_decode(CODEC, UDP_SAMPLES[label], session, NOW)
    assert decoded.error is None and decoded.reply.hex() == reply
    assert decoded.device_id == session.device_id == device
    assert [plain(r) for r in decoded.records] == expected


def test_the_wiki_udp_reply_is_the_documented_one() -> None:
    assert decode(F.WIKI_UDP_8, Transport.UDP).reply == F.WIKI_UDP_8_REPLY


def test_udp_reply_echoes_the_not_usable_byte() -> None:
    """Constructed per the wiki's UDP header: an older revision shows 00 in the not-usable byte."""
    datagram = F.WIKI_UDP_8[:4] + b"\x00" + F.WIKI_UDP_8[5:]
    assert decode(datagram, Transport.UDP).reply == bytes.fromhex("0005cafe000501")


@pytest.mark.parametrize("label", CAPTURE_CASES)
def test_real_captures_decode(label: str) -> None:
    reply, types, first = CAPTURE_CASES[label]
    decoded = decode(SAMPLES[label])
    assert decoded.error is None and not decoded.bug
    assert (decoded.reply.hex() if decoded.reply else None) == reply
    assert "".join(TYPE_LETTERS[r.type] for r in decoded.records) == types
    assert plain(decoded.records[0]) == first
    if label.startswith("imei"):
        assert decoded.device_id == SAMPLES[label][2:].decode()


def _avl_samples() -> list[str]:
    return [label for label, frame in [*F.SAMPLES, *F.UDP_SAMPLES] if b"\x0c\x01\x06" not in frame[8:11]
            and not label.startswith("imei")]


@pytest.mark.parametrize("label", _avl_samples())
def test_first_fix_matches_an_independent_reading_of_the_gps_element(label: str) -> None:
    """struct over the wiki's offsets: timestamp 8, priority 1, lon 4, lat 4, altitude 2, angle 2,
    satellites 1, speed 2, right after codec id and number of data."""
    frame = SAMPLES.get(label) or UDP_SAMPLES[label]
    udp = label in UDP_SAMPLES
    start = (8 + frame[7] + 2) if udp else 10
    stamp, _, lon, lat, altitude, angle, satellites, speed = struct.unpack(">QBiihHBH", frame[start:start + 24])
    position = decode(frame, Transport.UDP if udp else Transport.TCP).records[0]
    assert position.type == "position"
    assert position.time == datetime.fromtimestamp(stamp / 1000, timezone.utc)
    assert position.satellites == satellites and position.valid is (satellites > 0)
    if (lat, lon) != (0, 0):
        assert (position.lat, position.lon, position.altitude_m) == (lat / 1e7, lon / 1e7, altitude)
    if satellites:
        assert (position.speed_kmh, position.course_deg) == (speed, angle)


def test_records_survive_the_wire_format() -> None:
    for frame in [*SAMPLES.values()]:
        for record in decode(frame).records:
            assert to_dict(from_msgpack(to_msgpack(record))) == to_dict(record)


# --------------------------------------------------------------------------------------------
# CRC, replies, malformed input
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label", [label for label, frame in F.SAMPLES if frame[:4] == b"\x00" * 4])
def test_sample_crc_matches_the_reference(label: str) -> None:
    frame = SAMPLES[label]
    assert int.from_bytes(frame[-4:], "big") == crc16_arc_reference(frame[8:-4]) == teltonika.crc16_ibm(frame[8:-4])


def test_navtrack_and_traccar_replies() -> None:
    """navtrack expects 01 to the handshake and the count as 4 bytes (00000012 for 18 records)."""
    assert decode(F.NAVTRACK_IMEI).reply == b"\x01"
    assert decode(F.NAVTRACK_8_EIGHTEEN).reply == bytes.fromhex("00000012")
    assert decode(F.WIKI_16).reply == bytes.fromhex("00000002")  # navtrack Codec16Tests


MALFORMED_REPLIES = {
    "codec 8, bad CRC, CONSTRUCTED": None,  # not acked: the device resends an intact copy
    "codec 8, number of data 1 and 2 differ, CONSTRUCTED": "00000001",  # CRC good: acked, dead-lettered
    "codec 8, record cut short, CONSTRUCTED": "00000001",
    "codec 13, CRC does not match, TRACCAR": None,
    "codec 16, CRC does not match, TRACCAR": None,
    "codec 8 edited, CRC does not match, TRACCAR": None,
    "codec 7, unsupported, TRACCAR": None,
    "codec 7 two records, unsupported, TRACCAR": None,
    "codec 13 response, unsupported, TRACCAR": None,
    "codec 13 getinfo, unsupported, TRACCAR": None,
}
MALFORMED_REASONS = {"bad CRC": 4, "differ": 1, "data ends after": 1, "unsupported Teltonika codec": 4}


@pytest.mark.parametrize("label,frame", F.MALFORMED)
def test_malformed_frames_are_errors_with_the_reply_policy(label: str, frame: bytes) -> None:
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(frame)
    assert framer.next() == Frame(frame)
    decoded = decode(frame)
    assert decoded.error and not decoded.bug and decoded.records == []
    assert decoded.device_id == WIKI_DEVICE
    expected = MALFORMED_REPLIES[label]
    assert (decoded.reply.hex() if decoded.reply else None) == expected
    assert guarded_identify(CODEC, frame, CODEC.new_session(Transport.TCP), NOW).reply == decoded.reply


def test_malformed_reasons_say_what_is_wrong() -> None:
    reasons = [decode(frame).error for _, frame in F.MALFORMED]
    assert {key: sum(key in r for r in reasons) for key in MALFORMED_REASONS} == MALFORMED_REASONS
    assert set(MALFORMED_REPLIES) == {label for label, _ in F.MALFORMED}


@pytest.mark.parametrize("frame", [
    b"\x00\x0f" + b"35630704244101x",  # letter in the IMEI
    bytes.fromhex("0008cafe0105000f3335"),  # UDP header cut inside the IMEI
    F.WIKI_UDP_8[:-1],  # UDP length field one byte more than the datagram
    F.WIKI_8_FIRST[:8] + b"\x08\x00",  # declares 0x36 bytes, has 2
    b"\x00\x00\x00\x00\x00\x00\x00\x03\x0c\x01\x01\x00\x00\x00\x00",  # codec 12 with a wrong CRC
])
def test_bad_envelopes_are_errors_not_crashes(frame: bytes) -> None:
    for transport in Transport:
        decoded = guarded_decode(CODEC, frame, CODEC.new_session(transport), NOW)
        identified = guarded_identify(CODEC, frame, CODEC.new_session(transport), NOW)
        assert decoded.error and not decoded.bug and decoded.reply is None
        assert identified.error and not identified.bug and identified.reply is None


def test_codec12_over_udp_is_refused() -> None:
    data = F.WIKI_12_GETIO_RESPONSE[8:-4]
    imei = b"352093086403655"
    body = b"\xca\xfe\x01\x05" + len(imei).to_bytes(2, "big") + imei + data
    decoded = decode(len(body).to_bytes(2, "big") + body, Transport.UDP)
    assert "over UDP is not supported" in decoded.error and decoded.reply is None


@pytest.mark.parametrize("label,frame", [*F.SAMPLES, *F.MALFORMED])
def test_identify_agrees_with_decode(label: str, frame: bytes) -> None:
    session_a, session_b = CODEC.new_session(Transport.TCP), CODEC.new_session(Transport.TCP)
    for preamble in F.PREAMBLE:
        CODEC.decode(preamble, session_a, NOW)
        CODEC.identify(preamble, session_b, NOW)
    decoded = guarded_decode(CODEC, frame, session_a, NOW)
    identified = guarded_identify(CODEC, frame, session_b, NOW)
    assert (identified.device_id, identified.reply) == (decoded.device_id, decoded.reply)
    assert not identified.bug


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def drain(framer) -> list:
    return list(iter(framer.next, None))


def test_tcp_stream_whole_bytewise_and_with_trailing_bytes() -> None:
    frames = [frame for _, frame in F.SAMPLES]
    stream = b"".join(frames)
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(stream)
    assert drain(framer) == [Frame(f) for f in frames] and framer.buffered == 0
    framer, out = CODEC.new_framer(Transport.TCP), []
    for index in range(len(stream)):
        framer.feed(stream[index:index + 1])
        out += drain(framer)
    assert out == [Frame(f) for f in frames] and framer.buffered == 0
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(F.WIKI_8E + F.WIKI_8_FIRST[:20])
    assert drain(framer) == [Frame(F.WIKI_8E)] and framer.buffered == 20


def test_a_zero_length_packet_is_a_frame_error_and_the_buffer_is_dropped() -> None:
    """Traccar's sample marked "invalid length and checksum": its length field is 0."""
    broken = bytes.fromhex("0000000000000000080100000113fc208dff00209cca800f14f650006f00d604000400040301011503"
                           "16030001460000015d000100000000")
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(broken)
    (error,) = drain(framer)
    assert isinstance(error, FrameError) and "0 data bytes" in error.reason and error.data == broken
    assert framer.buffered == 0


def test_an_oversized_length_is_refused_without_buffering() -> None:
    framer = CODEC.new_framer(Transport.TCP, max_frame=2048)
    framer.feed(b"\x00" * 4 + (5000).to_bytes(4, "big") + b"\x08\x01")
    (error,) = drain(framer)
    assert isinstance(error, FrameError) and "limit 2048" in error.reason and framer.buffered == 0


@pytest.mark.parametrize("label", UDP_SAMPLES)
def test_udp_framing_is_one_frame_per_datagram(label: str) -> None:
    datagram = UDP_SAMPLES[label]
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(datagram)
    framer.feed(datagram + b"\x00\x01")
    items = drain(framer)
    assert items[:2] == [Frame(datagram), Frame(datagram)]
    assert isinstance(items[2], FrameError) and items[2].data == b"\x00\x01"


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def _bytes_of(module) -> list[bytes]:
    return [value for name, value in vars(module).items() if isinstance(value, bytes) and name.isupper() and value]


@pytest.mark.parametrize("transport", list(Transport))
def test_every_sample_is_detected_as_teltonika_and_by_no_other_codec(transport: Transport) -> None:
    for frame in [*SAMPLES.values(), *UDP_SAMPLES.values(), *(f for _, f in F.MALFORMED)]:
        assert [c.name for c in CODECS if c.detect(frame, transport) is Detection.MATCH] == ["teltonika"]
        for cut in range(1, 12):
            assert CODEC.detect(frame[:cut], transport) is not Detection.NO_MATCH


@pytest.mark.parametrize("module", [frames_gt06, frames_watch, frames_gotop])
def test_no_other_protocols_frame_is_detected_as_teltonika(module) -> None:
    frames = _bytes_of(module)
    assert len(frames) > 5
    for frame in frames + [b"#" + f + b"#" for f in frames]:
        for transport in Transport:
            assert CODEC.detect(frame, transport) is not Detection.MATCH, frame[:16]


# --------------------------------------------------------------------------------------------
# Alarms and IO elements (records constructed per the wiki's Codec 8 layout)
# --------------------------------------------------------------------------------------------

def codec8_packet(event_io_id: int, one_byte_io: dict[int, int], satellites: int = 7) -> bytes:
    record = (bytes.fromhex("0000016B40D8EA30") + b"\x01" + struct.pack(">iihHBH", 253000000, 548000000, 120, 90,
                                                                         satellites, 33)
              + bytes([event_io_id, len(one_byte_io), len(one_byte_io)])
              + b"".join(bytes([k, v]) for k, v in one_byte_io.items()) + b"\x00\x00\x00")
    data = b"\x08\x01" + record + b"\x01"
    return b"\x00" * 4 + len(data).to_bytes(4, "big") + data + teltonika.crc16_ibm(data).to_bytes(4, "big")


@pytest.mark.parametrize("avl_id,value,alarm", [
    (247, 1, Alarm.ACCIDENT), (247, 6, Alarm.ACCIDENT), (252, 1, Alarm.POWER_CUT), (246, 1, Alarm.MOVEMENT),
    (249, 1, Alarm.JAMMING), (251, 1, Alarm.IDLE), (253, 1, Alarm.HARSH_ACCELERATION),
    (253, 2, Alarm.HARSH_BRAKING), (253, 3, Alarm.HARSH_CORNERING), (255, 93, Alarm.OVERSPEED),
    (155, 1, Alarm.GEOFENCE_ENTER), (155, 0, Alarm.GEOFENCE_EXIT), (236, 1, Alarm.GENERAL),
])
def test_an_event_io_element_raises_its_alarm(avl_id: int, value: int, alarm: Alarm) -> None:
    position, alert, event = decode(codec8_packet(avl_id, {avl_id: value})).records
    assert position.alarms == [alarm] and alert.alarm is alarm
    fix = (alert.lat, alert.lon, alert.speed_kmh, alert.course_deg, alert.altitude_m)
    assert fix == (54.8, 25.3, 33.0, 90.0, 120.0)
    assert event.details["event_io_id"] == avl_id


@pytest.mark.parametrize("avl_id,value", [(247, 1), (252, 1), (249, 1), (252, 0), (249, 0), (246, 0)])
def test_a_state_repeated_in_a_periodic_record_raises_nothing(avl_id: int, value: int) -> None:
    records = decode(codec8_packet(0, {avl_id: value})).records
    assert [r.type for r in records] == ["position", "event"] and records[0].alarms == []


def test_named_values_and_their_ranges() -> None:
    position, telemetry, event = decode(codec8_packet(0, {239: 1, 240: 0, 21: 4, 113: 87})).records
    assert (position.rssi, position.battery_pct, position.valid) == (4, 87, True)
    assert (telemetry.battery_pct, telemetry.rssi, telemetry.battery_v) == (87, 4, None)
    assert event.details == {"priority": 1, "event_io_id": 0, "ignition": True, "movement": False,
                             "gsm_signal": 4, "battery_pct": 87}
    position, event = decode(codec8_packet(0, {113: 160, 21: 9, 239: 2})).records  # out of range: no telemetry
    assert (position.battery_pct, position.rssi) == (None, None)
    assert event.details == {"priority": 1, "event_io_id": 0, "io_113": 160, "io_21": 9, "io_239": 2}


def test_no_fix_omits_the_placeholder_zeros() -> None:
    position = decode(codec8_packet(0, {}, satellites=0)).records[0]
    assert position.valid is False and position.lat == 54.8  # the last fix is kept, marked invalid
    assert position.speed_kmh is None and position.course_deg is None


# --------------------------------------------------------------------------------------------
# Codec 12 commands
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,packet", [
    ("getinfo", F.WIKI_12_GETINFO), ("getio", F.WIKI_12_GETIO), ("getver", F.WIKI_12_GETVER)])
def test_custom_command_is_the_wiki_packet(text: str, packet: bytes) -> None:
    session = CODEC.new_session(Transport.TCP)
    assert guarded_encode(CODEC, Command("custom", {"text": text}), session) == packet


@pytest.mark.parametrize("command,text", [
    (Command("locate"), "getgps"),
    (Command("reboot"), "cpureset"),
    (Command("set_interval", {"seconds": "30"}), "setparam 10000:30;10050:30"),
    (Command("set_interval", {"seconds": "30", "static_seconds": "600"}), "setparam 10000:600;10050:30"),
])
def test_named_commands(command: Command, text: str) -> None:
    packet = guarded_encode(CODEC, command, CODEC.new_session(Transport.TCP))
    assert packet == teltonika.command_packet(text)
    assert packet[8:11] == b"\x0c\x01\x05" and packet[15:-5] == text.encode()
    assert int.from_bytes(packet[-4:], "big") == crc16_arc_reference(packet[8:-4])


@pytest.mark.parametrize("command,transport", [
    (Command("find_device"), Transport.TCP), (Command("sos_numbers", {"numbers": "123"}), Transport.TCP),
    (Command("custom"), Transport.TCP), (Command("custom", {"text": "žinutė"}), Transport.TCP),
    (Command("set_interval", {"seconds": "0"}), Transport.TCP),
    (Command("set_interval", {"seconds": "x"}), Transport.TCP),
    (Command("locate"), Transport.UDP),
])
def test_unsupported_commands(command: Command, transport: Transport) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(command, CODEC.new_session(transport))


# --------------------------------------------------------------------------------------------
# The processors' decoding, and fuzzing
# --------------------------------------------------------------------------------------------

def test_processors_decode_a_teltonika_envelope_into_numbered_records() -> None:
    envelope = RawFrame(frame_id="l1-4-2", received_at_ms=1_760_000_000_000, transport="tcp", peer="192.0.2.1:5000",
                        listener_id="l1", connection_id="l1-4", protocol="teltonika", device_id=WIKI_DEVICE,
                        data=F.TRACCAR_8E_ALARM)
    out = decode_envelope(envelope)
    assert out.error is None and out.protocol == "teltonika" and out.device_id == WIKI_DEVICE
    assert [(r.type, r.frame_id, r.frame_index, r.device_id) for r in out.records] == [
        (kind, "l1-4-2", index, WIKI_DEVICE) for index, kind in
        enumerate(["position", "alert", "telemetry", "event", "position", "telemetry", "event"])]
    assert out.records[1].alarm is Alarm.GENERAL
    udp = RawFrame(frame_id="l1-9-1", received_at_ms=1_760_000_000_000, transport="udp", peer="192.0.2.1:5000",
                   listener_id="l1", connection_id="l1-9", protocol=None, device_id=None, data=F.WIKI_UDP_8)
    out = decode_envelope(udp)  # redetected, and the device from the datagram itself
    assert out.redetected and out.protocol == "teltonika" and out.device_id == "352093086403655"
    assert [r.type for r in out.records] == ["position", "event"]


ALPHABET = bytes([0x00, 0x01, 0x08, 0x0C, 0x0F, 0x10, 0x8E, 0xFF, 0x30, 0x39])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_samples_never_crash(data) -> None:
    frames = [f for _, f in F.SAMPLES] + [f for _, f in F.MALFORMED]
    frame = data.draw(mutated(frames, ALPHABET))
    chunks = data.draw(st.lists(st.integers(1, 64), max_size=6))
    drive_codec(CODEC, bytes(F.WIKI_IMEI) + frame, chunks, Transport.TCP, 4096, NOW)
    for transport in Transport:
        assert not guarded_decode(CODEC, frame, CODEC.new_session(transport), NOW).bug
        assert not guarded_identify(CODEC, frame, CODEC.new_session(transport), NOW).bug


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_datagrams_never_crash(data) -> None:
    frame = data.draw(mutated([f for _, f in F.UDP_SAMPLES], ALPHABET))
    drive_codec(CODEC, frame, [len(frame)], Transport.UDP, 4096, NOW)
    assert not guarded_decode(CODEC, frame, CODEC.new_session(Transport.UDP), NOW).bug


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_never_crash(raw: bytes) -> None:
    for transport in Transport:
        CODEC.detect(raw, transport)
        assert not guarded_decode(CODEC, raw, CODEC.new_session(transport), NOW).bug
        assert not guarded_identify(CODEC, raw, CODEC.new_session(transport), NOW).bug


def test_the_example_capture_decodes_with_the_cli() -> None:
    """examples/teltonika.hex: handshake, Codec 8, 8E, 16, a Codec 12 response, Traccar's alarm packet."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from trackwire.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "teltonika.hex"
    result = CliRunner().invoke(main, ["decode", "--hex", str(example)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert not [o for o in out if o["type"] == "error"]
    assert [(o["line"], o["hex"]) for o in out if o["type"] == "reply"] == [
        (1, "01"), (2, "00000001"), (3, "00000001"), (4, "00000002"), (6, "00000002")]
    assert {o["device_id"] for o in out if o["type"] != "reply"} == {WIKI_DEVICE}
    assert [o["alarm"] for o in out if o["type"] == "alert"] == ["general"]
