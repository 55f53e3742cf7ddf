"""GT06 codec: real frames (sources in frames_gt06.py), replies byte for byte, CRC, framing, detection,
commands, fuzz."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # tests/protocols is on sys.path when pytest runs it as a plain directory (rootdir mode)
    import frames_gt06 as F
except ImportError:  # ... and a package if someone adds __init__.py files
    from . import frames_gt06 as F  # type: ignore[no-redef]
from protocols import gt06
from protocols.base import (
    Command,
    Decoded,
    Detection,
    Frame,
    FrameError,
    Session,
    Transport,
    UnsupportedCommand,
    guarded_decode,
    guarded_identify,
)
from protocols.gt06 import CODEC, Gt06Session
from tests.protocols.fuzzing import drive_codec, mutated
from schemas.alarms import Alarm
from schemas.records import Alert, Ble, Cell, Event, Position, Record, Telemetry, Wifi, from_msgpack, to_msgpack

UTC = timezone.utc
NOW = datetime(2025, 1, 1, tzinfo=UTC)  # the clock of the 0x8A time reply
LATEST_SAMPLE = datetime(2026, 8, 21, tzinfo=UTC)  # newest capture: Traccar 9e5c458a's commit date
DEV = "868120000000001"  # put in the session before non-login frames, as a login would


def crc_itu_reference(data: bytes) -> int:
    """CRC-ITU bit by bit (poly 0x8408 reflected, init FFFF, result inverted), per the Concox document's
    algorithm; independent of the crcmod table the codec uses."""
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFF


def has_valid_crc(frame: bytes) -> bool:
    return crc_itu_reference(frame[2:-4]) == int.from_bytes(frame[-4:-2], "big")


def with_crc(frame_without_crc: bytes) -> bytes:
    """Append CRC and stop bytes to `start .. serial` (for frames constructed per the document)."""
    return frame_without_crc + crc_itu_reference(frame_without_crc[2:]).to_bytes(2, "big") + b"\r\n"


def session(device_id: str | None = DEV) -> Gt06Session:
    s = CODEC.new_session(Transport.TCP)
    s.device_id = device_id
    return s


def decode(raw: bytes, s: Session | None = None, now: datetime = NOW) -> Decoded:
    """Through the guard, as every caller does; a codec bug fails the test."""
    decoded = guarded_decode(CODEC, raw, s if s is not None else session(), now)
    assert not decoded.bug, decoded.error
    return decoded


def t(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def fix(time: datetime | None, valid: bool | None, lat: float | None, lon: float | None, speed: float | None,
        course: float | None, sats: int | None, **kw) -> Position:
    return Position(protocol="gt06", device_id=kw.pop("device_id", DEV), time=time, valid=valid, lat=lat, lon=lon,
                    speed_kmh=speed, course_deg=course, satellites=sats, **kw)


def cells_only(time: datetime | None, **kw) -> Position:
    return Position(protocol="gt06", device_id=DEV, time=time, **kw)


def alerted(position: Position) -> list[Record]:
    return [position, *(Alert.from_fix(position, alarm) for alarm in position.alarms)]


def info(output_cut=False, gps=False, charging=False, acc=False, armed=False) -> dict:
    """Terminal information bits 7, 6, 2, 1, 0 (document, heartbeat)."""
    return {"output_cut": output_cut, "gps_positioned": gps, "charging": charging, "acc": acc, "armed": armed}


def heartbeat(battery: int | None, rssi: int | None, details: dict) -> Event:
    return Event(protocol="gt06", device_id=DEV, event="heartbeat", battery_pct=battery, rssi=rssi, details=details)


def event(name: str, device_id: str = DEV, **kw) -> Event:
    return Event(protocol="gt06", device_id=device_id, event=name, **kw)


def telemetry(time: datetime | None = None, **kw) -> Telemetry:
    return Telemetry(protocol="gt06", device_id=DEV, time=time, **kw)


def fix_details(time: datetime | None, **details) -> Event:
    return Event(protocol="gt06", device_id=DEV, time=time, event="fix_details", details=details)


def info_event(text: str | None = None, **details) -> Event:
    return Event(protocol="gt06", device_id=DEV, event="info", text=text, details=details)


def cell(mcc: int, mnc: int, lac: int, cid: int, rssi: int | None = None) -> Cell:
    return Cell(mcc=mcc, mnc=mnc, lac=lac, cid=cid, rssi=rssi)


def assert_sane_fix(record: Record) -> None:
    """Generic sanity on every decoded fix (after Traccar ProtocolTest.verifyDecodedPosition)."""
    if not isinstance(record, (Position, Alert)):
        return
    if record.lat is not None:
        assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180
    assert record.time is None or t(2000, 1, 1) <= record.time <= LATEST_SAMPLE + timedelta(days=1)
    assert record.speed_kmh is None or 0 <= record.speed_kmh < 500
    assert record.course_deg is None or 0 <= record.course_deg <= 360
    assert record.satellites is None or 0 <= record.satellites <= 15
    assert record.battery_pct is None or 0 <= record.battery_pct <= 100


# --------------------------------------------------------------------------------------------
# One expectation per real frame: every field, the reply byte for byte
# --------------------------------------------------------------------------------------------

@dataclass
class Case:
    records: list[Record]
    reply: str | None  # hex, or None when the server must stay silent
    message_type: str
    device_id: str = DEV


CHINA_MOBILE_CELL = cell(460, 0, 10365, 8049)  # LAC 287D, CID 001F71 in the document's examples

CASES: dict[str, Case] = {
    # --- Concox document ---
    "DOC_LOGIN": Case(  # IMEI 0752533678900242, type 7000, time zone 0x3201: east +8:00, Chinese
        [event("login", "752533678900242", details={"type_id": "7000", "tz_offset_min": 480, "language": 1})],
        "7878050100059FF80D0A", "login", "752533678900242"),  # == DOC_LOGIN_REPLY
    "DOC_HEARTBEAT": Case(  # info 40 (GPS positioned), voltage level 4, GSM 4, alarm 00, language 01
        [heartbeat(67, 4, {"voltage_level": 4, "gsm_level": 4, **info(gps=True)})],
        "78780513000F008F0D0A", "status"),
    "DOC_GPS_22": Case(  # 2015-12-29 02:51:05, 9 satellites, course/status 1400: positioned, north, 0 deg
        [fix(t(2015, 12, 29, 2, 51, 5), True, 23.111693, 114.409298, 0.0, 0.0, 9, cells=[CHINA_MOBILE_CELL])],
        "787805220008A8420D0A", "gps_lbs"),
    "DOC_LBS_28": Case(  # 4 neighbour cells with RSSI 3E/31/2D/18, 3 empty slots, TA FF, language 0002
        [cells_only(t(2016, 1, 13, 2, 2, 2), cells=[
            cell(460, 0, 10365, 8049, -62), cell(460, 0, 10365, 8050, -49),
            cell(460, 0, 10365, 7715, -45), cell(460, 0, 10365, 8000, -24)])],
        "78780528000500DD0D0A", "lbs_multi"),
    "DOC_ALARM_26": Case(  # course/status 0400: not positioned; info 80; voltage 4; GSM 4; alarm 13 tamper
        alerted(fix(t(2015, 12, 29, 3, 11, 38), False, 23.111693, 114.409298, 0.0, 0.0, 9,
                    battery_pct=67, rssi=4, cells=[CHINA_MOBILE_CELL], alarms=[Alarm.TAMPER])),
        "78780526000C8D070D0A", "alarm"),
    "DOC_ALARM_27": Case(  # course 0537 = not positioned, north, 311 deg; empty LBS; alarm 0C powered on; fence FF
        alerted(fix(t(2016, 4, 25, 9, 45, 7), False, 23.111838, 114.409244, 0.0, 311.0, 5,
                    battery_pct=33, rssi=0, alarms=[Alarm.POWER_ON])),
        "7878052700001DB70D0A", "alarm"),
    "DOC_ADDRESS_2A": Case(  # course 14D8: positioned, north, 216 deg; phone number field; no reply
        [fix(t(2015, 12, 29, 7, 17, 57), True, 23.11168, 114.409244, 0.0, 216.0, 10)],
        None, "address_request"),
    "DOC_TIME_8A": Case([], "78780B8A1901010000000006576C0D0A", "time_request"),  # NOW, request serial 0006
    # --- navtrack ---
    "NAVTRACK_LOGIN": Case([event("login", "123456789012345")], "787805010001D9DC0D0A", "login",
                           "123456789012345"),  # == NAVTRACK_LOGIN_REPLY
    "NAVTRACK_CRX1_LOGIN": Case(  # type 2014, time zone 12C9: west 3:00, Chinese
        [event("login", "355929100767103", details={"type_id": "2014", "tz_offset_min": -180, "language": 1})],
        "787805010001D9DC0D0A", "login", "355929100767103"),  # navtrack expects this reply too
    "NAVTRACK_CRX1_GPS": Case(  # course 4937: not positioned, west, south, 311 deg; ACC 00 mode 0E
        [fix(t(2015, 1, 1, 0, 0, 30), False, -2.528306, -44.14108, 0.0, 311.0, 5, cells=[cell(724, 11, 6098, 15132)])],
        "78780522000750B50D0A", "gps_lbs"),
    "NAVTRACK_GV25_HEARTBEAT": Case(  # info 05 (charging, armed), voltage 6, GSM 2
        [heartbeat(100, 2, {"voltage_level": 6, "gsm_level": 2, **info(charging=True, armed=True)})],
        "78780513005398660D0A", "status"),  # == NAVTRACK_GV25_HEARTBEAT_REPLY
    "NAVTRACK_GV25_GPS": Case(
        [fix(t(2021, 12, 23, 21, 4, 2), False, -19.89046, -43.901587, 0.0, 317.0, 3,
             cells=[cell(724, 23, 1231, 11811)])],
        "78780522003542240D0A", "gps_lbs"),
    "NAVTRACK_CRX3MINI_LOGIN": Case(  # type 2014, time zone 3201: east 8:00, Chinese; serial 000F echoed
        [event("login", "355929100826875", details={"type_id": "2014", "tz_offset_min": 480, "language": 1})],
        "78780501000F30A20D0A", "login", "355929100826875"),
    "NAVTRACK_CRX3MINI_GPS": Case(  # course D941: positioned, west, south, 321 deg; 3 km/h
        [fix(t(2021, 12, 14, 15, 19, 16), True, -7.21528, -35.904102, 3.0, 321.0, 3, cells=[cell(724, 2, 20783, 31)])],
        "78780522000DFFEF0D0A", "gps_lbs"),
    "NAVTRACK_GV25_LOGIN": Case(  # time zone 12C9: west 3:00, Chinese; serial 0052 echoed
        [event("login", "355929100625814", details={"type_id": "2014", "tz_offset_min": -180, "language": 1})],
        "787805010052B9C20D0A", "login", "355929100625814"),
    # --- Traccar ---
    "TRACCAR_LOGIN_TZ": Case(  # time zone 190A: west 4:00, English
        [event("login", "864717003664467", details={"type_id": "100f", "tz_offset_min": -240, "language": 2})],
        "787805010002EB470D0A", "login", "864717003664467"),
    "TRACCAR_LOGIN_PLAIN": Case([event("login", "864717003283581")], "78780501000955940D0A", "login",
                                "864717003283581"),
    "TRACCAR_GPS_LBS_12": Case(  # Traccar: 2015-10-20 14:21:11, valid, 54.94535, 24.01762
        [fix(t(2015, 10, 20, 14, 21, 11), True, 54.945347, 24.017622, 0.0, 0.0, 5, cells=[cell(246, 1, 110, 21978)])],
        "787805120003903F0D0A", "gps_lbs"),
    "TRACCAR_GPS_LBS_12_MOVING": Case(  # 32 km/h, course D502: positioned, north, east, 258 deg
        [fix(t(2015, 8, 27, 18, 29, 55), True, 16.634709, 80.967076, 32.0, 258.0, 11,
             cells=[cell(404, 7, 470, 41241)])],
        "787805120576CAAD0D0A", "gps_lbs"),
    "TRACCAR_GPS_10": Case(  # course 1800: positioned, west, south
        [fix(t(2014, 1, 9, 3, 35, 14), True, -34.304377, -58.975278, 0.0, 0.0, 8)],
        "78780510007247890D0A", "gps"),
    "TRACCAR_GPS_LBS_11": Case(  # 2-byte MNC 02D0 = 720, 4-byte cell ID
        [fix(t(2021, 11, 11, 2, 44, 48), True, 43.970484, -79.263956, 0.0, 0.0, 8,
             cells=[cell(302, 720, 30175, 8685836)])],
        "78780511000628F60D0A", "gps_lbs"),
    "TRACCAR_GPS_LBS_22": Case(
        [fix(t(2018, 6, 22, 8, 56, 23), True, 47.06884, 15.441043, 0.0, 292.0, 5, cells=[cell(232, 1, 7615, 13106)])],
        "787805220048EA460D0A", "gps_lbs"),
    "TRACCAR_GPS_LBS_22_NO_FIX": Case(  # zero coordinates: none; MCC 8136 = 310 with a 2-byte MNC
        [fix(t(2017, 12, 7, 15, 27, 2), False, None, None, 0.0, 0.0, 0, cells=[cell(310, 260, 52106, 48883)])],
        "78780522000573A70D0A", "gps_lbs"),
    "TRACCAR_GPS_1E": Case(
        [fix(t(2014, 3, 17, 11, 5, 17), True, -16.543998, -68.074275, 2.0, 166.0, 5)],
        "7878051E01203FDD0D0A", "gps"),
    "TRACCAR_STATUS": Case(  # info 44, voltage 6, GSM 4, alarm 00, language 02
        [heartbeat(100, 4, {"voltage_level": 6, "gsm_level": 4, **info(gps=True, charging=True)})],
        "7878051301BAFB710D0A", "status"),
    "TRACCAR_STATUS_VARIANT": Case(  # 16 content bytes in another layout: only the info byte is read
        [heartbeat(None, None, {"variant_length": 16, **info()})],
        "787805135EE410B50D0A", "status"),
    "TRACCAR_HEARTBEAT_23": Case(  # info C0, 0122 = 2.90 V, GSM 4
        [heartbeat(None, 4, {"battery_v": 2.9, "gsm_level": 4, **info(output_cut=True, gps=True)}),
         telemetry(battery_v=2.9)],
        "787805230008F29E0D0A", "heartbeat"),
    "TRACCAR_ALARM_VIBRATION": Case(  # info 48 (vibration bits) and alarm 03
        alerted(fix(t(2015, 12, 29, 10, 43, 33), True, 23.111682, 114.409253, 0.0, 111.0, 8,
                    battery_pct=67, rssi=4, cells=[CHINA_MOBILE_CELL], alarms=[Alarm.VIBRATION])),
        "78780516001C1B280D0A", "alarm"),
    "TRACCAR_ALARM_POWER_CUT": Case(  # info 50 (power cut bits), GSM byte 64 is no level, alarm 02
        alerted(fix(t(2016, 5, 27, 15, 28, 52), True, -19.991585, -43.904117, 7.0, 8.0, 5,
                    battery_pct=100, cells=[cell(724, 2, 11231, 40122)], alarms=[Alarm.POWER_CUT])),
        "787805160067D67C0D0A", "alarm"),
    "TRACCAR_ALARM_OVERSPEED": Case(  # 88 km/h, alarm 06
        alerted(fix(t(2017, 8, 25, 17, 2, 8), True, 27.466647, 76.043698, 88.0, 199.0, 4,
                    battery_pct=100, rssi=4, cells=[cell(404, 70, 211, 49301)], alarms=[Alarm.OVERSPEED])),
        "7878051601409A190D0A", "alarm"),
    "TRACCAR_ALARM_ZERO_LBS": Case(  # info 7E (bits 111: removal), voltage 6, GSM 1B (no level), alarm 09
        alerted(fix(t(2020, 5, 28, 21, 2, 4), True, 22.991977, 113.383277, 83.0, 175.0, 12,
                    battery_pct=100, alarms=[Alarm.REMOVAL, Alarm.MOVEMENT])),
        "78780516004B3D120D0A", "alarm"),
    "TRACCAR_ALARM_REMOVAL": Case(  # info 7C: removal (Traccar ALARM_REMOVING); 0x55 = 85 %; MCC 0 cell dropped
        alerted(fix(t(2019, 2, 12, 18, 20, 26), True, 23.058384, 113.380546, 0.0, 0.0, 5,
                    battery_pct=85, rssi=3, alarms=[Alarm.REMOVAL])),
        "787805160002E2D70D0A", "alarm"),
    "TRACCAR_ALARM_26": Case(  # course 4403: not positioned, 3 deg; info 0C + alarm 03: vibration
        alerted(fix(t(2018, 3, 12, 6, 56, 22), False, 22.575833, 113.915653, 1.0, 3.0, 3,
                    battery_pct=100, rssi=4, cells=[cell(460, 0, 10342, 3822)], alarms=[Alarm.VIBRATION])),
        "78780526000D9C8E0D0A", "alarm"),
    "TRACCAR_ALARM_27": Case(  # LBS length 0A (2-byte MNC), alarm 0C powered on, fence FF
        alerted(fix(t(2017, 12, 11, 14, 23, 15), True, 40.196205, -74.14239, 0.0, 126.0, 5,
                    battery_pct=100, rssi=3, cells=[cell(310, 260, 52106, 48883)], alarms=[Alarm.POWER_ON])),
        "7878052700032F2C0D0A", "alarm"),
    "TRACCAR_ALARM_A4": Case(  # 4G: LAC 4 bytes, cell ID 8 bytes; alarm 11 powered off
        alerted(fix(t(2017, 12, 12, 2, 40, 27), True, 22.576988, 113.916893, 0.0, 156.0, 6,
                    battery_pct=83, rssi=4, cells=[cell(460, 1, 9742, 102103041)], alarms=[Alarm.POWER_OFF])),
        "787805A40010EEBE0D0A", "alarm"),
    "TRACCAR_LBS_ALARM_SOS": Case(  # 0x19: info 20 (SOS bits), voltage 3, GSM 4, alarm 01 SOS
        alerted(cells_only(None, battery_pct=50, rssi=4, cells=[cell(655, 10, 10721, 14065)], alarms=[Alarm.SOS])),
        "787805190008074A0D0A", "lbs_alarm"),
    "TRACCAR_LBS_ALARM_A5": Case(  # 4G LBS, no alarm
        [cells_only(None, battery_pct=83, rssi=4, cells=[cell(460, 0, 37265, 151394051)])],
        "787805A50005F34E0D0A", "lbs_alarm"),
    "TRACCAR_LBS_EXTEND_18": Case(
        [cells_only(t(2016, 12, 15, 18, 1, 1), cells=[
            cell(405, 39, 6020, 23222, -54), cell(405, 39, 6020, 762, -71), cell(405, 39, 6020, 65423, -72),
            cell(405, 39, 6020, 6643, -73), cell(405, 39, 6020, 23221, -75), cell(405, 39, 6020, 65422, -76),
            cell(405, 39, 6020, 6642, -76)])],
        "787805180122CA160D0A", "lbs_multi"),
    "TRACCAR_WIFI_LBS_2C": Case(  # 7 cells, one access point with signal 38 = -56 dBm
        [cells_only(t(2017, 3, 11, 1, 28, 31), cells=[
            cell(310, 4, 52106, 45431, -84), cell(310, 4, 52106, 48883, -87), cell(310, 4, 52106, 46911, -95),
            cell(310, 4, 52105, 45282, -95), cell(310, 4, 52105, 46693, -95), cell(310, 4, 52106, 46921, -96),
            cell(310, 4, 52106, 45432, -98)], wifi=[Wifi(mac="00:18:01:eb:40:39", rssi=-56)])],
        "7878052C00BB3F490D0A", "wifi_lbs"),
    "TRACCAR_LBS_A1": Case(  # the same 4G cell in all 7 slots: kept once
        [cells_only(t(2017, 11, 4, 19, 9, 56), cells=[cell(460, 1, 9724, 102285570, -1)])],
        "787805A10005902F0D0A", "lbs_multi"),
    "TRACCAR_WIFI_LBS_A2": Case(  # GK310: 8 access points, signal as a signed byte (D7 = -41 dBm)
        [cells_only(t(2017, 11, 6, 3, 32, 21), cells=[cell(460, 1, 9550, 102103044, 0)], wifi=[
            Wifi(mac="f4:83:cd:4d:f4:c0", rssi=-41), Wifi(mac="50:bd:5f:8b:c5:ce", rssi=-49),
            Wifi(mac="b0:d5:9d:af:b4:59", rssi=-51), Wifi(mac="a8:57:4e:84:24:c6", rssi=-52),
            Wifi(mac="50:bd:5f:6c:7e:1c", rssi=-55), Wifi(mac="b0:d5:9d:8a:a7:18", rssi=-55),
            Wifi(mac="00:87:36:30:40:e0", rssi=-56), Wifi(mac="34:96:72:7b:4d:e4", rssi=-57)])],
        "787805A2002994250D0A", "wifi_lbs"),
    "TRACCAR_STRING_ICCID": Case(
        [event("command_result", text="<ICCID:89882390000097302650>",
               details={"server_flag": 0, "iccid": "89882390000097302650"})],
        "787805150D449AF90D0A", "command_result"),
    "TRACCAR_STRING_RESULT": Case(
        [event("command_result", text="Cut off the fuel supply: Success!", details={"server_flag": 0})],
        "78780515013BB8290D0A", "command_result"),
    "TRACCAR_STRING_INFO_UTF16": Case(
        [event("command_result", text="Command error!", details={"server_flag": 0})], None, "command_result"),
    "TRACCAR_STRING_INFO_POSITION": Case(
        [event("command_result", details={"server_flag": 0}, text=(
            "Current position!Lat:N54.739332,Lon:E25.273270,Course:126.53,Speed:0.0000,DateTime:2017-05-26  10:27:47")),
         fix(t(2017, 5, 26, 10, 27, 47), True, 54.739332, 25.27327, 0.0, 126.53, None)],
        None, "command_result"),
    "TRACCAR_INFO_SHORT": Case([event("info", details={"external_v": 12.59})], None, "info"),
    "TRACCAR_INFO_VOLTAGE": Case([event("info", details={"info_type": 0, "external_v": 2.37})], None, "info"),
    "TRACCAR_INFO_ICCID": Case(
        [event("info", details={"info_type": 10, "imsi": "706010490040278", "iccid": "8950301217070401538"})],
        None, "info"),
    "TRACCAR_INFO_STATUS_SYNC": Case(
        [event("info", details={"info_type": 4}, text=(
            "ALM1=45;ALM2=D5;ALM3=55;STA1=40;DYD=01;SOS=0585061567,,;CENTER=;"
            "FENCE=Fence,OFF,0,0.000000,0.000000,300,IN or OUT,0;ICCID=8997103101008959042F;MODE=MODE,1,180;"))],
        None, "info"),
    "TRACCAR_INFO_DOOR": Case(
        [event("info", details={"info_type": 5, "door": False, "trigger_high": False, "io_high": False})],
        None, "info"),
    "TRACCAR_INFO_RFID_BINARY": Case(  # not text: kept as hex
        [event("info", details={"info_type": 27, "data_hex": "02084277efef3503"})], None, "info"),
    # 365GPS-style frames, no serial/CRC. Replies: Traccar's (0x69/0x17 with the BCD time); the generic
    # ack with serial 0 for 0x01/0x10/0x11 is the shape Traccar answers with, not confirmed by a document.
    "TRACCAR_365_LOGIN": Case([event("login", "359339075005244", details={"software_version": 52})],
                              "787805010000C8550D0A", "login", "359339075005244"),
    "TRACCAR_365_GPS": Case([fix(t(2017, 9, 28, 11, 27, 41), True, 51.4469, 5.521723, 0.0, 82.0, 9)],
                            "787805100000171C0D0A", "gps"),
    "TRACCAR_365_HEARTBEAT": Case([event("heartbeat")], None, "heartbeat"),
    "TRACCAR_365_WIFI_69": Case(
        [cells_only(t(2016, 4, 13, 3, 18, 49), cells=[
            cell(460, 0, 10342, 3873, -50), cell(460, 0, 10342, 3871, -40), cell(460, 0, 10342, 3752, -30),
            cell(460, 0, 10342, 4211, -20), cell(460, 0, 10342, 3872, -20)], wifi=[
            Wifi(mac="14:75:90:5b:d3:0e", rssi=-37), Wifi(mac="00:1e:10:bb:f7:63", rssi=-93),
            Wifi(mac="14:75:90:06:e6:26", rssi=-86)])],
        "787800691604130318490D0A", "wifi_lbs"),
    "TRACCAR_365_WIFI_17": Case(
        [cells_only(t(2019, 1, 19, 10, 54, 36), cells=[
            cell(655, 1, 188, 11881, -90), cell(655, 1, 188, 45923, -90), cell(655, 1, 188, 10181, -100),
            cell(655, 1, 188, 17531, -100), cell(655, 1, 188, 18121, -100), cell(655, 1, 188, 13262, -100),
            cell(655, 1, 188, 25802, -100)])],
        "787800171901191054360D0A", "wifi_lbs"),
    # --- Traccar fork ---
    "FORK_GPS_LBS_A0": Case(  # 4G position, course 087C: not positioned, west, south, 124 deg
        [fix(t(2023, 7, 21, 15, 45, 14), False, -12.936676, -38.396418, 0.0, 124.0, 13,
             cells=[cell(724, 2, 37166, 119044493)])],
        "787805A006EDF5650D0A", "gps_lbs"),
    "FORK_ALARM_SOS_SEEWORLD": Case(  # Traccar: ALARM_SOS; battery byte 3E is a percentage
        alerted(fix(t(2023, 9, 19, 15, 58, 45), True, 25.827437, -80.376458, 0.0, 33.0, 12,
                    battery_pct=62, cells=[cell(310, 4, 33278, 107846403)], alarms=[Alarm.SOS])),
        "78780516035F41DF0D0A", "alarm"),
    "FORK_ALARM_SOS_VXT01": Case(  # Traccar: ALARM_SOS, from the terminal info bits 100
        alerted(fix(t(2023, 7, 10, 21, 14, 36), True, 18.482064, -69.937133, 0.0, 0.0, 10,
                    battery_pct=67, cells=[cell(370, 2, 21302, 10203)], alarms=[Alarm.SOS])),
        "78780516004B3D120D0A", "alarm"),
    "FORK_ALARM_BATTERY_93": Case(  # Traccar: battery level 93; alarm 13 tamper
        alerted(fix(t(2023, 10, 8, 12, 14, 36), False, 23.168665, 113.433458, 0.0, 334.0, 0,
                    battery_pct=93, cells=[cell(460, 0, 9475, 53012384)], alarms=[Alarm.TAMPER])),
        "787805161EC33AD30D0A", "alarm"),
    "FORK_STATUS_36": Case(  # modules 0032 startup, 0018 = 4.02 V, 006A = 95 %
        [heartbeat(95, 4, {"voltage_level": 5, "gsm_level": 4, "battery_v": 4.02, **info()}),
         telemetry(battery_v=4.02, battery_pct=95)],
        "7878053603248FB00D0A", "status"),
    "FORK_LBS_ALARM_A5_TAMPER": Case(  # Traccar: ALARM_TAMPERING (13)
        alerted(cells_only(None, battery_pct=83, rssi=4, cells=[cell(302, 208, 30175, 9987605)],
                           alarms=[Alarm.TAMPER])),
        "787805A5001929A30D0A", "lbs_alarm"),
    "FORK_INFO_NETWORK": Case([event("info", details={"info_type": 11, "network": "4G"})], None, "info"),
    "FORK_INFO_RFID_WITH_CRLF": Case([event("info", details={"info_type": 27}, text="RFID:008FB2BEBA39")],
                                     None, "info"),
    "FORK_365_GPS_11": Case([fix(t(2023, 1, 3, 16, 14, 31), True, 46.016713, 6.17124, 0.0, 16.0, 9)],
                            "7878051100004DC00D0A", "gps"),
    "FORK_ALARM_A4_LOW_BATTERY": Case(  # alarm 19 low internal battery, 1-byte MNC
        alerted(fix(t(2021, 8, 23, 7, 59, 16), True, 29.670202, 106.49152, 0.0, 276.0, 15,
                    battery_pct=83, rssi=4, cells=[cell(460, 1, 39424, 175055873)], alarms=[Alarm.LOW_BATTERY])),
        "787805A40190736E0D0A", "alarm"),
    # --- Traccar 9e5c458a (TC): model variants. Byte readings beside each case. ---
    "TRACCAR_DASHCAM_95": Case(  # JC100, 7 content bytes: 2019-10-07 18:35:32, event 01 = general (no position)
        alerted(cells_only(t(2019, 10, 7, 18, 35, 32), alarms=[Alarm.GENERAL]))
        + [fix_details(t(2019, 10, 7, 18, 35, 32), dashcam_event=1)],
        "78780595000133C40D0A", "alarm"),
    "TRACCAR_SERIAL_9B_WITH_CRLF": Case(  # device type 03; not printable: hex, as Traccar expects
        [event("serial_data", details={"device_type": 3, "data_hex": "32382e33a1e60d0a"})], None, "serial_data"),
    "TC_LBS_COUNTED_24": Case(  # TA 00, MCC 0194 MNC 62, 2 cells: 13EE/00606A/34, 13EE/006069/2E
        [cells_only(t(2022, 3, 6, 12, 35, 30), cells=[cell(404, 98, 5102, 24682, -52), cell(404, 98, 5102, 24681, -46)])],
        "78780524003A6C0A0D0A", "lbs_multi"),
    "TC_SR411_24": Case(  # course 1846: positioned, west, south, 70 deg; ignition 01, 04ED = 12.61 V, 0194 = 4.04 V
        [fix(t(2022, 6, 26, 16, 54, 0), True, -22.907096, -43.1312, 0.0, 70.0, 8, cells=[cell(724, 2, 14921, 28422)]),
         telemetry(t(2022, 6, 26, 16, 54, 0), battery_v=4.04),
         fix_details(t(2022, 6, 26, 16, 54, 0), ignition=True, external_v=12.61)],
        "7878052400BEAE260D0A", "gps_lbs"),
    "TC_SL4X_32_ALTITUDE": Case(  # LBS 0A: 02D4/000A/C3C7/0DBDC40B; info 46, voltage F0 (no level), GSM 04,
        # alarm 21 (undocumented: general), language 02, altitude 02AF
        alerted(fix(t(2024, 6, 19, 1, 38, 28), True, -22.892754, -47.094412, 0.0, 0.0, 13, altitude_m=687.0, rssi=4,
                    cells=[cell(724, 10, 50119, 230540299)], alarms=[Alarm.GENERAL])),
        "787805320017C5A10D0A", "gps_lbs"),
    "TC_SL4X_32_POWER_CUT": Case(  # info 52 (bits 010 power cut), voltage 6, GSM 4, alarm 02 power cut
        alerted(fix(t(2024, 2, 20, 18, 51, 36), True, -12.91576, -38.421312, 0.0, 267.0, 10, battery_pct=100, rssi=4,
                    cells=[cell(724, 11, 50471, 60418)], alarms=[Alarm.POWER_CUT])),
        "78780532005E1A640D0A", "gps_lbs"),
    "TC_AZ735_32_NO_GPS": Case(  # GPS length 00; LBS 09: 01FE/0A/060F/006A1E, RSSI 3F; 36 zero neighbour bytes
        [cells_only(t(2017, 7, 7, 8, 56, 25), cells=[cell(510, 10, 1551, 27166, -63)]),
         fix_details(t(2017, 7, 7, 8, 56, 25), status=0)],
        "79790005320121BB650D0A", "gps_lbs"),
    "TC_AZ735_32_GPS": Case(  # GPS length 0C, course 1035: positioned, south, 53 deg; 3 neighbour cells
        [fix(t(2017, 6, 23, 12, 27, 24), True, -6.133382, 106.995049, 0.0, 53.0, 9, cells=[
            cell(510, 10, 124, 2321, -36), cell(510, 10, 124, 2322, -36), cell(510, 10, 129, 20222, -33),
            cell(510, 10, 197, 4111, -18)]),
         fix_details(t(2017, 6, 23, 12, 27, 24), status=0)],
        "797900053200BCEDD10D0A", "gps_lbs"),
    "TC_AZ735_ALARM_33": Case(  # no GPS, no LBS; status A0 = armed (a state, no alarm)
        [cells_only(t(2017, 7, 6, 9, 2, 11)), fix_details(t(2017, 7, 6, 9, 2, 11), status=0xA0)],
        "797900053301094CF30D0A", "alarm"),
    "TC_X1_GPS_34": Case(  # course 144C: positioned, north, 76 deg; 0500 = 12.80 V, 018F = 3.99 V; ports 4221xxxx: 2 ADC
        [fix(t(2017, 6, 24, 9, 19, 12), True, 28.562367, 77.20652, 0.0, 76.0, 9, cells=[cell(404, 11, 177, 18431)]),
         telemetry(t(2017, 6, 24, 9, 19, 12), battery_v=3.99),
         fix_details(t(2017, 6, 24, 9, 19, 12), odometer=0, external_v=12.8, inputs=0, outputs=1, adc1_v=0.05,
                        adc2_v=0.03)],
        None, "gps_lbs"),
    "TC_TRX16I_36_RFID": Case(  # course 9400: positioned, north; odometer 64, 0514 = 13.00 V, 28 = 4.0 V, 6 min
        [fix(t(2025, 12, 29, 15, 23, 36), True, 22.602109, 113.832, 0.0, 0.0, 15, cells=[cell(460, 0, 9711, 88139916)]),
         telemetry(t(2025, 12, 29, 15, 23, 36), battery_v=4.0),
         fix_details(t(2025, 12, 29, 15, 23, 36), ignition=True, odometer=100, external_v=13.0, working_min=6,
                        driver_id="c3000001453f9201")],
        "787805360034B5590D0A", "gps_lbs"),
    "TC_TRX16I_36": Case(  # ignition off, 051E = 13.10 V, 22 min, no card
        [fix(t(2025, 12, 29, 15, 40, 6), True, 22.602109, 113.832, 0.0, 0.0, 15, cells=[cell(460, 0, 9711, 88139916)]),
         telemetry(t(2025, 12, 29, 15, 40, 6), battery_v=4.0),
         fix_details(t(2025, 12, 29, 15, 40, 6), ignition=False, odometer=100, external_v=13.1, working_min=22)],
        "787805366E5BD1ED0D0A", "gps_lbs"),
    "TC_GPS_LBS_38": Case(  # course CCAB: not positioned, west, north, 171 deg; cell type 03 (4G), RSSI 001B;
        # module 002E = odometer 15C4
        [fix(t(2025, 5, 14, 14, 12, 38), False, 9.89775, -84.102996, 0.0, 171.0, 5,
             cells=[cell(712, 1, 3108, 297736, -27)]),
         fix_details(t(2025, 5, 14, 14, 12, 38), odometer=5572)],
        "7979000538021F3A8A0D0A", "gps_lbs"),
    "TC_MODULAR_70_BLE": Case(  # module 7F: tag C4A82841074A, battery 7FFF (no reading), 100 %, 0122 = 29.0 degC
        [cells_only(None, ble=[Ble(mac="c4:a8:28:41:07:4a")]),
         fix_details(None, tag_battery_pct=100, tag_temperature_c=29.0)],
        "79790005701EA4CD570D0A", "gps_modular"),
    "TC_MODULAR_70_IMEI": Case(  # modules 0000, 0035, 002C, 0043, 0001 (IMEI), 1000: none we read
        [], "7979000570004E8A820D0A", "gps_modular"),
    "TC_MODULAR_70_VL103": Case(  # module 33: 6303564E = 2022-08-22 10:11:26, 7 sats, 0170 = 368 m, course 1466;
        # 34: event 0E; 18: 0195 = 4.05 V; 28: HDOP 12 = 1.8; 03: ICCID
        [fix(t(2022, 8, 22, 10, 11, 26), True, 45.802662, 8.887944, 0.0, 102.0, 7, altitude_m=368.0, hdop=1.8),
         telemetry(t(2022, 8, 22, 10, 11, 26), battery_v=4.05),
         fix_details(t(2022, 8, 22, 10, 11, 26), event=14, iccid="89395000210515306836")],
        "79790005700CE24C440D0A", "gps_modular"),
    "TC_OBD_8C": Case(  # PIDs 28x odometer, 47x fuel used, 2Bx fuel, 2Dx coolant 189C, 35x speed 16A8, 36x rpm 28AC8
        [Event(protocol="gt06", device_id=DEV, time=t(2018, 11, 21, 2, 18, 27), event="obd", text=(
            "173=0,223=1,283=00000000,463=00000056,473=0000000f,483=00000011,2B3=00000000,2D3=0000189c,"
            "353=000016a8,363=00028ac8,393=0000020a,303=000005aa,493=00000000,4A3=KNAF241CMK5014255,"
            "3A3=00000385,503=0000"), details={
            "ignition": True, "odometer": 0.0, "fuel_used": 0.15, "fuel_level": 0.0, "coolant_c": 63.0,
            "obd_speed_kmh": 58.0, "rpm": 1666.0, "engine_hours": 0.0, "vin": "KNAF241CMK5014255"})],
        None, "obd"),
    "TC_DASHCAM_95_ACCELERATION": Case(  # 2019-10-02 09:50:28, event 90 = harsh acceleration (Traccar)
        alerted(cells_only(t(2019, 10, 2, 9, 50, 28), alarms=[Alarm.HARSH_ACCELERATION]))
        + [fix_details(t(2019, 10, 2, 9, 50, 28), dashcam_event=0x90)],
        "78780595000133C40D0A", "alarm"),
    "TC_DASHCAM_95_JC400": Case(  # FFFF 01; course 1CA9: positioned, west, north, 169 deg; speed 002C; 008A = 13.8 V;
        # event 92 cornering; two video file names
        alerted(fix(t(2024, 11, 13, 3, 20, 6), True, 43.897038, -79.27096, 44.0, 169.0, 10,
                    alarms=[Alarm.HARSH_CORNERING]))
        + [fix_details(t(2024, 11, 13, 3, 20, 6), external_v=13.8, dashcam_event=0x92),
           Event(protocol="gt06", device_id=DEV, time=t(2024, 11, 13, 3, 20, 6), event="dashcam_files", text=(
               "EVENT_862798052429087_00000000_2024_11_12_22_20_06_I_56.mp4,"
               "EVENT_862798052429087_00000000_2024_11_12_22_20_06_F_55.mp4"))],
        "78780595003767710D0A", "alarm"),
    "TC_DASHCAM_95_JC400_EVENT": Case(  # event 69: no alarm (Traccar: event 0x69 only)
        [fix(t(2023, 7, 25, 21, 32, 19), True, -12.955359, -38.407556, 47.0, 190.0, 15),
         fix_details(t(2023, 7, 25, 21, 32, 19), external_v=13.5, dashcam_event=0x69),
         Event(protocol="gt06", device_id=DEV, time=t(2023, 7, 25, 21, 32, 19), event="dashcam_files",
               text="EVENT_862798050175112_00000000_2023_07_25_18_32_05_14.mp4")],
        "787805950119B6D50D0A", "alarm"),
    "TC_SERIAL_9B_TEXT": Case([event("serial_data", text="D7520A62", details={"device_type": 3})], None, "serial_data"),
    "TC_SERIAL_9B_FRAMED": Case(
        [event("serial_data", details={"device_type": 3, "data_hex": "0235393030423438434542384103"})],
        None, "serial_data"),
    "TC_SERIAL_9B_BINARY": Case([event("serial_data", details={"device_type": 3, "data_hex": "80d600"})],
                                None, "serial_data"),
    "TC_STATUS_A3_SHORT": Case(  # info 46, extension 0001, voltage 6, signal 64, power 0C, language 01
        [heartbeat(100, None, {"voltage_level": 6, "signal": 100, "power": 12, **info(gps=True, charging=True, acc=True)})],
        "787805A3123D3E7D0D0A", "status"),
    "TC_STATUS_A3_STEPS": Case(  # voltage 5, signal 32, power 1E, steps 00000258, battery 4F = 79 %, moving
        [heartbeat(79, None, {"voltage_level": 5, "signal": 50, "power": 30, "battery_charging": False, "moving": True,
                              **info()}),
         telemetry(steps=600, battery_pct=79)],
        "787805A30000723A0D0A", "status"),
    "TC_FENCE_A3": Case(  # no fix; byte 39 before the 4G cell; info 04, voltage 5, GSM 4, alarm 00
        [fix(t(2017, 11, 16, 8, 19, 54), False, None, None, 0.0, 0.0, 0, battery_pct=83, rssi=4,
             cells=[cell(460, 0, 37265, 151394051)])],
        "787805A3000340A10D0A", "alarm"),
    "TC_LBS_ADDRESS_A7": Case([cells_only(None, cells=[cell(460, 0, 37265, 151394051)])], None, "address_request"),
    "TC_PERIPHERAL_F2_BATTERY": Case(  # 6718E430; item 000C: level 47, not charging, 0 cycles
        [Event(protocol="gt06", device_id=DEV, time=t(2024, 10, 23, 11, 55, 28), event="peripheral", details={
            "external_battery_pct": 71, "external_charging": False, "external_battery_cycles": 0})],
        "79790005F20024FF8A0D0A", "peripheral"),
    "TC_PERIPHERAL_F2_BUTTON": Case(  # item 000B skipped; item 000A: BLE button C4A82828CCFE, data type 02
        [Event(protocol="gt06", device_id=DEV, time=t(2024, 10, 23, 11, 52, 41), event="peripheral",
               text="BTBUTTON,A,S#168,54", details={"ble_mac": "c4:a8:28:28:cc:fe", "ble_event": 0,
                                                    "ble_event_data": 0, "ble_data_type": 2})],
        "79790005F20016ED1B0D0A", "peripheral"),
    "TC_WIFI_F3": Case(  # 7 access points without signal
        [cells_only(t(2020, 12, 11, 10, 38, 42), wifi=[Wifi(mac=m) for m in (
            "dc:9f:db:1c:1d:76", "c8:3a:35:69:a3:71", "88:25:93:72:87:00", "ec:41:18:0c:82:09", "88:c3:97:49:55:37",
            "38:91:d5:60:4d:63", "38:91:d5:60:4d:68")])],
        None, "wifi"),
    "TC_LW4G_A2": Case(  # course 1C6A: positioned, west, north, 106 deg; 4G cell; info 41, 0000 V, battery 2A = 42 %
        [fix(t(2024, 11, 15, 15, 52, 7), True, 3.501628, -76.504233, 0.0, 106.0, 15, battery_pct=42, rssi=4,
             cells=[cell(732, 101, 27009, 156660937)]),
         fix_details(t(2024, 11, 15, 15, 52, 7), external_v=0.0, odometer=19249, working_s=0, inputs=0x0200)],
        "787805A201A2B7260D0A", "gps_lbs"),
    "TC_LW4G_A2_POWERED": Case(  # 04DF = 12.47 V, battery 6, GSM 3, alarm 1C (undocumented: general)
        alerted(fix(t(2024, 6, 27, 14, 15, 5), True, 19.702082, -99.119508, 0.0, 0.0, 15, battery_pct=100, rssi=3,
                    cells=[cell(334, 20, 613, 38620674)], alarms=[Alarm.GENERAL]))
        + [fix_details(t(2024, 6, 27, 14, 15, 5), external_v=12.47, odometer=512000, working_s=0, inputs=0x00C8)],
        "787805A202A832140D0A", "gps_lbs"),
    "TC_WIFI_LBS_A2_LONG": Case(
        [cells_only(t(2024, 11, 15, 15, 29, 38), cells=[
            cell(732, 101, 27009, 156671638, -72), cell(732, 101, 27009, 156671538, -85),
            cell(732, 101, 27009, 156671488, -82), cell(732, 101, 27009, 156671688, -70),
            cell(732, 101, 27009, 156671588, -50)], wifi=[
            Wifi(mac="f2:7c:f6:4f:17:e1", rssi=-60), Wifi(mac="90:9a:4a:53:77:8c", rssi=-61),
            Wifi(mac="c8:3a:35:0f:a1:b8", rssi=-69), Wifi(mac="22:97:6d:5e:a4:85", rssi=-72),
            Wifi(mac="54:af:97:6b:9a:b0", rssi=-76), Wifi(mac="b0:4e:26:d7:03:92", rssi=-81)])],
        "787805A202A1AFD50D0A", "wifi_lbs"),
    "TC_STRING_15_NO_LENGTH": Case(  # command length 00: the text runs to the language field 0001
        [event("command_result", text="DYD=Success!", details={"server_flag": 0})],
        "787805150009B3600D0A", "command_result"),
    "TC_STRING_15_NO_LENGTH_FUEL": Case(
        [event("command_result", text="Already in the state of fuel supply to resume,the command is not running!",
               details={"server_flag": 0})],
        "787805150019A3E10D0A", "command_result"),
    "TC_INFO_VOLTAGE_0B": Case([info_event(info_type=11, external_v=7.39)], None, "info"),
    "TC_INFO_TEMPERATURE_1E": Case([info_event(info_type=30, temperature_c=21.3, humidity_pct=75.0)], None, "info"),
    "TC_INFO_ICCID_0A": Case([info_event(info_type=10, imsi="520050218721401", iccid="8966051912408052452")],
                             None, "info"),
    "TC_INFO_ICCID_SWAPPED": Case([info_event(info_type=10, imsi="502194200448892", iccid="8960191302978058275")],
                                  None, "info"),
    "TC_INFO_VOLTAGE_ZERO": Case([info_event(info_type=0, external_v=0.0)], None, "info"),
    "TC_INFO_FUEL_TIMED": Case(  # 6-byte time, then the sensor text
        [info_event("!AIOIL,02,008.290,029.600,519J,0400,008.430,0,00,AB", info_type=13)], None, "info"),
    "TC_INFO_FUEL": Case([info_event("!AIOIL,02,002.720,029.500,524J,0100,003.400,0,00,93", info_type=13)],
                         None, "info"),
    "TC_INFO_DOOR_TIMED": Case([info_event(info_type=5, door=True, trigger_high=True, io_high=False)], None, "info"),
    "TC_DEVICE_STATUS_F1": Case(  # 6318C000; items 0001 = 01 (still), 0002 armed, 0004 ignition, 0005 = 0195 = 4.05 V
        [Event(protocol="gt06", device_id=DEV, time=t(2022, 9, 7, 16, 0, 0), event="device_status", details={
            "moving": False, "armed": True, "ignition": True, "external_v": 4.05})],
        "79790005F10080F3C00D0A", "device_status"),
    "TC_SL4X_31": Case(  # cell 02D4/000A/C3C7/0DBDC415; ignition 01, reason 00, re-upload 00, odometer 0, 02A6 m
        [fix(t(2024, 6, 19, 1, 43, 57), True, -22.89278, -47.094444, 0.0, 0.0, 12, altitude_m=678.0,
             cells=[cell(724, 10, 50119, 230540309)]),
         fix_details(t(2024, 6, 19, 1, 43, 57), ignition=True, reason=0, odometer=0)],
        "78780531000EA7850D0A", "gps_lbs"),
    "TC_IBUTTON_61": Case(  # course D800: positioned, west, south; cell LAC 0000 dropped; key 000001395581
        [fix(t(2025, 10, 30, 13, 56, 6), True, -25.082746, -50.168727, 0.0, 0.0, 8),
         fix_details(t(2025, 10, 30, 13, 56, 6), driver_id="20534657")],
        "78780561000D16FD0D0A", "gps_lbs"),
    "TC_RFID_17": Case(  # course 1400: positioned, north; card BF0000012CA7E001
        [fix(t(2024, 6, 14, 2, 24, 49), True, 22.666069, 113.818036, 0.0, 0.0, 6, cells=[cell(460, 0, 10349, 3917)]),
         fix_details(t(2024, 6, 14, 2, 24, 49), driver_id="bf0000012ca7e001")],
        "787805170004DD3D0D0A", "gps_lbs"),
}

# Valid frames the codec does not decode: dead-lettered, a 78 78 one still acked as Traccar does.
UNSUPPORTED = {
    "TC_UNSUPPORTED_66": None,  # 79 79 frames of unknown types get no ack
    "TC_UNSUPPORTED_84": None,
    "TC_UNSUPPORTED_1F": "7878051F00B1F9D90D0A",
    "TC_X1_PHOTO_INFO_35": "787805350133375A0D0A",
    "TC_SPACE10X_19": "787805190654CB730D0A",  # 78 78 unknown shape: acked as Traccar acks
}
BAD_CRC = ["NAVTRACK_BAD_CRC_HEARTBEAT", "NAVTRACK_BAD_CRC_12", "TRACCAR_BAD_CRC_27", "TRACCAR_BAD_CRC_2E", "TRACCAR_BAD_CRC_21", "TC_BAD_CRC_95_BRAKING",
           "TC_BAD_CRC_95_SOS", "TC_BAD_CRC_95_ACCIDENT"]
NO_CONTENT = ["TC_EMPTY_12"]  # CRC-valid, no content: Malformed, no reply
NOT_UPLINK = F.NOT_UPLINK
# Every uplink sample by constant name: one frame each.
SAMPLES: dict[str, bytes] = dict(F.UPLINK)
UNFRAMED_365 = {"TRACCAR_365_LOGIN", "TRACCAR_365_GPS", "TRACCAR_365_HEARTBEAT", "TRACCAR_365_WIFI_69",
                "TRACCAR_365_WIFI_17", "FORK_365_GPS_11"}


@pytest.mark.parametrize("name", CASES)
def test_decodes_real_frame(name: str) -> None:
    case = CASES[name]
    s = session(None if case.device_id != DEV else DEV)
    decoded = decode(SAMPLES[name], s)
    assert decoded.error is None
    assert decoded.records == case.records
    assert decoded.reply == (bytes.fromhex(case.reply) if case.reply else None)
    assert decoded.message_type == case.message_type
    assert decoded.device_id == s.device_id == case.device_id
    for record in decoded.records:
        assert_sane_fix(record)


def test_records_survive_the_wire_format() -> None:
    for name, case in CASES.items():
        for record in case.records:
            assert from_msgpack(to_msgpack(record)) == record, name


def test_every_sample_has_a_case() -> None:
    covered = set(CASES) | set(UNSUPPORTED) | set(BAD_CRC) | set(NO_CONTENT)
    assert covered == set(SAMPLES), set(SAMPLES) ^ covered


def test_conformance_exports_hold_every_sample() -> None:
    """frames_gt06.SAMPLES (for the registry-driven suite) is exactly the frames that must decode, and
    MALFORMED the real frames that must not."""
    assert sorted(frame for _, frame in F.SAMPLES) == sorted(SAMPLES[name] for name in CASES)
    assert sorted(frame for _, frame in F.MALFORMED) == sorted(
        [SAMPLES[name] for name in [*UNSUPPORTED, *BAD_CRC, *NO_CONTENT]] + [F.TRACCAR_THREE_FRAMES_FD[:97]])
    assert all(frame in SAMPLES.values() for _, frame in F.UDP_SAMPLES)
    assert len({label for label, _ in F.SAMPLES}) == len(F.SAMPLES)


@pytest.mark.parametrize("name", CASES)
def test_identify_agrees_with_decode(name: str) -> None:
    """The listener's thin path gives the same device id, reply and message type as a full decode, on
    its own session (as the listener and a processor each hold one)."""
    case = CASES[name]
    now = NOW
    decoded = decode(SAMPLES[name], session(None if case.device_id != DEV else DEV), now)
    s = session(None if case.device_id != DEV else DEV)
    identified = guarded_identify(CODEC, SAMPLES[name], s, now)
    assert not identified.bug and identified.error is None
    assert (identified.device_id, identified.reply, identified.message_type) == (
        decoded.device_id, decoded.reply, decoded.message_type)
    assert s.device_id == case.device_id


@pytest.mark.parametrize("name", CASES)
def test_sequence_is_the_frames_serial_number(name: str) -> None:
    """`sequence` is the serial the frame carries (the 2 bytes before the CRC), from decode and
    identify alike; the 365GPS frames carry none."""
    case = CASES[name]
    frame = SAMPLES[name]
    expected = None if name in UNFRAMED_365 else int.from_bytes(frame[-6:-4], "big")
    decoded = decode(frame, session(None if case.device_id != DEV else DEV))
    identified = guarded_identify(CODEC, frame, session(None if case.device_id != DEV else DEV), NOW)
    assert decoded.sequence == identified.sequence == expected


def test_sequence_literally() -> None:
    # DOC heartbeat: 78 78 0A 13 | 40 04 04 00 01 | serial 000F | CRC DCEE | 0D 0A
    assert decode(F.DOC_HEARTBEAT).sequence == 0x000F
    assert decode(F.TRACCAR_STATUS).sequence == 0x01BA  # ... 44 06 04 00 02 | serial 01BA | CRC AF54
    assert decode(F.TRACCAR_365_HEARTBEAT).sequence is None


@pytest.mark.parametrize("name", [*UNSUPPORTED, *BAD_CRC])
def test_identify_agrees_on_frames_that_do_not_decode(name: str) -> None:
    decoded, identified = decode(SAMPLES[name]), guarded_identify(CODEC, SAMPLES[name], session(), NOW)
    assert identified.error and not identified.bug
    assert identified.reply == decoded.reply


def test_content_faults_are_acked_by_identify_and_dead_lettered_by_decode() -> None:
    """identify reads the envelope only: a CRC-valid 0x12 with no content is answered (the device goes
    on) and the processors dead-letter it; neither is a bug."""
    decoded = decode(F.TC_EMPTY_12)
    identified = guarded_identify(CODEC, F.TC_EMPTY_12, session(), NOW)
    assert decoded.error and "content ends" in decoded.error and decoded.reply is None
    assert identified.error is None and identified.reply == with_crc(bytes.fromhex("787805120099"))


def test_positioned_dashcam_alarm() -> None:
    """Constructed: TC_BAD_CRC_95_ACCIDENT with its CRC recomputed (content unchanged), for the JC100 form
    with a position: time 6, lat 4, lon 4, course/status 2 (1400: positioned, north), event 93, data 2."""
    raw = with_crc(F.TC_BAD_CRC_95_ACCIDENT[:-4])
    when = t(2020, 10, 2, 12, 41, 20)
    position = fix(when, True, 50.0, 19.0, None, 0.0, None, alarms=[Alarm.ACCIDENT])
    decoded = decode(raw)
    assert decoded.records == [*alerted(position), fix_details(when, dashcam_event=0x93), Event(
        protocol="gt06", device_id=DEV, time=when, event="dashcam_files",
        text="EVENT_353376110023196_00000000_2020_10_02_14_41_20_05.mp4")]
    assert decoded.reply == with_crc(bytes.fromhex("787805950004"))


@pytest.mark.parametrize("name", sorted(set(SAMPLES) - UNFRAMED_365 - set(BAD_CRC) | NOT_UPLINK))
def test_sample_crc_is_valid(name: str) -> None:
    """Traccar never checks GT06 CRCs: we do, on every sample, uplink and downlink, with an
    implementation independent of the codec's."""
    data = getattr(F, name)
    frames = [data[i * 97:(i + 1) * 97] for i in range(3)] if name == "TRACCAR_THREE_FRAMES_FD" else [data]
    assert all(has_valid_crc(frame) for frame in frames)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.reply and not c.reply.startswith("787800")])
