"""Watch (SeTracker/Beesure "3G") codec: real frames (sources in frames_watch.py), replies byte for
byte, framing (whole, byte at a time, trailing bytes, wrong lengths, binary payloads), detection,
commands, and a fuzz/property test."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frames_watch as F
from protocols.base import Command, Decoded, Detection, Frame, FrameError, Transport, UnsupportedCommand, guarded_decode
from protocols.watch import CODEC, WatchSession
from tests.protocols.fuzzing import drive_codec
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Telemetry, Wifi

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
UTC = timezone.utc


def t(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def decode(raw: bytes, session: WatchSession | None = None) -> Decoded:
    return guarded_decode(CODEC, raw, session or CODEC.new_session(Transport.TCP), NOW)


def fix(device_id: str, time: datetime, valid: bool, lat: float | None, lon: float | None,
        speed: float | None, course: float | None, altitude: float | None, satellites: int, rssi: int,
        battery: int, steps: int, cells: list[Cell] = (), wifi: list[Wifi] = (), alarms: list[Alarm] = ()) -> list[Record]:
    """The Position a location frame yields, followed by one Alert per alarm."""
    position = Position(protocol="watch", device_id=device_id, time=time, valid=valid, lat=lat, lon=lon,
                        speed_kmh=speed, course_deg=course, altitude_m=altitude, satellites=satellites, rssi=rssi,
                        battery_pct=battery, steps=steps, cells=list(cells), wifi=list(wifi), alarms=list(alarms))
    return [position, *(Alert.from_fix(position, alarm) for alarm in alarms)]


def cells(mcc: int, mnc: int, *triples: tuple[int, int, int | None]) -> list[Cell]:
    return [Cell(mcc=mcc, mnc=mnc, lac=lac, cid=cid, rssi=rssi) for lac, cid, rssi in triples]


def wifi(*aps: tuple[str | None, str, int]) -> list[Wifi]:
    return [Wifi(mac=mac, rssi=rssi, ssid=ssid) for ssid, mac, rssi in aps]


def event(device_id: str, name: str, **kw) -> Event:
    return Event(protocol="watch", device_id=device_id, event=name, **kw)


def reading(device_id: str, **kw) -> Telemetry:
    return Telemetry(protocol="watch", device_id=device_id, **kw)


def check_fix_sanity(record: Record) -> None:
    """Generic sanity on every decoded fix (as Traccar's verifyDecodedPosition)."""
    if not isinstance(record, (Position, Alert)):
        return
    assert record.time is None or datetime(2000, 1, 1, tzinfo=UTC) < record.time <= NOW
    assert (record.lat is None) == (record.lon is None)
    if record.lat is not None:
        assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
        assert record.speed_kmh is None or record.speed_kmh >= 0
        assert record.course_deg is None or 0 <= record.course_deg <= 360
    assert record.battery_pct is None or 0 <= record.battery_pct <= 100
    for cell in record.cells:
        assert 0 < cell.mcc < 1000 and cell.lac >= 0 and cell.cid >= 0
    for ap in record.wifi:
        assert len(ap.mac) == 17 and ap.mac == ap.mac.lower()


# --- one expectation per real frame: records and reply, byte for byte ---------------------------

LOCATION_CASES = [
    (F.UD_SG, fix("8800000015", t(2014, 4, 22, 13, 46, 52), True, 22.571707, 113.8613968, 0.1, 0.0, 100.0, 7, 60, 90, 1000,
                  cells(460, 0, (9360, 4082, 131), (9360, 4092, 148), (9360, 4091, 143), (9360, 4153, 141))), None),
    (F.AL_SG_LOW_BATTERY, fix("8800000015", t(2014, 4, 22, 13, 46, 52), True, 22.571707, 113.8613968, 0.1, 0.0, 100.0, 7, 60,
                              90, 1000, cells(460, 0, (9360, 4082, 131), (9360, 4092, 148), (9360, 4091, 143), (9360, 4153, 141)),
                              alarms=[Alarm.LOW_BATTERY]), b"[SG*8800000015*0002*AL]"),
    (F.AL_SOS, fix("8809008845", t(2019, 12, 27, 9, 47, 44), False, None, None, None, None, None, 0, 100, 81, 0,
                   cells(460, 0, (9336, 3981, 141), (9336, 3912, 141), (9336, 3982, 140), (9765, 4233, 134), (9765, 4071, 134),
                         (9765, 4321, 134), (9336, 4353, 132)), alarms=[Alarm.SOS]), b"[3G*8809008845*0002*AL]"),
    (F.AL_FALL, fix("8308373902", t(2017, 8, 23, 9, 53, 46), True, 47.083950, 15.4821850, 7.60, 273.8, 0.0, 4, 15, 44, 0,
                    cells(232, 1, (7605, 42530, 118), (7605, 58036, 119)), alarms=[Alarm.FALL]), b"[3G*8308373902*0002*AL]"),
    (F.AL_ZJ_REMOVED, fix("689466020014198", t(2021, 11, 22, 8, 55, 15), False, None, None, None, None, None, 0, 0, 44, 0,
                          cells(460, 0, (16399, 234887445, 0)),
                          wifi(("WIFI00", "68:77:24:1b:e7:a7", -59), ("WIFI01", "68:77:24:1b:e3:30", -75),
                               ("WIFI02", "68:77:24:1b:e3:27", -75), ("WIFI03", "00:41:d2:c0:f2:f1", -76),
                               ("WIFI04", "00:41:d2:c0:f2:f0", -77), ("WIFI05", "68:77:24:1b:e3:d8", -82)),
                          alarms=[Alarm.REMOVAL]), b"[ZJ*689466020014198*0003*0002*AL]"),
    (F.AL_CUSTOMER, fix("358839237678820", t(2020, 11, 25, 8, 18, 21), False, None, None, None, None, None, 14, 100, 2, 11089,
                        cells(460, 1, (42308, 101992452, 100)),
                        wifi(("shizhou1", "44:56:e2:03:ea:2a", -69), ("FART3", "30:0d:9e:bb:fa:4d", -70),
                             ("ZKY-A209", "88:c3:97:c1:f4:7f", -73), ("ChinaNet-HNeD", "e8:84:c6:21:7c:dc", -77),
                             (None, "30:45:96:10:14:5d", -79)),
                        alarms=[Alarm.REMOVAL]), b"[3G*358839237678820*0002*AL]"),
    (F.AL_SG_NO_BITS, fix("9051004074", t(2017, 1, 12, 14, 56, 2), False, 40.058413, -76.336618, 11.519, 188.0, 99.0, 0, 1,
                          80, 0, alarms=[Alarm.GENERAL]), b"[SG*9051004074*0002*AL]"),
    (F.AL_SG_HEX_CELL, fix("9059011020", t(2023, 1, 24, 18, 16, 28), False, 54.427538, -6.409275, 0.0, 0.0, 0.0, 0, 19, 90, 0,
                           cells(234, 10, (0x55C0, 0x3B882A2, 132)), alarms=[Alarm.GENERAL]), b"[SG*9059011020*0002*AL]"),
    (F.UD2_SG_FFFF, fix("9059011020", t(2023, 1, 24, 16, 20, 11), True, 54.427621, -6.409190, 0.0, 0.0, 0.0, 8, 19, 88, 0),
     None),
    (F.AL_LTE_SOS, fix("6907919734", t(2025, 5, 17, 21, 41, 18), False, None, None, None, None, None, 0, 0, 22, 0,
                       alarms=[Alarm.SOS]), b"[3G*6907919734*0002*AL]"),
    (F.AL_LTE_FALL_DOC, fix("4504816162", t(2020, 10, 24, 8, 53, 53), False, None, None, None, None, None, 1, 100, 35, 0,
                            cells(460, 11, (30602, 125639728, 100)),
                            wifi(("4P-Touch", "bc:5f:f6:1e:07:be", -55), ("ChinaNet-a9Ld", "c4:b8:b5:c4:14:79", -53),
                                 ("ChinaNet-CX9r", "f0:92:b4:95:3d:b9", -57), ("5B", "08:31:8b:ae:ef:c8", -66),
                                 ("TP-LINK_274E", "50:bd:5f:80:27:4e", -63)),
                            alarms=[Alarm.FALL]), b"[3G*4504816162*0002*AL]"),
    (F.AL_DOC, fix("8800000015", t(2016, 9, 18, 6, 41, 53), True, 22.570512, 113.8623267, 0.0, 154.8, 0.0, 11, 100, 100, 0,
                   cells(460, 1, (9529, 21809, 155), (9529, 21242, 132), (9529, 21405, 131), (9529, 63554, 131),
                         (9529, 63555, 130), (9529, 63556, 118), (9529, 21869, 116)),
                   alarms=[Alarm.REMOVAL]), b"[3G*8800000015*0002*AL]"),
    (F.UD_DOC, fix("8800000015", t(2016, 9, 18, 2, 57, 23), True, 22.570733, 113.8626083, 0.0, 249.5, 0.0, 6, 100, 60, 0,
                   cells(460, 1, (9529, 21809, 158), (9529, 63555, 133), (9529, 63554, 129), (9529, 21405, 126),
                         (9529, 21242, 124), (9529, 21151, 120), (9529, 63556, 119))), None),
    (F.UD2_DOC, fix("8800000015", t(2016, 9, 18, 6, 40, 32), True, 22.570512, 113.8623267, 0.0, 154.8, 0.0, 11, 100, 100, 0,
                    cells(460, 1, (9529, 21809, 157), (9529, 21405, 131), (9529, 63555, 130), (9529, 21242, 129),
                          (9529, 63554, 126), (9529, 63556, 120), (9529, 21151, 113))), None),
    (F.UD_LTE, fix("2104326058", t(2021, 6, 30, 13, 51, 1), True, 32.162652, 34.888748, 30.84, 265.158, 65.621, 18, 100, 83, 0,
                   cells(425, 1, (10223, 8012811, 100)),
                   wifi(("ES4104", "22:74:1d:39:64:ff", -46), ("metropoline-wifi", "a8:3f:a1:e0:66:ba", -89),
                        ("Egged.co.il", "00:0c:42:51:cf:cd", -81))), None),
    (F.UD_WCDMA, fix("0304187088", t(2020, 7, 10, 9, 42, 2), False, None, None, None, None, None, 21, 75, 92, 0,
                     cells(425, 1, (10192, 1282125, 75)),
                     wifi(("Inet", "04:f0:21:46:1f:57", -54), ("iNetSecurity", "00:1e:42:25:2f:3e", -71),
                          ("Gilad", "58:d5:6e:9d:1b:af", -80), ("weekend", "14:ae:db:cb:99:25", -82),
                          ("advancemed1", "04:f0:21:4c:c8:3e", -89))), None),
    (F.UD2_NEGATIVE, fix("6105117105", t(2016, 7, 21, 23, 16, 1), False, -33.480366, -70.7630692, 0.0, 0.0, 0.0, 0, 100, 34, 0,
                         cells(730, 2, (29731, 54315, 167), (29731, 54316, 162), (29731, 54317, 145))), None),
    (F.UD2_WEST, fix("6430073509", t(2016, 10, 24, 8, 16, 22), False, 9.951861, -84.1422119, 0.0, 0.0, 0.0, 0, 39, 94, 0,
                     cells(712, 3, (2007, 18961, 123)),
                     wifi(("Luz", "00:23:6a:34:ee:76", -70), ("familia", "b0:c5:54:b9:90:ef", -78),
                          ("fam salas delgado", "fc:b4:e6:5d:50:ea", -81), ("QWERTY", "c8:3a:35:43:0f:e8", -93))), None),
    (F.UD_SOUTH, fix("9081000548", t(2016, 1, 11, 11, 36, 39), False, -16.479064, 68.119072, 0.7593, 0.0, 99.0, 0, 80, 80, 0,
                     cells(736, 2, (10103, 10732, 153), (10103, 11061, 152), (10103, 11012, 152), (10103, 10151, 150),
                           (10103, 10731, 143))), None),
    (F.UD_WIFI_ONLY, fix("8800000015", t(2020, 1, 1, 2, 59, 46), False, None, None, None, None, None, 0, 100, 98, 0,
                         wifi=wifi(("eduroam", "f4:db:e6:d2:a8:00", -53), ("eduroam", "f4:db:e6:da:d0:80", -79),
                                   ("eduroam", "78:0c:f0:24:f9:80", -82), ("Lions", "b0:be:76:0a:05:9a", -82),
                                   ("tubs-guest", "f4:db:e6:d2:a8:01", -53))), None),
    (F.WT, fix("6005412902", t(2017, 5, 17, 13, 38, 11), False, 18.5122, 73.7750283, 0.0, 0.0, 0.0, 0, 92, 82, 4262,
               cells(404, 22, (10125, 8301, 141), (10125, 13921, 122)),
               wifi(("Skynet", "28:c6:8e:be:87:c0", -60), ("Intel Wi-Fi", "4c:60:de:32:3d:38", -70),
                    ("Nirvanic-2", "40:e3:d6:4a:d9:c2", -73), ("A4-Guest", "40:e3:d6:4a:d9:c4", -73),
                    ("A4Idatix", "40:e3:d6:4a:d9:c3", -73))), None),
    (F.UD_ZJ, fix("014111001350304", t(2018, 3, 7, 2, 8, 27), False, None, None, None, None, None, 0, 100, 19, 1000,
                  cells(460, 0, (9346, 5223, 42))), None),
    (F.UD2_NO_NETWORK, fix("9031853319", t(2022, 3, 22, 5, 51, 5), True, 22.761162, 114.360192, 0.0, 0.0, 47.0, 14, 100, 64, 0),
     None),
    (F.UD3, fix("8308406279", t(2017, 4, 17, 19, 9, 30), False, 54.739618, 25.273213, 0.0, 323.53, 175.1, 6, 51, 83, 0,
                cells(246, 1, (200, 13242758, 51)),
                wifi(("TEO-189835", "00:8c:54:58:1d:64", -84), ("Cgates_7137", "78:54:2e:e3:71:37", -85),
                     ("ASUS", "9c:5c:8e:b8:d4:78", -93))), None),
    (F.UD_BRACKET_SSID, fix("880900242", t(2023, 6, 12, 14, 0, 20), True, 48.949273, 4.378306, 18.56, 43.8, 0.0, 12, 100, 76,
                            226120, cells(204, 8, (3110, 55025, 146), (3130, 49297, 124)),
                            wifi(("BangingWifi", "34:a1:ed:e1:91:4f", -71), ("BAR WiFi", "36:a2:e1:ed:a1:de", -72),
                                 ("NetworkWifi", "26:de:a1:ed:e1:a0", -73), ("Fiber", "36:a1:ed:e1:91:4f", -75),
                                 ("[LG_Wall-Mount A/C]e725", "66:a1:ed:e1:e7:25", -82))), None),
]

OTHER_CASES = [
    (F.LK_BARE, [event("8800000015", "heartbeat")], F.LK_BARE),
    (F.LK_FULL, [event("4700186508", "heartbeat", battery_pct=100, details={"rolls": 10}),
                 reading("4700186508", steps=0, battery_pct=100)], b"[3G*4700186508*0002*LK]"),
    (F.LK_DOC, [event("8800000015", "heartbeat", battery_pct=100, details={"rolls": 100}),
                reading("8800000015", steps=50, battery_pct=100)], b"[3G*8800000015*0002*LK]"),
    (F.LK_TWO_VALUES, [event("9081000548", "heartbeat", details={"values": "0,100"})], b"[SG*9081000548*0002*LK]"),
    (F.LK_ZJ, [event("014111001350304", "heartbeat", battery_pct=19, details={"rolls": 0}),
               reading("014111001350304", steps=0, battery_pct=19)], b"[ZJ*014111001350304*0034*0002*LK]"),
    (F.LK_IMEI, [event("352661090143150", "heartbeat", battery_pct=100, details={"rolls": 0}),
                 reading("352661090143150", steps=0, battery_pct=100)], b"[3G*352661090143150*0002*LK]"),
    (F.TKQ, [event("8800000015", "voice_query")], b"[3G*8800000015*0003*TKQ]"),
    (F.TKQ2, [event("8800000015", "voice_query")], b"[3G*8800000015*0004*TKQ2]"),
    (F.INIT, [event("8800000015", "login")], b"[3G*8800000015*0006*INIT,1]"),
    (F.CONFIG, [event("8800000015", "config", details={"TY": "G75", "UL": "600", "SY": "1", "CM": "1"})],
     b"[3G*8800000015*0008*CONFIG,1]"),
    # The reply is the 4P-Touch configuration guide's own example, byte for byte.
    (F.ICCID, [event("7103000140", "device_info", details={"iccid": "89860117851028561234"})], b"[3G*7103000140*0005*ICCID]"),
    (F.RYIMEI, [event("9705254749", "device_info", details={"imei": "861397052547492"})], b"[3G*9705254749*0006*RYIMEI]"),
    (F.BPHRT, [reading("4700609403", bp_systolic_mmhg=120, bp_diastolic_mmhg=79, heart_rate_bpm=73)],
     b"[3G*4700609403*0005*bphrt]"),
    (F.BPHRT_DOC, [reading("8800000015", bp_systolic_mmhg=112, bp_diastolic_mmhg=73, heart_rate_bpm=67)],
     b"[3G*8800000015*0005*bphrt]"),
    (F.BLOOD_ZJ, [reading("357653059860416", bp_systolic_mmhg=109, bp_diastolic_mmhg=68)], None),
    (F.PULSE, [reading("8800000015", heart_rate_bpm=72)], None),
    (F.HEART, [reading("6005412902", heart_rate_bpm=71)], None),
    (F.HEART_ZERO, [event("6005412902", "measurement_invalid", details={"type": "heart"})], None),
    (F.OXYGEN, [reading("9705141740", spo2_pct=98.0)], b"[3G*9705141740*0008*oxygen,1]"),
    (F.BTEMP2, [reading("2104326058", body_temp_c=35.29)], b"[3G*2104326058*0006*btemp2]"),
    (F.BTEMP2_HIGH_ERROR, [event("2104326058", "measurement_invalid", details={"type": "btemp2"})],
     b"[3G*2104326058*0006*btemp2]"),
    (F.TEMP_ZJ, [reading("5678901234", body_temp_c=36.5)], None),
    (F.UPLOAD_RESULT, [event("8800000015", "command_result", text="UPLOAD")], None),
    (F.CR_RESULT, [event("5678901234", "command_result", text="CR")], None),
    (F.VERNO_RESULT, [event("8800000015", "command_result", text="VERNO,G29_BASE_V1.00_2014.04.23_17.46.49")], None),
    (F.SOS1_RESULT, [event("8800000015", "command_result", text="SOS1")], None),
    (F.RCAPTURE_RESULT, [event("8308406279", "command_result", text="rcapture")], None),
    (F.TK_ACK, [event("1234567890", "command_result", text="TK,1")], None),
    (F.TK_ESCAPED, [event("1234567890", "voice", details={"bytes": 11})], b"[CS*1234567890*0004*TK,1]"),
    (F.IMG, [event("8800000015", "image", time=t(2016, 4, 29, 11, 9, 50), details={"bytes": 6, "source": "5"})], None),
]


@pytest.mark.parametrize(("raw", "records", "reply"), LOCATION_CASES + OTHER_CASES, ids=lambda v: None)
def test_decodes_real_frame(raw: bytes, records: list[Record], reply: bytes | None) -> None:
    decoded = decode(raw)
    assert decoded.error is None
    assert decoded.records == records
    assert decoded.reply == reply
    assert decoded.device_id == records[0].device_id
    assert decoded.message_type == raw.split(b"*")[-1].split(b",")[0].rstrip(b"]").decode()
    for record in decoded.records:
        check_fix_sanity(record)


def test_every_sample_has_an_expectation() -> None:
    covered = {raw for raw, _, _ in LOCATION_CASES + OTHER_CASES}
    assert set(F.ALL) <= covered


def test_voice_chunks_of_the_real_jxtk_stream() -> None:
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(F.JXTK_STREAM)
    frames = list(iter(framer.next, None))
    assert all(isinstance(f, Frame) for f in frames) and framer.buffered == 0
    session = CODEC.new_session(Transport.TCP)
    results = [decode(f.data, session) for f in frames]
    assert [r.reply for r in results] == [
        f"[ZJ*789468050042692*{index}*0007*JXTKR,1]".encode() for index in ("0034", "0035", "0036", "0037", "0038", "0039")
    ]
    assert [r.records for r in results] == [
        [event("789468050042692", "voice", details={"bytes": size, "part": part, "parts": 6, "name": "watch_7_20220526093954"})]
        for part, size in ((1, 1024), (2, 1024), (3, 1024), (4, 1024), (5, 1024), (6, 192))
    ]
    assert session.device_id == "789468050042692" and session.prefix == "ZJ" and session.index == "0039"


def test_alarm_on_a_location_frame_yields_position_and_alert_per_alarm() -> None:
    # Constructed per vendor doc Appendix I: SOS (16) + fall (21) + abnormal heart rate (22) bits.
    raw = b"[3G*8800000015*0051*UD,180916,025723,A,22.570733,N,113.8626083,E,0.00,249.5,0.0,6,100,60,0,0,00610000,0,0]"
    records = decode(raw).records
    assert [type(r) for r in records] == [Position, Alert, Alert, Alert]
    assert records[0].alarms == [Alarm.SOS, Alarm.FALL, Alarm.HEART_RATE_ABNORMAL]
    assert [r.alarm for r in records[1:]] == [Alarm.SOS, Alarm.FALL, Alarm.HEART_RATE_ABNORMAL]
    assert all(r.lat == 22.570733 and r.time == t(2016, 9, 18, 2, 57, 23) for r in records)


@pytest.mark.parametrize(("status", "alarms"), [
    ("00010000", [Alarm.SOS]), ("00020000", [Alarm.LOW_BATTERY]), ("00040000", [Alarm.GEOFENCE_EXIT]),
    ("00080000", [Alarm.GEOFENCE_ENTER]), ("00100000", [Alarm.REMOVAL]), ("00200000", [Alarm.FALL]),
    ("00400000", [Alarm.HEART_RATE_ABNORMAL]), ("80000000", [Alarm.GENERAL]),
    # AL without alarm bits: the state bits explain it (Traccar decodeAlarm bits 0-2), else general.
    ("00000002", [Alarm.GEOFENCE_EXIT]), ("00000004", [Alarm.GEOFENCE_ENTER]), ("00000010", [Alarm.GENERAL]),
])
def test_status_bits(status: str, alarms: list[Alarm]) -> None:
    content = f"AL,180916,064153,A,22.570512,N,113.8623267,E,0.00,154.8,0.0,11,100,100,0,0,{status},0,0"
    raw = f"[3G*8800000015*{len(content):04X}*{content}]".encode()  # constructed per vendor doc I.4
    assert decode(raw).records[0].alarms == alarms


def test_session_remembers_the_watch() -> None:
    session = CODEC.new_session(Transport.TCP)
    decode(F.UD_ZJ, session)
    assert (session.device_id, session.prefix, session.index) == ("014111001350304", "ZJ", "0033")
    decode(F.LK_BARE, session)
    assert (session.device_id, session.prefix, session.index) == ("8800000015", "SG", None)


# --- malformed input: a clear error, never an exception ----------------------------------------


@pytest.mark.parametrize(("raw", "message"), [
    (b"[3G*8800000015*0002*LK", "end with ']'"),
    (b"(3G*8800000015*0002*LK]", "header"),
    (b"[3G*8800000015*0002*]", "message type"),
    (b"[3G*8800000015*0006*U\xffD,1,2]", "message type"),
    (b"[3G*8800000015*0008*UD,1,2,3]", "location fields"),
    (b"[3G*8800000015*0048*UD,180916,025723,X,22.5,N,113.8,E,0,0,0,6,100,60,0,0,00000000,0,0]", "A/V"),
    (b"[3G*8800000015*0048*UD,180916,025723,A,95.5,N,113.8,E,0,0,0,6,100,60,0,0,00000000,0,0]", "latitude"),
    (b"[3G*8800000015*0048*UD,180916,025723,A,22.5,N,113.8,E,0,0,0,6,100,60,0,0,0000000G,0,0]", "status"),
    (b"[3G*8800000015*0048*UD,1809,025723,A,22.5,N,113.8,E,0,0,0,6,100,60,0,0,00000000,0,0]", "date"),
    (b"[3G*8800000015*0009*TK,AB}\x09C]", "invalid escape"),
    (b"[3G*8800000015*0008*JXTK,0,x]", "JXTK"),
    (b"[3G*8800000015*0008*img,5,x]", "img"),
])
def test_malformed_frames_give_errors(raw: bytes, message: str) -> None:
    decoded = decode(raw)
    assert decoded.records == []
    assert decoded.error is not None and message in decoded.error


def test_a_malformed_alarm_is_still_acknowledged() -> None:
    # The watch repeats an unacknowledged AL forever (vendor doc I.4); the raw frame is dead-lettered.
    decoded = decode(b"[3G*1234567890*0006*AL,foo]")
    assert decoded.error is not None and decoded.records == []
    assert decoded.reply == b"[3G*1234567890*0002*AL]"


@pytest.mark.parametrize(("raw", "reply"), [
    (b"[3G*8800000015*0009*TK,AB}\x09C]", b"[3G*8800000015*0004*TK,0]"),  # vendor doc 25: 0 = failure
    (b"[3G*8800000015*0008*JXTK,0,x]", None),
])
def test_failure_replies_for_undecodable_bodies(raw: bytes, reply: bytes | None) -> None:
    decoded = decode(raw)
    assert decoded.error is not None and decoded.reply == reply


@pytest.mark.parametrize(("raw", "reply"), [
    (b"[3G*9705141740*000B*oxygen,0,85]", b"[3G*9705141740*0008*oxygen,0]"),  # below 90 %: abnormal
    (b"[3G*9705141740*000A*oxygen,0,0]", b"[3G*9705141740*0008*oxygen,2]"),  # no reading: error
    (b"[3G*9705141740*000A*oxygen,0,x]", b"[3G*9705141740*0008*oxygen,2]"),
])
def test_oxygen_reply_carries_the_verdict(raw: bytes, reply: bytes) -> None:
    assert decode(raw).reply == reply  # constructed per vendor doc III.4


def test_unknown_message_type_is_kept_as_an_event() -> None:
    decoded = decode(b"[3G*8800000015*0009*FOO,a,b,c]")  # constructed
    assert decoded.error is None and decoded.reply is None
    assert decoded.records == [event("8800000015", "unknown", text="FOO", details={"content": "a,b,c"})]


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "verdict"), [
    (b"", Detection.NEED_MORE),
    (b"[", Detection.NEED_MORE),
    (b"[3G", Detection.NEED_MORE),
    (b"[3G*88000", Detection.NEED_MORE),
    (b"[ZJ*014111001350304*00", Detection.NEED_MORE),
    (b"[3G*8800000015*000D*", Detection.MATCH),
    (b"[ZJ*014111001350304*0034*0009*LK", Detection.MATCH),
    (F.UD_SG, Detection.MATCH),
    (b"#GTP,862000000000000,1#", Detection.NO_MATCH),  # GOTOP text
    (bytes.fromhex("78780d010359339075016807000d0a"), Detection.NO_MATCH),  # GT06 login start
    (bytes.fromhex("7979"), Detection.NO_MATCH),
    (b"GET / HTTP/1.1\r\n", Detection.NO_MATCH),
    (b"[3G*abc", Detection.NO_MATCH),
    (b"[3G**0002*LK]", Detection.NO_MATCH),
    (b"[3G*8800000015*00G2*", Detection.NO_MATCH),
    (b"[3G*123456789012345678901*", Detection.NO_MATCH),
    (b"[3_*8800000015*0002*LK]", Detection.NO_MATCH),
])
def test_detect(head: bytes, verdict: Detection) -> None:
    for transport in Transport:
        assert CODEC.detect(head, transport) is verdict


