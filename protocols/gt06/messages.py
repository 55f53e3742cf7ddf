"""Decoders of the Concox document's messages and their common forms: login, heartbeats, locations,
command answers, information transfer (0x94), the 365GPS frames. One small function per message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from protocols.base import Malformed, Session
from protocols.gt06.envelope import NAME, Gt06Session, Packet
from protocols.gt06.fields import (
    INFO_ALARMS,
    FixFields,
    Reader,
    add_cell,
    add_wifi,
    alarm_from_code,
    battery_from_level,
    gsm_level,
    part_cell,
    part_cell_cid4,
    part_gps,
    part_multi_cell,
    part_status,
    part_status_no_code,
    part_wifi_list,
    read_bcd_time,
    read_iccid,
    read_imei,
    read_time,
    signal_dbm,
    terminal_info,
    with_lbs_length,
)
from schemas.records import Alert, Event, Position, Record, Telemetry


# --------------------------------------------------------------------------------------------
# Message decoders: one small function per protocol number, picked from a table
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Context:
    packet: Packet
    session: Session
    now: datetime

    @property
    def device_id(self) -> str | None:
        return self.session.device_id


Decoder = Callable[[Context], list[Record]]


def fix_records(ctx: Context, fix: FixFields) -> list[Record]:
    """One Position, one Alert per alarm it carries, a Telemetry reading when the packet gave a battery
    voltage, and a `fix_details` Event for scalars a Position has no column for."""
    position = Position(
        protocol=NAME, device_id=ctx.device_id, time=fix.time, valid=fix.valid, lat=fix.lat, lon=fix.lon,
        altitude_m=fix.altitude_m, speed_kmh=fix.speed_kmh, course_deg=fix.course_deg, satellites=fix.satellites,
        hdop=fix.hdop, battery_pct=fix.battery_pct, rssi=fix.rssi, cells=fix.cells, wifi=fix.wifi, ble=fix.ble,
        alarms=list(fix.alarms),
    )
    records: list[Record] = [position, *(Alert.from_fix(position, alarm) for alarm in fix.alarms)]
    if fix.battery_v is not None:
        records.append(Telemetry(protocol=NAME, device_id=ctx.device_id, time=fix.time, battery_v=fix.battery_v))
    if fix.details:
        records.append(Event(protocol=NAME, device_id=ctx.device_id, time=fix.time, event="fix_details",
                             details=dict(fix.details)))
    return records


def location(*parts: Callable[[Reader, FixFields], None]) -> Decoder:
    """A location packet made of parts read in order; trailing fields of variants are ignored."""

    def decode_location(ctx: Context) -> list[Record]:
        fix = FixFields()
        r = Reader(ctx.packet.content)
        for part in parts:
            part(r, fix)
        return fix_records(ctx, fix)

    return decode_location


def by_length(name: str, variants: dict[int, Decoder], default: Decoder | None) -> Decoder:
    """Variants that tell themselves apart only by the length byte (Traccar decodeVariant)."""

    def decode_variant(ctx: Context) -> list[Record]:
        decoder = variants.get(ctx.packet.length_byte, default)
        if decoder is None:
            raise Malformed(f"{name} of length 0x{ctx.packet.length_byte:02x} is a variant nobody documents")
        return decoder(ctx)

    return decode_variant


def read_login_imei(packet: Packet) -> str:
    """The IMEI of a login (0x01): its first 8 content bytes; also read by `identify`."""
    if packet.serial is None and len(packet.content) != 9:
        raise Malformed("unframed 0x01 login must be IMEI 8 + version 1")
    if len(packet.content) < 8:
        raise Malformed(f"0x01 login of {len(packet.content)} content bytes has no 8-byte terminal ID")
    return read_imei(packet.content[:8])


def decode_login(ctx: Context) -> list[Record]:
    """0x01: terminal ID (IMEI, BCD 8), then optional type identity code 2 and time zone/language 2."""
    imei = read_login_imei(ctx.packet)
    r = Reader(ctx.packet.content)
    r.take(8)
    details: dict[str, str | int | bool | float] = {}
    if r.remaining >= 2:
        details["type_id"] = f"{r.u16():04x}"
    if r.remaining >= 2:
        word = r.u16()
        hours, minutes = divmod(word >> 4, 100)
        if minutes < 60:
            details["tz_offset_min"] = (hours * 60 + minutes) * (-1 if word & 0x08 else 1)
            if isinstance(ctx.session, Gt06Session):
                ctx.session.tz_offset_min = details["tz_offset_min"]
        details["language"] = word & 0x03
    ctx.session.device_id = imei
    return [Event(protocol=NAME, device_id=imei, event="login", details=details)]


def heartbeat_records(ctx: Context, info: int, details: dict, battery_pct: int | None, rssi: int | None,
                      alarm_code: int | None, battery_v: float | None = None) -> list[Record]:
    """One heartbeat Event (+ a Telemetry reading when it gave a battery voltage); an alarm state in it
    (info bits or alarm byte) also gives a location-less Alert per alarm, as Traccar raises them."""
    details.update(terminal_info(info))
    event = Event(protocol=NAME, device_id=ctx.device_id, event="heartbeat", battery_pct=battery_pct, rssi=rssi,
                  details=details)
    state = FixFields()
    state.add_alarm(INFO_ALARMS.get((info >> 3) & 0x07))
    if alarm_code is not None:
        state.add_alarm(alarm_from_code(alarm_code))
    records: list[Record] = [event]
    if battery_v is not None:
        records.append(Telemetry(protocol=NAME, device_id=ctx.device_id, battery_v=battery_v, battery_pct=battery_pct))
    return records + [Alert(protocol=NAME, device_id=ctx.device_id, alarm=alarm, battery_pct=battery_pct, rssi=rssi)
                      for alarm in state.alarms]


def decode_status(ctx: Context) -> list[Record]:
    """0x13 heartbeat: terminal info 1, voltage level 1, GSM level 1, alarm 1, language 1.

    Longer 0x13 variants (OBD and temperature trackers, Traccar) lay out the rest differently: of
    those only the terminal info byte is read."""
    r = Reader(ctx.packet.content)
    info = r.u8()
    if r.remaining > 4:
        return heartbeat_records(ctx, info, {"variant_length": len(ctx.packet.content)}, None, None, None)
    level, gsm = r.u8(), r.u8()
    details: dict = {"voltage_level": level, "gsm_level": gsm}
    alarm_code = r.u8() if r.remaining else None
    return heartbeat_records(ctx, info, details, battery_from_level(level), gsm_level(gsm), alarm_code)


def decode_heartbeat_4g(ctx: Context) -> list[Record]:
    """0x23 (GK310 and 4G models): terminal info 1, battery voltage 2 (1/100 V), GSM level 1, language 2."""
    r = Reader(ctx.packet.content)
    info = r.u8()
    details: dict = {}
    battery_v = r.u16() / 100 if r.remaining >= 2 else None
    if battery_v is not None:
        details["battery_v"] = battery_v
    gsm = r.u8() if r.remaining else None
    if gsm is not None:
        details["gsm_level"] = gsm
    return heartbeat_records(ctx, info, details, None, gsm_level(gsm) if gsm is not None else None, None,
                             battery_v)


def decode_status_modules(ctx: Context) -> list[Record]:
    """0x36 (Jimi 4G, Traccar MSG_STATUS_2): the 0x13 fields, then modules of type 2, length 1, value;
    0x0018 battery voltage (1/100 V), 0x006A battery percentage. In a 79 79 frame 0x36 is X1 photo data."""
    if ctx.packet.long:
        raise Malformed("0x36 photo data (79 79) is not supported")
    r = Reader(ctx.packet.content)
    info, level, gsm, alarm_code = r.u8(), r.u8(), r.u8(), r.u8()
    r.u8()  # language
    details: dict = {"voltage_level": level, "gsm_level": gsm}
    battery = battery_from_level(level)
    battery_v = None
    while r.remaining >= 3:
        module, size = r.u16(), r.u8()
        value = r.uint(size)
        if module == 0x0018:
            details["battery_v"] = battery_v = value / 100
        elif module == 0x006A and value <= 100:
            battery = value
    return heartbeat_records(ctx, info, details, battery, gsm_level(gsm), alarm_code, battery_v)


def decode_status_seeworld(ctx: Context) -> list[Record]:
    """SEEWORLD 0xA3 status (length 0x0C or 0x18): terminal info 1, extension bits 2, voltage level 1,
    signal 1, power 1, language 1; the long form adds sound 1, light 1, steps 4, battery % 1,
    charging 1, moving 1 (Traccar); the three bytes after it are not documented."""
    r = Reader(ctx.packet.content)
    info = r.u8()
    r.u16()  # extension bits
    level = r.u8()
    details: dict = {"voltage_level": level, "signal": r.u8(), "power": r.u8()}
    r.u8()  # language
    battery = battery_from_level(level)
    if r.remaining < 12:
        return heartbeat_records(ctx, info, details, battery, None, None)
    r.take(2)  # sound, light switches
    steps, battery = r.uint(4), battery_from_level(r.u8())
    details.update(battery_charging=r.u8() == 1, moving=r.u8() == 1)
    records = heartbeat_records(ctx, info, details, battery, None, None)
    records.insert(1, Telemetry(protocol=NAME, device_id=ctx.device_id, steps=steps, battery_pct=battery))
    return records


POSITION_TEXT = re.compile(
    r"Current position!\s*Lat:([NS])(\d+\.\d+),Lon:([EW])(\d+\.\d+),Course:(\d+\.\d+),Speed:(\d+\.\d+),"
    r"DateTime:(\d{4})-(\d\d)-(\d\d) +(\d\d):(\d\d):(\d\d)"
)


def _checked_datetime(*fields: int) -> datetime | None:
    year, month, day, hour, minute, second = fields
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        return None
    return read_time(bytes([year - 2000, month, day, hour, minute, second])) if 2000 <= year < 2256 else None


def command_result(ctx: Context, text: str, server_flag: int) -> list[Record]:
    """The device's answer to an online command; the answer to a position query also gives a Position."""
    details: dict = {"server_flag": server_flag}
    if text.startswith("<ICCID:"):
        details["iccid"] = text[7:].rstrip(">").strip()
    records: list[Record] = [Event(protocol=NAME, device_id=ctx.device_id, event="command_result", text=text,
                                   details=details)]
    match = POSITION_TEXT.search(text)
    if match and float(match.group(2)) <= 90 and float(match.group(4)) <= 180:
        ns, lat, ew, lon, course, speed, *when = match.groups()
        records.append(Position(
            protocol=NAME, device_id=ctx.device_id, time=_checked_datetime(*(int(v) for v in when)), valid=True,
            lat=float(lat) * (1 if ns == "N" else -1), lon=float(lon) * (1 if ew == "E" else -1),
            course_deg=float(course), speed_kmh=float(speed),
        ))
    return records