def test_reply_crc_is_valid(name: str) -> None:
    """Every ack is 78 78 with a 1-byte length (79 79 and 2 bytes for a 79 79 frame), a length that fits,
    and a CRC our reference agrees with (the 365GPS Wi-Fi reply, 78 78 00 ..., has none)."""
    reply = bytes.fromhex(CASES[name].reply)
    assert reply[:2] == SAMPLES[name][:2] and has_valid_crc(reply)
    if reply[:2] == b"xx":
        assert reply[2] == len(reply) - 5
    else:
        assert int.from_bytes(reply[2:4], "big") == len(reply) - 6


def test_replies_equal_the_documented_ones() -> None:
    assert decode(F.DOC_LOGIN, session(None)).reply == F.DOC_LOGIN_REPLY
    assert decode(F.NAVTRACK_LOGIN, session(None)).reply == F.NAVTRACK_LOGIN_REPLY
    assert decode(F.NAVTRACK_GV25_HEARTBEAT).reply == F.NAVTRACK_GV25_HEARTBEAT_REPLY
    # The document's time example: request serial 0006, answered at 2015-12-29 00:00:21 UTC.
    assert decode(F.DOC_TIME_8A, now=t(2015, 12, 29, 0, 0, 21)).reply == F.DOC_TIME_REPLY
    # Its heartbeat and alarm response examples, for the serials they carry.
    heartbeat_0100 = with_crc(bytes.fromhex("78780A134004040001") + b"\x01\x00")
    assert decode(heartbeat_0100).reply == F.DOC_HEARTBEAT_REPLY_0100
    alarm_001c = with_crc(F.DOC_ALARM_26[:-6] + b"\x00\x1c")
    assert decode(alarm_001c).reply == F.DOC_ALARM_REPLY_001C