@pytest.mark.parametrize("raw", F.ALL[:10])
def test_every_prefix_of_a_real_frame_is_need_more_then_match(raw: bytes) -> None:
    verdicts = [CODEC.detect(raw[:n], Transport.TCP) for n in range(1, len(raw) + 1)]
    first_match = verdicts.index(Detection.MATCH)
    assert set(verdicts[:first_match]) == {Detection.NEED_MORE}
    assert set(verdicts[first_match:]) == {Detection.MATCH}


# --- framing --------------------------------------------------------------------------------


def frames_of(data: bytes, step: int | None = None, max_frame: int = 65536, transport: Transport = Transport.TCP) -> tuple[list[Frame | FrameError], int]:
    framer = CODEC.new_framer(transport, max_frame)
    out: list[Frame | FrameError] = []
    for start in range(0, len(data), step or max(len(data), 1)):
        framer.feed(data[start : start + (step or len(data))])
        out.extend(iter(framer.next, None))
        assert framer.buffered <= max_frame
    return out, framer.buffered


@pytest.mark.parametrize("raw", F.ALL)
@pytest.mark.parametrize("step", [None, 1, 5])
def test_every_sample_framed_whole_and_in_pieces(raw: bytes, step: int | None) -> None:
    assert frames_of(raw, step) == ([Frame(raw)], 0)


