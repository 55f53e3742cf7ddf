"""OsmAnd codec: real requests (see frames_osmand.py for sources), HTTP framing and limits, replies
byte for byte, detection, identify, commands, the processors' decoding, fuzz."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # tests/protocols is on sys.path when pytest runs it as a plain directory (rootdir mode)
    import frames_osmand as F
except ImportError:
    from . import frames_osmand as F  # type: ignore[no-redef]
from processors.decoding import decode_envelope
from protocols.base import (
    Command,
    Decoded,
    Detection,
    Frame,
    FrameError,
    Transport,
    UnsupportedCommand,
    guarded_decode,
    guarded_encode,
    guarded_identify,
)
from protocols.osmand import CODEC, OK, OK_CLOSE, HttpRequestFramer
from protocols.osmand_report import parse_timestamp
from protocols.registry import CODECS
from schemas.alarms import Alarm
from schemas.envelopes import RawFrame
from schemas.records import Alert, Cell, Event, Position, Record, Wifi
from tests.protocols.fuzzing import drive_codec, mutated

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
SAMPLES = [frame for _, frame in F.SAMPLES]


def decode(raw: bytes) -> Decoded:
    return guarded_decode(CODEC, raw, CODEC.new_session(Transport.TCP), NOW)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pos(device_id: str, time: datetime, lat: float | None, lon: float | None, **kw) -> Position:
    return Position(protocol="osmand", device_id=device_id, time=time, valid=True, lat=lat, lon=lon, **kw)


def status(fix: Position, **details) -> Event:
    return Event(protocol="osmand", device_id=fix.device_id, time=fix.time, event="status",
                 battery_pct=fix.battery_pct, details=details)


def sos(fix: Position) -> list[Record]:
    fix.alarms = [Alarm.SOS]
    return [fix, Alert.from_fix(fix, Alarm.SOS)]


T_1377177267 = t("2013-08-22T13:14:27Z")
MINIMAL = pos("123456", T_1377177267, 60.0, 30.0)
JSON_STATE = dict(charging=False, moving=False, odometer_m=0, trigger="motionchange")
MOTIONCHANGE = pos("48241179", t("2025-06-15T13:45:12.862Z"), 37.4219983, -122.084, altitude_m=5.0,
                   speed_kmh=0.0, battery_pct=100)
MOVING = pos("8737767034", t("2021-07-21T08:06:34.444Z"), -6.1148096, 106.6837015, altitude_m=35.7,
             speed_kmh=67.212, course_deg=63.0, battery_pct=79)
IOS = pos("658765", t("2025-05-09T04:11:30.579Z"), 37.785834, -122.406417, altitude_m=0.0)
ANDROID = pos("865432109876543", t("2024-12-01T10:00:00Z"), 52.3702157, 4.8951679, speed_kmh=10.0,
              course_deg=87.5, altitude_m=12.0, battery_pct=64)
CUSTOM = pos("123456789012345", t("2017-09-07T05:56:50Z"), 40.7232948571, -74.0061408571,
             course_deg=7.19889788244, speed_kmh=74.08)
DEVICEID = pos("123456", NOW, 60.0, 30.0, speed_kmh=0.0, course_deg=0.0, altitude_m=0.0)
CLIENT9 = pos("48241179", t("2024-11-30T08:15:00Z"), -33.8688, 151.2093, altitude_m=20.0, speed_kmh=0.0,
              battery_pct=42)

EXPECTED: dict[bytes, list[Record]] = {
    F.TRACCAR_CELL_WIFI: [pos("123456", T_1377177267, None, None,
                              cells=[Cell(mcc=257, mnc=2, lac=16, cid=2224), Cell(mcc=257, mnc=2, lac=16, cid=2223, rssi=-90)],
                              wifi=[Wifi(mac="00:14:22:01:23:45", rssi=-80), Wifi(mac="00:1c:b3:09:85:15", rssi=-70)])],
    F.TRACCAR_ISO_TIME: [pos("902064", t("2016-01-27T18:55:47Z"), 42.06288, -88.23412, hdop=6.0, altitude_m=224.0,
                             speed_kmh=0.0)],
    F.TRACCAR_MS_TIME: [pos("902064", t("2015-09-12T14:38:06.579Z"), 42.06288, -88.23412, hdop=6.0,
                            altitude_m=224.0, speed_kmh=0.0)],
    F.TRACCAR_SPACE_TIME: [pos("353861053849681", t("2014-06-04T09:10:11Z"), 49.60688, 6.15788, altitude_m=384.7,
                               speed_kmh=0.0)],
    F.TRACCAR_ZEROS: [pos("123456", T_1377177267, 60.0, 30.0, speed_kmh=0.0, course_deg=0.0, altitude_m=0.0)],
    F.TRACCAR_MINIMAL: [MINIMAL],
    F.TRACCAR_DEVICEID: [DEVICEID, status(DEVICEID, vacc=0.0, hacc=0.0)],
    F.TRACCAR_BATT: [pos("861001000719969", NOW, 41.666667, -0.883333, altitude_m=350.059479, speed_kmh=0.0,
                         battery_pct=87)],
    F.TRACCAR_LOCATION: [MINIMAL],
    F.TRACCAR_CUSTOM: [CUSTOM, status(CUSTOM, ignition=True, rpm=933.0, fuel=24.0)],
    F.TRACCAR_JSON_MOTIONCHANGE: [MOTIONCHANGE, status(MOTIONCHANGE, accuracy_m=5.0, activity="still", **JSON_STATE)],
    F.TRACCAR_JSON_EXTRAS: [MOTIONCHANGE, status(
        MOTIONCHANGE, accuracy_m=5.0, activity="still", device_string_test="long_device_id", device_bool_test=True,
        device_bool_false_test=False, device_integer_test=1, device_integer_twelve_test=12,
        device_double_test=1.345, device_very_long_double_test=1763636.3442, **JSON_STATE)],
    F.TRACCAR_JSON_IOS_MOCK: [IOS, status(IOS, accuracy_m=5.0, activity="unknown", mock=True, **JSON_STATE)],
    F.TRACCAR_JSON_MOVING: [MOVING, status(MOVING, accuracy_m=3.8, activity="still", **JSON_STATE)],
    F.CHUNKED_JSON_MOVING: [MOVING, status(MOVING, accuracy_m=3.8, activity="still", **JSON_STATE)],
    F.ANDROID_POSITION: [ANDROID],
    F.ANDROID_SOS: sos(pos("865432109876543", t("2024-12-01T10:00:00Z"), 52.3702157, 4.8951679, speed_kmh=10.0,
                           course_deg=87.5, altitude_m=12.0, battery_pct=64)),
    F.OSMAND_POSITION: [pos("123456", t("2024-12-01T10:00:00Z"), 52.370216, 4.895168, hdop=4.0, altitude_m=11.5,
                            speed_kmh=3.334)],
    F.FORM_POSITION: [pos("902064", t("2015-09-12T14:38:06Z"), 42.06288, -88.23412, hdop=6.0, altitude_m=224.0,
                          speed_kmh=0.0)],
    F.CLIENT9_SOS: [*sos(CLIENT9), status(CLIENT9, accuracy_m=12.0, charging=True, moving=False, odometer_m=1520,
                                         trigger="getCurrentPosition", activity="still")],
    F.HTTP10_MINIMAL: [MINIMAL],
}
MESSAGE_TYPES = {F.FORM_POSITION: "form"} | {
    frame: "json" for frame in (F.TRACCAR_JSON_MOTIONCHANGE, F.TRACCAR_JSON_EXTRAS, F.TRACCAR_JSON_IOS_MOCK,
                                F.TRACCAR_JSON_MOVING, F.CHUNKED_JSON_MOVING, F.CLIENT9_SOS)}


def test_every_sample_has_an_expectation():
    assert set(EXPECTED) == set(SAMPLES) and len(SAMPLES) == len(set(SAMPLES))


@pytest.mark.parametrize("label,frame", F.SAMPLES, ids=[label for label, _ in F.SAMPLES])
def test_sample_decodes_to_every_field(label, frame):
    decoded = decode(frame)
    assert decoded.error is None and not decoded.bug
    assert decoded.records == EXPECTED[frame]
    assert decoded.device_id == EXPECTED[frame][0].device_id
    assert decoded.message_type == MESSAGE_TYPES.get(frame, "query")
    closing = frame is F.HTTP10_MINIMAL
    assert decoded.reply == (OK_CLOSE if closing else OK) and decoded.close is closing


def test_replies_byte_for_byte():
    assert OK == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert OK_CLOSE == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    no_id = decode(F.TRACCAR_NO_ID)
    assert no_id.reply == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Length: 34\r\n\r\nno device id (`id` or `deviceid`)\n")
    assert no_id.close is False  # the request itself was good HTTP: the connection goes on
    keep = decode(F.get(F.URI_MINIMAL, b"Connection: keep-alive\r\n", b"HTTP/1.0"))
    assert keep.reply == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    assert keep.close is False
    close = decode(F.get(F.URI_MINIMAL, F.HOST + b"Connection: close\r\n"))
    assert (close.reply, close.close, close.error) == (OK_CLOSE, True, None)


def test_traccar_speed_is_knots_json_speed_is_metres_per_second():
    assert decode(F.TRACCAR_CUSTOM).records[0].speed_kmh == 74.08  # 40 kn
    assert decode(F.TRACCAR_JSON_MOVING).records[0].speed_kmh == 67.212  # 18.67 m/s


@pytest.mark.parametrize("text,expected", [
    ("1377177267", "2013-08-22T13:14:27Z"),  # seconds below 2^31-1
    ("1442068686579", "2015-09-12T14:38:06.579Z"),  # milliseconds above
    ("2016-01-27T18:55:47Z", "2016-01-27T18:55:47Z"),
    ("2025-06-15T13:45:12.862Z", "2025-06-15T13:45:12.862Z"),
    ("2025-06-15T15:45:12+02:00", "2025-06-15T13:45:12Z"),
    ("2014-06-04 09:10:11", "2014-06-04T09:10:11Z"),
])
def test_timestamp_forms(text, expected):
    assert parse_timestamp(text) == t(expected)


# -- bad requests ------------------------------------------------------------------------------

MALFORMED_REASONS = {
    "no id, TRACCAR": "no device id",
    "lat not a number": "bad lat 'abc'",
    "lat out of range": "latitude 91.0 out of range",
    "lat after a control character": "bad lat '\\x1d60.0'",
    "lat without lon": "a latitude without a longitude",
    "bad timestamp": "bad timestamp 'yesterday'",
    "bad cell": "bad cell '257,02'",
    "no report at all": "no report in the request",
    "JSON without device_id": "without a device_id",
    "JSON not parseable": "unreadable JSON body",
    "JSON latitude a string": "JSON latitude is not a number",
    "HTTP/1.1 without Host": "bad HTTP request: Missing mandatory Host: header",
    "bad header line": "bad HTTP request",
}
BAD_HTTP = {"HTTP/1.1 without Host", "bad header line"}


@pytest.mark.parametrize("label,frame", F.MALFORMED, ids=[label for label, _ in F.MALFORMED])
def test_malformed_requests_are_decode_errors_answered_400(label, frame):
    decoded = decode(frame)
    assert decoded.records == [] and not decoded.bug
    assert MALFORMED_REASONS[label] in decoded.error
    body = decoded.error.encode() + b"\n"
    closing = label in BAD_HTTP  # h11 cannot read on after a bad head: answer, then close
    assert decoded.reply == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                             + (b"Connection: close\r\n" if closing else b"") + b"\r\n" + body)
    assert decoded.close is closing


def test_head_request_error_has_no_body():
    decoded = decode(b"HEAD /?lat=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert decoded.reply == b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


def test_unsupported_transfer_encoding_gets_h11s_501():
    decoded = decode(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert decoded.reply.startswith(b"HTTP/1.1 501 Not Implemented\r\n") and decoded.close


@pytest.mark.parametrize("body", [
    b"[" * 100_000,  # deeper than the recursion limit
    b'{"device_id":"1","location":{"coords":{"latitude":1e999,"longitude":0}}}',
    b'{"device_id":"1","location":{"coords":{"latitude":' + b"9" * 400 + b',"longitude":0}}}',
    b'{"device_id":"1","location":{"timestamp":"9999999999999999"}}',
])
def test_hostile_json_is_a_clean_decode_error(body):
    decoded = decode(F.post_json(body))
    assert decoded.error and not decoded.bug and decoded.reply.startswith(b"HTTP/1.1 400 ")


def test_records_survive_the_msgpack_encoding():
    from schemas.records import from_dict, to_dict, to_msgpack

    big = F.post_json(b'{"device_id":"1","location":{"timestamp":"2025-06-15T13:45:12.862Z","extras":{"huge":'
                      + b"9" * 25 + b',"fine":7}}}')
    records = [r for frame in SAMPLES + [big] for r in decode(frame).records]
    assert all(to_msgpack(r) for r in records)  # no int beyond 64 bits, no NaN
    assert decode(big).records[0].details == {"fine": 7}
    assert all(from_dict(to_dict(r)) == r for r in records)


# -- framing -----------------------------------------------------------------------------------

def frames_of(stream: bytes, step: int | None = None, max_frame: int = 64 * 1024) -> list[Frame | FrameError]:
    framer = HttpRequestFramer(max_frame)
    out: list[Frame | FrameError] = []
    step = step or len(stream) or 1
    for i in range(0, len(stream), step):
        framer.feed(stream[i:i + step])
        out.extend(iter(framer.next, None))
        assert framer.buffered <= max_frame
    return out


def test_all_samples_pipelined_on_one_connection_frame_in_order_whole_and_byte_by_byte():
    keep_alive = [frame for frame in SAMPLES if frame is not F.HTTP10_MINIMAL]
    stream = b"".join(keep_alive)
    for step in (None, 1, 7):
        assert frames_of(stream, step) == [Frame(frame) for frame in keep_alive]


def test_a_burst_of_pipelined_requests_in_one_read_frames_in_order_and_leaves_nothing():
    burst = [F.ANDROID_POSITION, F.CHUNKED_JSON_MOVING, F.FORM_POSITION] * 400
    framer = HttpRequestFramer()
    framer.feed(b"".join(burst))
    assert list(iter(framer.next, None)) == [Frame(frame) for frame in burst]
    assert framer.buffered == 0


def test_trailing_partial_request_waits():
    framer = HttpRequestFramer()
    framer.feed(F.TRACCAR_MINIMAL + F.ANDROID_POSITION[:30])
    assert framer.next() == Frame(F.TRACCAR_MINIMAL) and framer.next() is None
    framer.feed(F.ANDROID_POSITION[30:])
    assert framer.next() == Frame(F.ANDROID_POSITION)


def test_after_a_close_request_later_bytes_are_frame_errors():
    close = F.get(F.URI_MINIMAL, F.HOST + b"Connection: close\r\n")
    items = frames_of(close + F.TRACCAR_MINIMAL)
    assert items[0] == Frame(close)
    assert [type(i) for i in items[1:]] == [FrameError] and items[1].data == F.TRACCAR_MINIMAL
    assert "asked to close" in items[1].reason


def test_bad_head_is_one_frame_answered_400_then_nothing_more_is_read():
    bad = b"GET /?id=1 HTTP/1.1\r\n\r\n"  # no Host
    items = frames_of(bad + F.TRACCAR_MINIMAL, step=1)
    assert items[0] == Frame(bad)
    assert b"".join(i.data for i in items[1:]) == F.TRACCAR_MINIMAL
    assert all(isinstance(i, FrameError) and "Host" in i.reason for i in items[1:])
    decoded = decode(items[0].data)
    assert decoded.close and decoded.reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_declared_body_over_the_limit_hands_out_the_head_answered_413():
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    items = frames_of(head + b"{" * 300, max_frame=1024)
    assert items[0] == Frame(head)
    assert isinstance(items[1], FrameError) and items[1].data == b"{" * 300
    decoded = decode(head)
    assert (decoded.close, decoded.records) == (True, [])
    assert decoded.reply == (b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Content-Length: 50\r\nConnection: close\r\n\r\n"
                             b"HTTP request body larger than this server accepts\n")


def test_chunked_body_over_the_limit_is_cut_at_the_limit_answered_413():
    huge = F.chunked(b"x" * 3000, [100] * 29)
    items = frames_of(huge, step=50, max_frame=1024)
    assert isinstance(items[0], Frame) and items[0].data == huge[:1024]
    assert all(isinstance(i, FrameError) for i in items[1:])
    assert b"".join(i.data for i in items) == huge
    assert decode(items[0].data).reply.startswith(b"HTTP/1.1 413 ")


def test_head_over_the_limit_is_answered_431():
    long_head = b"GET /?id=1&pad=" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    items = frames_of(long_head, step=100, max_frame=1024)
    assert items[0] == Frame(long_head[:1024])
    assert decode(items[0].data).reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_content_length_body_split_across_reads():
    assert frames_of(F.FORM_POSITION, step=3) == [Frame(F.FORM_POSITION)]


# -- detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", SAMPLES)
def test_every_sample_is_detected_as_osmand_only(frame):
    assert CODEC.detect(frame, Transport.TCP) is Detection.MATCH
    assert CODEC.detect(frame, Transport.UDP) is Detection.NO_MATCH
    others = [c.name for c in CODECS if c is not CODEC and c.detect(frame, Transport.TCP) is Detection.MATCH]
    assert others == []


@pytest.mark.parametrize("head", [b"", b"G", b"GE", b"GET", b"GET ", b"POST", b"POST h", b"PUT http:/"])
def test_prefixes_need_more(head):
    assert CODEC.detect(head, Transport.TCP) is Detection.NEED_MORE


@pytest.mark.parametrize("head", [b"GET\t/", b"get /", b"GETX /", b"HELLO", b"#8602", b"[3G*", b"\x78\x78",
                                  b"SSH-2.0-OpenSSH_9.6\r\n", b"\x16\x03\x01"])
def test_non_http_does_not_match(head):
    assert CODEC.detect(head, Transport.TCP) is Detection.NO_MATCH


def _other_protocols_frames() -> list[bytes]:
    """Every other codec's samples (its frames module's SAMPLES/UDP_SAMPLES, where it has them yet),
    plus the frames tests/protocols/test_detection.py uses for each."""
    import importlib

    frames = [bytes.fromhex("78780D01012345678901234500018CDD0D0A")]  # GT06 document login
    for codec in CODECS:
        if codec is CODEC:
            continue
        module = importlib.import_module(f"tests.protocols.frames_{codec.name}")
        frames += [frame for _, frame in getattr(module, "SAMPLES", []) + getattr(module, "UDP_SAMPLES", [])]
        frames += [value for name, value in vars(module).items() if name.isupper() and isinstance(value, bytes)]
    return frames


def test_no_other_protocols_frame_is_detected_as_osmand():
    frames = _other_protocols_frames()
    assert len(frames) > 20
    for frame in frames:
        for transport in Transport:
            assert CODEC.detect(frame, transport) is Detection.NO_MATCH, frame[:40]


def test_registered_last_for_tcp_only():
    assert CODECS[-1] is CODEC and CODEC.transports == frozenset({Transport.TCP})


# -- identify, commands, processors ------------------------------------------------------------

@pytest.mark.parametrize("frame", SAMPLES + [frame for _, frame in F.MALFORMED])
def test_identify_agrees_with_decode(frame):
    decoded = decode(frame)
    identified = guarded_identify(CODEC, frame, CODEC.new_session(Transport.TCP), NOW)
    assert (identified.device_id, identified.reply, identified.error, identified.close, identified.bug) == (
        decoded.device_id, decoded.reply, decoded.error, decoded.close, decoded.bug)


def test_no_downlink():
    with pytest.raises(UnsupportedCommand, match="no downlink"):
        guarded_encode(CODEC, Command("locate"), CODEC.new_session(Transport.TCP))


def test_processors_decode_osmand_frames_into_records():
    envelope = RawFrame(frame_id="l-1-1", received_at_ms=int(NOW.timestamp() * 1000), transport="tcp",
                        peer="127.0.0.1:5000", listener_id="l", connection_id="l-1", data=F.ANDROID_SOS,
                        protocol="osmand", device_id="865432109876543")
    out = decode_envelope(envelope)
    assert out.error is None and [r.type for r in out.records] == ["position", "alert"]
    assert out.records[1].alarm is Alarm.SOS and out.records[1].frame_id == "l-1-1"
    # With no protocol on the envelope, detection finds osmand in the bytes.
    out = decode_envelope(dataclasses.replace(envelope, protocol=None))
    assert out.protocol == "osmand" and out.redetected and len(out.records) == 2


def test_sane_fixes():
    for frame in SAMPLES:
        for record in decode(frame).records:
            if isinstance(record, (Position, Alert)) and record.lat is not None:
                assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
                assert datetime(2000, 1, 1, tzinfo=UTC) <= record.time <= NOW + timedelta(days=1)


# -- fuzz --------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), chunks=st.lists(st.integers(1, 64), max_size=20))
def test_random_bytes_never_raise(data, chunks):
    drive_codec(CODEC, b"GET /?" + data, chunks, Transport.TCP, 1024, NOW)


@settings(max_examples=300, deadline=None)
@given(data=mutated(SAMPLES, b"/?&=,.:-{}[]\"\r\n 0159aZ\xff%+"), chunks=st.lists(st.integers(1, 40), max_size=12))
def test_mutated_real_requests_never_raise(data, chunks):
    drive_codec(CODEC, data, chunks, Transport.TCP, 2048, NOW)
    decoded = decode(data)
    assert not decoded.bug, decoded.error
    assert decoded.error is None or (decoded.records == [] and decoded.reply.startswith(b"HTTP/1.1 4")
                                     or decoded.reply.startswith(b"HTTP/1.1 5"))


def test_example_capture_decodes_with_the_cli():
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from trackwire.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "osmand.hex"
    result = CliRunner().invoke(main, ["decode", "--hex", str(example)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [(o["type"], o["line"]) for o in out] == [
        ("position", 1), ("reply", 1), ("position", 2), ("alert", 2), ("event", 2), ("reply", 2),
        ("error", 3), ("reply", 3)]
    assert bytes.fromhex(out[1]["hex"]) == OK and out[3]["alarm"] == "sos"
    assert bytes.fromhex(out[7]["hex"]).startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_an_empty_frame_is_refused_not_looped_on():
    # Found by the conformance fuzz run: h11 reads b"" as the end of input and answers
    # ConnectionClosed for ever; the request reader must refuse it instead of spinning.
    from protocols.base import guarded_decode
    decoded = guarded_decode(CODEC, b"", CODEC.new_session(Transport.TCP), datetime.now(timezone.utc))
    assert decoded.error and not decoded.bug and decoded.records == []