def test_long_frame_is_acked_with_a_long_header() -> None:
    """Constructed per the document's envelope: its 0x26 alarm example sent as a 79 79 frame."""
    body = F.DOC_ALARM_26[3:-4]  # protocol .. serial
    raw = with_crc(b"\x79\x79" + (len(body) + 2).to_bytes(2, "big") + body)
    decoded = decode(raw)
    assert decoded.records == decode(F.DOC_ALARM_26).records
    assert decoded.reply == with_crc(bytes.fromhex("7979000526000C"))


def test_time_reply_is_utc_whatever_the_clock_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert decode(F.DOC_TIME_8A, now=datetime(2015, 12, 29, 2, 0, 21, tzinfo=plus_two)).reply == F.DOC_TIME_REPLY


@pytest.mark.parametrize("name", BAD_CRC)
def test_bad_crc_is_an_error_not_a_crash(name: str) -> None:
    decoded = decode(SAMPLES[name])
    assert decoded.error and decoded.error.startswith("bad CRC")
    assert decoded.records == [] and decoded.reply is None


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_unsupported_messages_are_errors(name: str) -> None:
    decoded = decode(SAMPLES[name])
    assert decoded.error and decoded.records == [] and not decoded.bug
    assert "not supported" in decoded.error or "unsupported GT06 protocol number" in decoded.error
    expected = UNSUPPORTED[name]
    assert decoded.reply == (bytes.fromhex(expected) if expected else None)