@pytest.mark.parametrize("raw", F.ALL)
@pytest.mark.parametrize("step", [None, 1])
def test_every_sample_followed_by_the_next_frame(raw: bytes, step: int | None) -> None:
    out, left = frames_of(raw + F.LK_BARE + b"[3G*88", step)
    assert out == [Frame(raw), Frame(F.LK_BARE)] and left == len(b"[3G*88")


@pytest.mark.parametrize("raw", F.EXACT_LENGTH)
def test_trailing_junk_after_a_frame_becomes_a_frame_error(raw: bytes) -> None:
    out, left = frames_of(raw + b"\r\nxyz")
    assert out == [Frame(raw), FrameError("bytes outside a frame", b"\r\nxyz")] and left == 0


@pytest.mark.parametrize("step", [None, 1, 3, 1000])
def test_jxtk_stream_in_any_chunking(step: int | None) -> None:
    out, left = frames_of(F.JXTK_STREAM, step)
    assert [len(f.data) for f in out if isinstance(f, Frame)] == [1112, 1122, 1103, 1110, 1106, 260]
    assert len(out) == 6 and left == 0 and b"".join(f.data for f in out) == F.JXTK_STREAM


def test_traccar_frame_decoder_stream() -> None:
    # TRACCAR_FRAME_TEST first case: four frames in one read.
    stream = bytes.fromhex(
        "5b33472a393730353134313734302a303030392a4c4b2c302c302c35335d5b33472a393730353134313734302a303035412a55442c3139"
        "303732332c3139303730372c412c33362e3831353130392c4e2c31302e313739323331322c452c382e32342c3132372e392c32312e302c"
        "352c3130302c35332c302c302c30303030303030302c302c302c35382e305d5b33472a393730353134313734302a303030332a544b515d"
        "5b33472a393730353134313734302a303030392a4c4b2c302c302c35335d"
    )
    for step in (None, 1):
        out, left = frames_of(stream, step)
        assert [f.data for f in out] == [
            b"[3G*9705141740*0009*LK,0,0,53]",
            b"[3G*9705141740*005A*UD,190723,190707,A,36.815109,N,10.1792312,E,8.24,127.9,21.0,5,100,53,0,0,00000000,0,0,58.0]",
            b"[3G*9705141740*0003*TKQ]",
            b"[3G*9705141740*0009*LK,0,0,53]",
        ] and left == 0