def ascii_text(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace").strip("\x00").strip()


def decode_string(ctx: Context) -> list[Record]:
    """0x15 (old command response): length 1, server flag 4, ASCII text, language 2. Some devices send
    length 0 and a zero-padded text running up to the language field (Traccar "DYD=Success!" samples)."""
    r = Reader(ctx.packet.content)
    size = r.u8()
    if size == 0:
        flag = r.uint(4)
        return command_result(ctx, ascii_text(r.rest(keep=2)), flag)
    if size < 4:
        raise Malformed(f"0x15 command length {size} < 4")
    flag = r.uint(4)
    return command_result(ctx, ascii_text(r.take(size - 4)), flag)


def decode_string_info(ctx: Context) -> list[Record]:
    """0x21 (command response): server flag 4, encoding 1 (1 ASCII, 2 UTF-16BE), text. No reply."""
    r = Reader(ctx.packet.content)
    flag, encoding = r.uint(4), r.u8()
    raw = r.take(r.remaining)
    text = raw.decode("utf-16-be" if encoding == 2 else "ascii", errors="replace").rstrip("\x00").strip()
    return command_result(ctx, text, flag)


# -- 0x94 information transfer --------------------------------------------------------------------

@dataclass(slots=True)
class Info:
    """What an information sub-type yields: event details/text, and readings for Telemetry."""

    details: dict = field(default_factory=dict)
    text: str | None = None
    battery_v: float | None = None


def _info_external_voltage(r: Reader, info: Info) -> None:
    info.details["external_v"] = r.u16() / 100


def _info_door(r: Reader, info: Info) -> None:
    if r.remaining >= 7:  # newer firmware puts the time first (Traccar)
        r.take(6)
    flags = r.u8()
    info.details.update(door=bool(flags & 0x01), trigger_high=bool(flags & 0x02), io_high=bool(flags & 0x04))


def _info_iccid(r: Reader, info: Info) -> None:
    r.take(8)  # IMEI, already known from the login
    imsi = r.take(8).hex().lstrip("0")
    if not imsi.isdigit():
        raise Malformed(f"0x94 ICCID packet: IMSI {imsi} is not BCD digits")
    info.details.update(imsi=imsi, iccid=read_iccid(r.take(10)))


def _info_network_or_voltage(r: Reader, info: Info) -> None:
    """0x0B: one byte = network (Traccar), two bytes = external voltage 1/100 V (Traccar sample 7.39 V)."""
    if r.remaining == 2:
        info.details["external_v"] = r.u16() / 100
    else:
        info.details["network"] = "4G" if r.u8() else "2G"


def _info_temperature_humidity(r: Reader, info: Info) -> None:
    """0x1E: temperature 4 (signed, 1/10 degC), humidity 4 (1/10 %) of an external sensor."""
    info.details.update(temperature_c=r.s32() / 10, humidity_pct=r.s32() / 10)


def _info_fuel(r: Reader, info: Info) -> None:
    """0x0D fuel sensor: the sensor's `!AIOIL,...` text, on newer firmware after a 6-byte time."""
    if r.remaining > 6 and r.data[r.pos] != ord("!"):
        r.take(6)
    _info_as_sent(r, info)


def _info_as_sent(r: Reader, info: Info) -> None:
    """0x04 status sync, 0x1B RFID...: printable text as text, anything else as hex."""
    raw = r.take(r.remaining).strip(b"\x00\r\n ")
    if all(0x20 <= b < 0x7F for b in raw):
        info.text = raw.decode("ascii") or None
    else:
        info.details["data_hex"] = raw.hex()


# 0x94 information type (document "Information Types") -> reader
INFO_TYPES: dict[int, Callable[[Reader, Info], None]] = {
    0x00: _info_external_voltage,
    0x05: _info_door,
    0x0A: _info_iccid,
    0x0B: _info_network_or_voltage,  # Traccar, not in the document
    0x0D: _info_fuel,
    0x1E: _info_temperature_humidity,  # Traccar, not in the document
}


def decode_info(ctx: Context) -> list[Record]:
    """0x94 information transfer. Long frames: information type 1 + data; the short-frame form carries
    only the external voltage (Traccar). No reply."""
    r = Reader(ctx.packet.content)
    info = Info()
    if ctx.packet.long:
        info.details["info_type"] = info_type = r.u8()
        INFO_TYPES.get(info_type, _info_as_sent)(r, info)
    else:
        _info_external_voltage(r, info)
    return [Event(protocol=NAME, device_id=ctx.device_id, event="info", text=info.text, details=info.details)]


def decode_time_request(ctx: Context) -> list[Record]:
    """0x8A: the device asks for the time; the answer is built by the reply rule."""
    return []


# -- 365GPS-style frames: no serial, no CRC, the length byte holds something else (see the framer) --

def decode_legacy_login(ctx: Context) -> list[Record]:
    """15-byte login: IMEI 8 + software version 1. The reply shape is Traccar's generic ack (serial 0),
    not confirmed by a document."""
    imei = read_login_imei(ctx.packet)
    ctx.session.device_id = imei
    return [Event(protocol=NAME, device_id=imei, event="login", details={"software_version": ctx.packet.content[8]})]


def decode_legacy_heartbeat(ctx: Context) -> list[Record]:
    """0x08 heartbeat (`78 78 01 08 0D 0A`): 365GPS lists it among the packets that need no reply."""
    return [Event(protocol=NAME, device_id=ctx.device_id, event="heartbeat")]


def decode_legacy_wifi(ctx: Context) -> list[Record]:
    """0x69 (online) / 0x17 (offline) Wi-Fi: the length byte is the access point count; BCD time 6,
    APs (MAC 6 + signal 1), cell count 1, MCC 2, MNC 1, cells (LAC 2, CI 2, signal 1)."""
    r = Reader(ctx.packet.content)
    fix = FixFields(time=read_bcd_time(r.take(6)))
    for _ in range(ctx.packet.length_byte):
        add_wifi(fix, r.take(6), r.u8())
    count = r.u8()
    mcc, mnc = r.u16(), r.u8()
    for _ in range(count):
        lac, ci, rssi = r.u16(), r.u16(), r.u8()
        add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))
    return fix_records(ctx, fix)


gps_lbs = location(part_gps, part_cell)
alarm_standard = location(part_gps, with_lbs_length(part_cell), part_status)
alarm_vxt01 = location(part_gps, part_cell, part_status_no_code)
alarm_seeworld = location(part_gps, with_lbs_length(part_cell_cid4), part_status)
lbs_multi = location(part_multi_cell((2, 3)))
wifi_lbs_4g = location(part_multi_cell((4, 8)), part_wifi_list)