@pytest.mark.parametrize("raw", [
    b"", b"\x78\x78", b"\x78\x78\x05\x01\x00\x01\xd9\xdc", b"\x78\x78\x05\x01\x00\x01\xd9\xdc\x0d\x0b",
    F.DOC_LOGIN[:-3] + b"\r\n",  # truncated: bad CRC
    F.DOC_LOGIN_REPLY,  # a login reply has no IMEI
    with_crc(bytes.fromhex("7878 0D 01 0A23456789012345 0001")),  # IMEI not BCD
    with_crc(bytes.fromhex("7878 0B 13 40 04 0001")),  # length field says 11, 8 came
    with_crc(bytes.fromhex("7878 07 13 40 04 0001")),  # heartbeat without its GSM level
    with_crc(bytes.fromhex("7979 0006 21 00 0001")),  # 0x21 without its server flag
    with_crc(bytes.fromhex("7979 0010 36 0005040002003201010018 0001")),  # 0x36 long: X1 photo data, not status
    b"[3G*8800000015*0002*LK]",
])
def test_malformed_frames_give_an_error(raw: bytes) -> None:
    decoded = decode(raw)
    assert decoded.error and decoded.records == [] and decoded.reply is None


# --------------------------------------------------------------------------------------------
# Sessions, alarms, heartbeats
# --------------------------------------------------------------------------------------------