def test_garbage_before_a_frame_is_reported() -> None:
    out, _ = frames_of(b"\x00\x01junk" + F.LK_FULL)
    assert out == [FrameError("bytes outside a frame", b"\x00\x01junk"), Frame(F.LK_FULL)]


def test_a_bad_header_is_skipped_to_the_next_bracket() -> None:
    out, _ = frames_of(b"[3G*12x*0002*LK]" + F.LK_FULL)
    assert out[0] == FrameError("not a watch frame header", b"[3G*12x*0002*LK]") and out[-1] == Frame(F.LK_FULL)


def test_a_frame_cut_short_by_a_new_frame() -> None:
    # The watch rebooted mid-frame: the truncated start is reported, the next frame survives.
    cut = F.UD_DOC[:60]
    for step in (None, 1):
        out, left = frames_of(cut + F.LK_DOC, step)
        assert out == [FrameError("frame cut short by a new frame", cut), Frame(F.LK_DOC)] and left == 0


def test_a_declared_length_beyond_the_data_waits_for_it() -> None:
    # Length says more is coming and no bracket-balanced end is there yet: keep buffering.
    out, left = frames_of(b"[3G*8800000015*0010*TK,#!AMR\x01\x02")
    assert out == [] and left == 30


def test_oversized_frame_is_dropped_and_buffer_stays_bounded() -> None:
    big = b"[3G*8800000015*FFFF*TK," + b"\x01" * 600
    out, left = frames_of(big + F.LK_BARE, step=64, max_frame=256)
    errors = [o for o in out if isinstance(o, FrameError)]
    assert errors and errors[0].reason == "frame exceeds 256 bytes"
    assert out[-1] == Frame(F.LK_BARE) and left == 0