def test_login_identifies_the_connection_for_later_frames() -> None:
    s = session(None)
    assert decode(F.DOC_HEARTBEAT, s).records[0].device_id is None  # before login: unknown device
    decode(F.DOC_LOGIN, s)
    assert s.device_id == "752533678900242" and s.tz_offset_min == 480
    decoded = decode(F.DOC_GPS_22, s)
    assert decoded.device_id == "752533678900242"
    assert [r.device_id for r in decoded.records] == ["752533678900242"]
    assert decoded.records[0].time == t(2015, 12, 29, 2, 51, 5)  # UTC as sent: the zone is not applied


def test_plain_session_objects_work() -> None:
    s = Session(transport=Transport.TCP)
    decoded = CODEC.decode(F.TRACCAR_LOGIN_TZ, s, NOW)
    assert decoded.error is None and s.device_id == "864717003664467"


def _alarm_26(code: int) -> bytes:
    """Constructed per the document (5. alarm packet): its 0x26 example with another alarm byte, CRC recomputed."""
    frame = bytearray(F.DOC_ALARM_26[:-4])
    frame[-4] = code  # ... info 80, voltage 04, GSM 04, [alarm], language 02, serial 000C
    return with_crc(bytes(frame))


@pytest.mark.parametrize(("code", "alarm"), [
    (0x01, Alarm.SOS), (0x02, Alarm.POWER_CUT), (0x03, Alarm.VIBRATION), (0x04, Alarm.GEOFENCE_ENTER),
    (0x05, Alarm.GEOFENCE_EXIT), (0x06, Alarm.OVERSPEED), (0x09, Alarm.MOVEMENT), (0x0C, Alarm.POWER_ON),
    (0x0E, Alarm.LOW_POWER), (0x0F, Alarm.LOW_POWER), (0x11, Alarm.POWER_OFF), (0x13, Alarm.TAMPER),
    (0x18, Alarm.REMOVAL), (0x19, Alarm.LOW_BATTERY), (0x23, Alarm.FALL), (0x29, Alarm.HARSH_ACCELERATION),
    (0x2C, Alarm.ACCIDENT), (0x30, Alarm.HARSH_BRAKING), (0x77, Alarm.GENERAL),
])
def test_alarm_codes(code: int, alarm: Alarm) -> None:
    decoded = decode(_alarm_26(code))
    position, alert = decoded.records
    assert position.alarms == [alarm] and alert == Alert.from_fix(position, alarm)
    assert decoded.reply == bytes.fromhex("78780526000C8D070D0A")


@pytest.mark.parametrize("code", [0x00, 0x0A, 0x0B, 0x0D, 0x20, 0xFE, 0xFF])
def test_informational_codes_raise_no_alert(code: int) -> None:
    (position,) = decode(_alarm_26(code)).records
    assert isinstance(position, Position) and position.alarms == []


def test_sos_in_a_heartbeat_is_an_alert_without_location() -> None:
    # Constructed per the document (2. heartbeat): info 60 = GPS positioned + bits 100 (SOS), voltage 2,
    # GSM 3, alarm 01 (SOS), language 02, serial 0042.
    raw = with_crc(bytes.fromhex("78780A13 60 02 03 01 02 0042".replace(" ", "")))
    decoded = decode(raw)
    assert decoded.records == [
        heartbeat(33, 3, {"voltage_level": 2, "gsm_level": 3, **info(gps=True)}),
        Alert(protocol="gt06", device_id=DEV, alarm=Alarm.SOS, battery_pct=33, rssi=3),
    ]
    assert decoded.reply == with_crc(bytes.fromhex("7878051300 42".replace(" ", "")))


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SAMPLES)
def test_detects_every_sample(name: str) -> None:
    raw = SAMPLES[name]
    for transport in Transport:
        assert CODEC.detect(raw, transport) is Detection.MATCH
        assert CODEC.detect(raw[:2], transport) is Detection.MATCH
        assert CODEC.detect(raw[:1], transport) is Detection.NEED_MORE