@pytest.mark.parametrize("step", [None, 1])
def test_a_complete_frame_above_max_frame_is_an_error_however_it_arrives(step: int | None) -> None:
    out, left = frames_of(F.UD_DOC + F.LK_BARE, step, max_frame=128)
    assert [type(o) for o in out][-1] is Frame and out[-1] == Frame(F.LK_BARE) and left == 0
    assert b"".join(o.data for o in out if isinstance(o, FrameError)) == F.UD_DOC


def test_udp_datagram_with_two_frames() -> None:
    out, left = frames_of(F.LK_FULL + F.UD_DOC, transport=Transport.UDP)
    assert out == [Frame(F.LK_FULL), Frame(F.UD_DOC)] and left == 0


# --- downlink commands -----------------------------------------------------------------------


def watch(prefix: str = "3G", device_id: str = "8800000015", index: str | None = None) -> WatchSession:
    return WatchSession(transport=Transport.TCP, device_id=device_id, prefix=prefix, index=index)


@pytest.mark.parametrize(("command", "session", "expected"), [
    # Byte strings from the vendor document's examples (part II; hrtstart's doc example writes the
    # length in lower case, "000a"; we send upper case, which the firmware parses alike).
    (Command("locate"), watch(device_id="5678901234"), b"[3G*5678901234*0002*CR]"),
    (Command("reboot"), watch(device_id="5678901234"), b"[3G*5678901234*0005*RESET]"),
    (Command("power_off"), watch(device_id="5678901234"), b"[3G*5678901234*0008*POWEROFF]"),
    (Command("find_device"), watch(device_id="5678901234"), b"[3G*5678901234*0004*FIND]"),
    (Command("factory_reset"), watch(), b"[3G*8800000015*0007*FACTORY]"),
    (Command("query_version"), watch(), b"[3G*8800000015*0005*VERNO]"),
    (Command("set_interval", {"seconds": "600"}), watch(), b"[3G*8800000015*000A*UPLOAD,600]"),
    (Command("sos_numbers", {"index": "1", "number": "00000000000"}), watch(), b"[3G*8800000015*0010*SOS1,00000000000]"),
    (Command("sos_numbers", {"numbers": "00000000000,00000000000,00000000000"}), watch(),
     b"[3G*8800000015*0027*SOS,00000000000,00000000000,00000000000]"),
    (Command("heart_rate_interval", {"interval": "1"}), watch(device_id="9513979338"), b"[3G*9513979338*000A*hrtstart,1]"),
    (Command("heart_rate_interval", {"interval": "300"}), watch(device_id="9513979338"), b"[3G*9513979338*000C*hrtstart,300]"),
    (Command("custom", {"text": "LZ,1,8"}), watch(), b"[3G*8800000015*0006*LZ,1,8]"),
    # The watch's own form: its prefix, and the sequence-number variant (Traccar encoder uses 0001).
    (Command("locate"), watch(prefix="ZJ", device_id="014111001350304", index="0033"), b"[ZJ*014111001350304*0001*0002*CR]"),
    (Command("locate"), WatchSession(device_id="8800000015"), b"[CS*8800000015*0002*CR]"),
])
def test_encode_command(command: Command, session: WatchSession, expected: bytes) -> None:
    assert CODEC.encode_command(command, session) == expected


def test_commands_use_what_the_watch_sent() -> None:
    session = CODEC.new_session(Transport.TCP)
    decode(F.LK_ZJ, session)
    assert CODEC.encode_command(Command("find_device"), session) == b"[ZJ*014111001350304*0001*0004*FIND]"


@pytest.mark.parametrize("command", [
    Command("open_door"),
    Command("set_interval"),
    Command("set_interval", {"seconds": "10"}),
    Command("set_interval", {"seconds": "ten"}),
    Command("sos_numbers", {"number": "12;34"}),
    Command("sos_numbers", {"index": "4", "number": "123"}),
    Command("sos_numbers", {"numbers": "1,2,3,4"}),
    Command("heart_rate_interval", {"interval": "-1"}),
    Command("custom", {"text": ""}),
    Command("custom", {"text": "CR][3G*1*0002*LK"}),
])
def test_unsupported_or_invalid_commands(command: Command) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(command, watch())


def test_no_command_before_the_watch_identified_itself() -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(Command("locate"), CODEC.new_session(Transport.TCP))


# --- property tests: nothing raises, the buffer stays bounded ------------------------------------


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        at = data.draw(st.integers(0, max(len(out) - 1, 0)))
        special = st.sampled_from(b"[]*,}0AZ\x00\xff")
        if kind == "flip" and out:
            out[at] = data.draw(st.one_of(special, st.integers(0, 255)))
        elif kind == "insert":
            out.insert(at, data.draw(st.one_of(special, st.integers(0, 255))))
        elif out:
            del out[at]
    return bytes(out)