@pytest.mark.parametrize("head", [b"[", b"[3G*", b"#", b"#8617", b"*HQ,", b"IWAP00", b"\x78\x79", b"\x79\x78",
                                  b"\x78\x00", b"GET /", b"\x00", b"\xff\xff"])
def test_other_bytes_do_not_match(head: bytes) -> None:
    assert CODEC.detect(head, Transport.TCP) is Detection.NO_MATCH


def test_nothing_yet_needs_more() -> None:
    assert CODEC.detect(b"", Transport.TCP) is Detection.NEED_MORE


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def drain(framer) -> list:
    out = []
    while (item := framer.next()) is not None:
        out.append(item)
    return out


def feed_bytewise(framer, data: bytes) -> list:
    out = []
    for index in range(len(data)):
        framer.feed(data[index:index + 1])
        out += drain(framer)
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_framer_whole_bytewise_and_with_trailing_bytes(name: str) -> None:
    data = SAMPLES[name]
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(data)
    assert drain(framer) == [Frame(data)] and framer.buffered == 0

    framer = CODEC.new_framer(Transport.TCP)
    assert feed_bytewise(framer, data) == [Frame(data)] and framer.buffered == 0

    for trailing in (F.DOC_HEARTBEAT[:7], b"\x78", b"\x79\x79\x00"):
        framer = CODEC.new_framer(Transport.TCP)
        framer.feed(data + trailing)
        assert drain(framer) == [Frame(data)] and framer.buffered == len(trailing)


def test_back_to_back_frames_in_one_read() -> None:
    """Traccar's sample of three 0xFD frames sent together, then a 365GPS frame between two normal ones."""
    stream = F.TRACCAR_THREE_FRAMES_FD + F.DOC_LOGIN + F.TRACCAR_365_WIFI_69 + F.DOC_HEARTBEAT + F.TRACCAR_365_LOGIN
    expected = [Frame(F.TRACCAR_THREE_FRAMES_FD[i * 97:(i + 1) * 97]) for i in range(3)] + [
        Frame(F.DOC_LOGIN), Frame(F.TRACCAR_365_WIFI_69), Frame(F.DOC_HEARTBEAT), Frame(F.TRACCAR_365_LOGIN)]
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(stream)
    assert drain(framer) == expected
    assert feed_bytewise(CODEC.new_framer(Transport.TCP), stream) == expected
    assert all(has_valid_crc(frame.data) for frame in expected[:3])


def test_crlf_inside_a_frame_does_not_cut_it() -> None:
    """0D 0A inside the content: length first (the 365GPS note says the same)."""
    for data in (F.TRACCAR_SERIAL_9B_WITH_CRLF, F.FORK_INFO_RFID_WITH_CRLF):
        assert b"\r\n" in data[:-2]
        assert feed_bytewise(CODEC.new_framer(Transport.TCP), data + F.DOC_HEARTBEAT) == [
            Frame(data), Frame(F.DOC_HEARTBEAT)]