def run_everything(data_bytes: bytes, chunks: list[int], max_frame: int) -> None:
    for transport in Transport:
        drive_codec(CODEC, data_bytes, chunks, transport, max_frame, NOW)
    decoded = guarded_decode(CODEC, data_bytes, CODEC.new_session(Transport.TCP), NOW)
    assert not decoded.bug, decoded.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 40), max_size=10), st.integers(16, 512))
def test_random_bytes_never_raise(data_bytes: bytes, chunks: list[int], max_frame: int) -> None:
    run_everything(data_bytes, chunks, max_frame)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_real_frames_never_raise(data: st.DataObject) -> None:
    frames = data.draw(st.lists(st.sampled_from(F.ALL), min_size=1, max_size=3))
    mutated = b"".join(mutate(raw, data) if data.draw(st.booleans()) else raw for raw in frames)
    chunks = data.draw(st.lists(st.integers(1, 64), max_size=12))
    run_everything(mutated, chunks, data.draw(st.sampled_from([64, 300, 65536])))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["UD", "AL", "LK", "TK", "JXTK", "img", "bphrt", "oxygen", "btemp2",
                                               "CONFIG", "BLOOD", "TEMP", "heart"]))
def test_random_bodies_under_a_valid_header_never_raise(body: bytes, message_type: str) -> None:
    content = message_type.encode() + b"," + body.replace(b"]", b"}\x03")
    raw = b"[3G*8800000015*%04X*" % len(content) + content + b"]"
    decoded = decode(raw)
    assert decoded.error is None or decoded.records == []
    framed, left = frames_of(raw)
    assert left == 0 and b"".join(f.data for f in framed) == raw


# --- network-only reports (no GNSS fix) --------------------------------------------------------


@pytest.mark.parametrize(("raw", "cells", "wifi"), [
    (F.AL_SOS, 7, 0),  # V, 00.000000,N, 0.0000000,E: seven cells
    (F.UD_WIFI_ONLY, 0, 5),  # V, 0.0,N,0.0,E: five access points, no cell
    (F.UD_WCDMA, 1, 5),
    (F.AL_LTE_FALL_DOC, 1, 5),
])
def test_a_report_without_a_fix_is_a_position_without_coordinates_that_keeps_its_network(raw, cells, wifi):
    """A watch without a GNSS fix sends `V` and zero coordinates with the cells and Wi-Fi it sees:
    a network-only report, for network location downstream (docs/topics.md)."""
    decoded = decode(raw)
    position = decoded.records[0]
    assert decoded.error is None and isinstance(position, Position)
    assert position.valid is False and position.lat is None and position.lon is None
    assert position.speed_kmh is None and position.course_deg is None and position.altitude_m is None
    assert len(position.cells) == cells and len(position.wifi) == wifi
    assert position.time is not None  # the watch's clock still dates the report


def test_identify_answers_like_decode_without_reading_the_body() -> None:
    # AL with a body that does not decode: identify (header only) and decode both acknowledge it.
    raw = b"[3G*1234567890*0006*AL,foo]"
    identified = CODEC.identify(raw, CODEC.new_session(Transport.TCP), NOW)
    assert identified.reply == decode(raw).reply == b"[3G*1234567890*0002*AL]"
    assert identified.error is None and identified.message_type == "AL" and identified.device_id == "1234567890"
    # TK's answer depends on the body (a voice message gets TK,1; the watch's own TK,1 gets nothing).
    assert CODEC.identify(F.TK_ACK, CODEC.new_session(Transport.TCP), NOW).reply is None
    assert CODEC.identify(F.TK_ESCAPED, CODEC.new_session(Transport.TCP), NOW).reply == b"[CS*1234567890*0004*TK,1]"


def test_udp_datagrams_stand_alone() -> None:
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(F.LK_FULL[:10])  # a datagram cut short: nothing more will come for it
    framer.feed(F.LK_FULL)
    out = list(iter(framer.next, None))
    assert out == [FrameError("datagram ends inside a watch frame", F.LK_FULL[:10]), Frame(F.LK_FULL)]
    assert framer.buffered == 0