def test_length_two_short_is_accepted() -> None:
    """Traccar Gt06FrameDecoder also accepts `0D 0A` two bytes after the declared end. Constructed: the
    document's heartbeat with its length byte lowered by 2 (CRC recomputed over the frame as sent)."""
    raw = with_crc(bytes.fromhex("787808134004040001000F"))
    assert feed_bytewise(CODEC.new_framer(Transport.TCP), raw + F.DOC_LOGIN) == [Frame(raw), Frame(F.DOC_LOGIN)]
    decoded = decode(raw)
    assert decoded.error is None and decoded.records[0].battery_pct == 67


def test_garbage_between_frames_is_a_frame_error() -> None:
    stream = b"GET / HTTP/1.1\r\n" + F.DOC_LOGIN + b"\x00\x78junk" + F.DOC_HEARTBEAT
    expected = [
        FrameError("bytes before a GT06 start marker", b"GET / HTTP/1.1\r\n"),
        Frame(F.DOC_LOGIN),
        FrameError("bytes before a GT06 start marker", b"\x00\x78junk"),
        Frame(F.DOC_HEARTBEAT),
    ]
    framer = CODEC.new_framer(Transport.TCP)
    framer.feed(stream)
    assert drain(framer) == expected
    assert feed_bytewise(CODEC.new_framer(Transport.TCP), stream) == expected


def test_wrong_length_resynchronises_at_the_next_start_marker() -> None:
    """A frame cut short by the device (length says 0x22, 10 bytes came) followed by a good frame:
    only the broken bytes are lost."""
    broken = F.DOC_GPS_22[:10]
    stream = broken + F.DOC_LOGIN + F.DOC_HEARTBEAT
    for out in (feed_bytewise(CODEC.new_framer(Transport.TCP), stream), _whole(stream)):
        assert [item for item in out if isinstance(item, Frame)] == [Frame(F.DOC_LOGIN), Frame(F.DOC_HEARTBEAT)]
        assert b"".join(item.data for item in out if isinstance(item, FrameError)) == broken


def _whole(data: bytes, max_frame: int = gt06.DEFAULT_MAX_FRAME) -> list:
    framer = CODEC.new_framer(Transport.TCP, max_frame=max_frame)
    framer.feed(data)
    return drain(framer)


def test_oversized_frames_are_dropped_and_the_stream_resynchronises() -> None:
    long_frame = with_crc(b"\x79\x79\x01\x05\x94\x04" + b"A" * 255 + b"\x00\x07")  # 0x94 text, 267 bytes
    no_end = b"\x78\x78\x05\x01" + b"\x11" * 300  # never ends
    for bad in (long_frame, no_end):
        stream = bad + F.DOC_LOGIN
        for feed in ("whole", "bytewise"):
            framer = CODEC.new_framer(Transport.TCP, max_frame=128)
            if feed == "whole":
                framer.feed(stream)
                out = drain(framer)
            else:
                out = []
                for index in range(len(stream)):
                    framer.feed(stream[index:index + 1])
                    out += drain(framer)
                    assert framer.buffered <= 128
            assert out[-1] == Frame(F.DOC_LOGIN)
            errors = [item for item in out if isinstance(item, FrameError)]
            assert errors and b"".join(error.data for error in errors) == bad  # every dropped byte reported
    assert _whole(long_frame) == [Frame(long_frame)]  # fine under the default bound


def test_udp_datagram_is_framed_alone() -> None:
    framer = CODEC.new_framer(Transport.UDP)
    framer.feed(F.DOC_GPS_22)
    assert drain(framer) == [Frame(F.DOC_GPS_22)] and framer.buffered == 0


# --------------------------------------------------------------------------------------------
# Commands, byte for byte
# --------------------------------------------------------------------------------------------

def test_custom_command_equals_the_document_example() -> None:
    s = session()
    assert CODEC.encode_command(Command("custom", {"text": "sos#"}), s) == F.DOC_COMMAND_80  # serial 0001
    second = CODEC.encode_command(Command("custom", {"text": "sos#"}), s)
    assert second[-6:-4] == b"\x00\x02" and has_valid_crc(second)


def test_command_packet_equals_traccar_encoder() -> None:
    assert gt06.command_packet("Relay,1#", 0) == F.TRACCAR_ENCODER_RELAY


@pytest.mark.parametrize(("command", "text"), [
    (Command("locate"), "DWXX#"),
    (Command("reboot"), "RESET#"),
    (Command("set_interval", {"seconds": "30"}), "TIMER,30#"),
    (Command("set_interval", {"seconds": "30", "static_seconds": "600"}), "TIMER,30,600#"),
    (Command("sos_numbers", {"numbers": "+4917012345678, 0612345678"}), "SOS,A,+4917012345678,0612345678#"),
    (Command("custom", {"text": "LJDW#"}), "LJDW#"),
])
def test_encodes_commands(command: Command, text: str) -> None:
    packet = CODEC.encode_command(command, session())
    body = text.encode()
    size = 1 + 1 + 4 + len(body) + 2 + 2
    assert packet == with_crc(bytes([0x78, 0x78, size, 0x80, 4 + len(body)]) + b"\x00" * 4 + body + b"\x00\x01")


def test_command_serial_wraps() -> None:
    s = session()
    s.command_serial = 0xFFFF
    assert CODEC.encode_command(Command("reboot"), s)[-6:-4] == b"\x00\x01"


@pytest.mark.parametrize("name", ["find_device", "power_off", "nonsense"])
def test_unsupported_commands(name: str) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(Command(name), session())


@pytest.mark.parametrize("command", [
    Command("set_interval"), Command("set_interval", {"seconds": "5"}), Command("set_interval", {"seconds": "x"}),
    Command("sos_numbers", {"numbers": "1,2,3,4"}), Command("sos_numbers", {"numbers": "12a45"}),
    Command("custom"), Command("custom", {"text": "héllo#"}), Command("custom", {"text": "x" * 300}),
])
def test_bad_command_parameters(command: Command) -> None:
    with pytest.raises(UnsupportedCommand):
        CODEC.encode_command(command, session())


# --------------------------------------------------------------------------------------------
# Property tests: nothing raises, buffers stay bounded
# --------------------------------------------------------------------------------------------

MAX_FRAME = 512
SAMPLE_LIST = list(SAMPLES.values())


def run_everything(data: bytes, chunks: list[int], transport: Transport) -> None:
    drive_codec(CODEC, data, chunks, transport, MAX_FRAME, NOW)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=700), chunks=st.lists(st.integers(1, 64), max_size=20),
       transport=st.sampled_from(list(Transport)))
def test_random_bytes_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    run_everything(data, chunks, transport)
    run_everything(b"\x78\x78" + data, chunks, transport)


def mutated_samples():
    return mutated(SAMPLE_LIST, b"\x00\x01\x0d\x0a\x78\x79\x80\xff")


@settings(max_examples=300, deadline=None)
@given(data=mutated_samples(), chunks=st.lists(st.integers(1, 40), max_size=12),
       transport=st.sampled_from(list(Transport)))
def test_mutated_real_frames_never_raise(data: bytes, chunks: list[int], transport: Transport) -> None:
    run_everything(data, chunks, transport)
    for fixed in (data, with_crc(data[:-4]) if len(data) > 8 else data):  # also past the CRC check
        decoded = guarded_decode(CODEC, fixed, CODEC.new_session(transport), NOW)
        assert isinstance(decoded, Decoded)
        assert not decoded.bug, decoded.error
        assert decoded.error is None or decoded.records == []
        identified = guarded_identify(CODEC, fixed, CODEC.new_session(transport), NOW)
        assert not identified.bug, identified.error
        for record in decoded.records:
            assert_in_range(record)


def assert_in_range(record: Record) -> None:
    """What a garbled frame may still not produce (its date may be anything from 2000 to 2255)."""
    if isinstance(record, (Position, Alert)):
        assert record.lat is None or (-90 <= record.lat <= 90 and -180 <= record.lon <= 180)
        assert record.course_deg is None or 0 <= record.course_deg <= 360
        assert record.satellites is None or 0 <= record.satellites <= 15
    assert getattr(record, "battery_pct", None) is None or 0 <= record.battery_pct <= 100


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.sampled_from(SAMPLE_LIST), min_size=1, max_size=6),
       cut=st.lists(st.integers(1, 30), max_size=30))
def test_any_chunking_gives_the_same_frames(data: list[bytes], cut: list[int]) -> None:
    stream = b"".join(data)
    expected = _whole(stream)
    framer = CODEC.new_framer(Transport.TCP)
    out, position = [], 0
    for size in cut + [len(stream)]:
        framer.feed(stream[position:position + size])
        position += size
        out += drain(framer)
    assert out == expected == [Frame(d) for d in data]


def test_codec_speaks_tcp_and_udp() -> None:
    assert CODEC.transports == frozenset({Transport.TCP, Transport.UDP})


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["locate", "reboot", "set_interval", "sos_numbers", "custom", "find_device"]),
       params=st.dictionaries(st.sampled_from(["seconds", "static_seconds", "numbers", "text"]),
                              st.text(max_size=40), max_size=4))
def test_encode_raises_nothing_but_unsupported_command(name: str, params: dict[str, str]) -> None:
    """Whatever the parameters, encode_command gives a CRC-valid 0x80 packet or UnsupportedCommand."""
    try:
        packet = CODEC.encode_command(Command(name, params), session())
    except UnsupportedCommand:
        return
    assert packet[:2] == b"xx" and packet[3] == 0x80 and has_valid_crc(packet)
