"""Decoders of model variants that only captures and Traccar's decoder document: 0x17 RFID, 0x24,
0x31-0x34, 0x36 TRX16I, 0x38, 0x61, 0x70, 0x8C, 0x95, 0x9B, 0xA2 LW4G, 0xA3, 0xA7, 0xF1-0xF3."""

from __future__ import annotations

import re
import struct
from typing import Callable

from protocols.gt06.envelope import NAME
from protocols.gt06.fields import (
    AZ735_ALARMS,
    FixFields,
    Reader,
    add_cell,
    add_wifi,
    mac,
    part_az735_cells,
    part_cell_4g,
    part_cell_sl4x,
    part_gps,
    part_gps_jc400,
    part_gps_no_speed,
    part_gps_with_length,
    part_status_sl4x,
    read_iccid,
    read_time,
    read_unix_time,
    set_coordinates,
    with_lbs_length,
)
from protocols.gt06.messages import Context, Decoder, ascii_text, by_length, fix_records, location
from schemas.alarms import Alarm
from schemas.records import Ble, Event, Record


# -- other Concox/Jimi types ------------------------------------------------------------------------

def decode_lbs_address(ctx: Context) -> list[Record]:
    """0xA7 (GK310 LBS address request): 4G cell (MCC 2, MNC 1|2, LAC 4, CI 8), phone number 21,
    language 2. Traccar reads a 2G cell here; the sample's cell equals the same device's 0xA5 cell
    only when read as 4G. No reply: the answer would be an address text (as for 0x1A/0x2A)."""
    return location(part_cell_4g)(ctx)


def decode_dashcam_alarm(ctx: Context) -> list[Record]:
    """0x95 (JC100/JC400 dashcams). 7 content bytes: time 6 + event 1. Longer: a position (JC400 form
    when it starts FF FF), event 1, event data 2, then the names of the video files recorded."""
    r = Reader(ctx.packet.content)
    fix = FixFields()
    extended = len(ctx.packet.content) > 7
    if not extended:
        fix.time = read_time(r.take(6))
    elif ctx.packet.content[:2] == b"\xff\xff":
        part_gps_jc400(r, fix)
    else:
        part_gps_no_speed(r, fix)
    code = r.u8()
    fix.details["dashcam_event"] = code
    if extended:
        r.u16()  # event data
    # Traccar: 0x01 is SOS only with a position; codes outside the table are events, not alarms.
    fix.add_alarm(Alarm.GENERAL if code == 0x01 and not extended else DASHCAM_ALARMS.get(code))
    records = fix_records(ctx, fix)
    files = ascii_text(r.rest())
    if files:
        records.append(Event(protocol=NAME, device_id=ctx.device_id, time=fix.time, event="dashcam_files", text=files))
    return records


# JC100 event codes (Traccar MSG_ALARM); 0x01 is SOS only in the positioned form.
DASHCAM_ALARMS: dict[int, Alarm] = {
    0x01: Alarm.SOS, 0x0E: Alarm.LOW_POWER, 0x76: Alarm.TEMPERATURE, 0x80: Alarm.VIBRATION, 0x87: Alarm.OVERSPEED,
    0x88: Alarm.POWER_CUT, 0x90: Alarm.HARSH_ACCELERATION, 0x91: Alarm.HARSH_BRAKING, 0x92: Alarm.HARSH_CORNERING,
    0x93: Alarm.ACCIDENT,
}


def decode_serial_data(ctx: Context) -> list[Record]:
    """0x9B (transparent serial data): external device type 1, the device's bytes; text when printable."""
    r = Reader(ctx.packet.content)
    details: dict = {"device_type": r.u8()}
    raw = r.rest()
    text = None
    if raw and all(0x20 <= b < 0x7F or b in b"\r\n\t" for b in raw):
        text = raw.decode("ascii").strip()
    else:
        details["data_hex"] = raw.hex()
    return [Event(protocol=NAME, device_id=ctx.device_id, event="serial_data", text=text, details=details)]


def decode_wifi_binary_time(ctx: Context) -> list[Record]:
    """0xF3 (Wi-Fi, no cells): time 6, access point count 1, then per access point 2 bytes (zero in every
    capture) + MAC 6. Traccar reads the time as BCD; the sample's 14 0C 0B 0A 26 2A is no BCD but a binary
    2020-12-11 10:38:42."""
    r = Reader(ctx.packet.content)
    fix = FixFields(time=read_time(r.take(6)))
    for _ in range(r.u8()):
        signal = r.u16()
        add_wifi(fix, r.take(6), signal if 0 < signal < 0x100 else None)
    return fix_records(ctx, fix)


def decode_az735(alarm: bool) -> Decoder:
    """0x32 (GPS) / 0x33 (alarm) of AZ735 trackers, 79 79 frames: GPS with its length, cells, status."""

    def decode(ctx: Context) -> list[Record]:
        fix = FixFields()
        r = Reader(ctx.packet.content)
        part_gps_with_length(r, fix)
        part_az735_cells(r, fix)
        if alarm:
            fix.add_alarm(AZ735_ALARMS.get(int(fix.details["status"])))
        return fix_records(ctx, fix)

    return decode


def decode_0x32(ctx: Context) -> list[Record]:
    """0x32: AZ735 GPS in 79 79 frames; SL4X GPS + LBS + status in 78 78 frames of length 0x27/0x29."""
    if ctx.packet.long:
        return decode_az735(alarm=False)(ctx)
    return by_length("0x32", {0x27: sl4x_gps_lbs_status, 0x29: sl4x_gps_lbs_status}, None)(ctx)


sl4x_gps_lbs_status = location(part_gps, with_lbs_length(part_cell_sl4x), part_status_sl4x)


def decode_obd(ctx: Context) -> list[Record]:
    """0x8C (FM08ABC OBD): time 6, ignition 1, `PID=hex value,...` text, 12 trailing bytes nobody
    documents. PIDs (first two hex digits): 28 odometer, 2B fuel level, 2D coolant, 35 speed, 36 rpm,
    47 fuel used, 49 engine hours (values 1/100), 4A VIN."""
    r = Reader(ctx.packet.content)
    time = read_time(r.take(6))
    details: dict = {"ignition": r.u8() > 0}
    text = ascii_text(r.rest(keep=12))
    for pair in text.split(","):
        key, _, value = pair.partition("=")
        name = OBD_PIDS.get(key[:2].upper())
        if name == "vin" and value:
            details["vin"] = value
        elif name and re.fullmatch(r"[0-9a-fA-F]{1,8}", value):
            details[name] = int(value, 16) / 100
    return [Event(protocol=NAME, device_id=ctx.device_id, time=time, event="obd", text=text, details=details)]


OBD_PIDS = {"28": "odometer", "2B": "fuel_level", "2D": "coolant_c", "35": "obd_speed_kmh", "36": "rpm",
            "47": "fuel_used", "49": "engine_hours", "4A": "vin"}


# 0x70 module events (Traccar MSG_GPS_MODULAR module 0x34)
MODULAR_EVENTS: dict[int, Alarm] = {
    0x10: Alarm.DOOR, 0x12: Alarm.REMOVAL, 0x14: Alarm.GEOFENCE_ENTER, 0x15: Alarm.GEOFENCE_EXIT,
    0x16: Alarm.TEMPERATURE, 0x1A: Alarm.LOW_BATTERY, 0x1B: Alarm.OVERSPEED, 0x1C: Alarm.POWER_ON,
    0x1D: Alarm.POWER_OFF, 0x20: Alarm.VIBRATION, 0x21: Alarm.POWER_CUT, 0x23: Alarm.TAMPER,
}


def _module_gps(m: Reader, fix: FixFields) -> None:
    """0x33: Unix time 4, satellites 1, altitude 2 (signed m), lat 4, lon 4, speed 1, course/status 2."""
    fix.time = read_unix_time(m.uint(4))
    fix.satellites = m.u8()
    fix.altitude_m = float(m.s16())
    lat_raw, lon_raw, speed, flags = struct.unpack(">IIBH", m.take(11))
    fix.speed_kmh = float(speed)
    set_coordinates(fix, lat_raw, lon_raw, flags)


def _module_cell(m: Reader, fix: FixFields) -> None:
    """0x11: MCC 2, MNC 2, LAC 2, CI 3, RSSI 1."""
    mcc, mnc, lac, ci, rssi = m.u16(), m.u16(), m.u16(), m.uint(3), m.u8()
    add_cell(fix, mcc & 0x7FFF, mnc, lac, ci, -rssi if rssi else None)


def _module_event(m: Reader, fix: FixFields) -> None:
    code = m.u8()
    fix.details["event"] = code
    fix.add_alarm(MODULAR_EVENTS.get(code))


def _module_ble_tag(m: Reader, fix: FixFields) -> None:
    """0x7F: tag MAC 6, battery 2 (mV), battery % 1, temperature 2 (1/10 degC), humidity 2, status 1."""
    fix.ble.append(Ble(mac=mac(m.take(6))))
    millivolts, percent, temperature = m.u16(), m.u8(), m.s16()
    if millivolts not in (0x7FFF, 0xFFFF):  # "no reading" (the sample's tag sends 7FFF)
        fix.details["tag_battery_v"] = millivolts / 1000
    fix.details.update(tag_battery_pct=percent, tag_temperature_c=temperature / 10)


MODULES: dict[int, Callable[[Reader, FixFields], None]] = {
    0x03: lambda m, fix: fix.details.update(iccid=read_iccid(m.take(10))),
    0x09: lambda m, fix: setattr(fix, "satellites", m.u8()),
    0x11: _module_cell,
    0x18: lambda m, fix: setattr(fix, "battery_v", m.u16() / 100),
    0x28: lambda m, fix: setattr(fix, "hdop", m.u8() / 10),
    0x2E: lambda m, fix: fix.details.update(odometer=int.from_bytes(m.take(4), "little")),
    0x33: _module_gps,
    0x34: _module_event,
    0x7F: _module_ble_tag,
}


def decode_modular(ctx: Context) -> list[Record]:
    """0x70 (Jimi modular GPS): modules of type 2, length 2, value; unknown modules are skipped."""
    r = Reader(ctx.packet.content)
    fix = FixFields()
    while r.remaining:
        module, size = r.u16(), r.u16()
        value = Reader(r.take(size))
        reader = MODULES.get(module)
        if reader is not None:
            reader(value, fix)
    records = fix_records(ctx, fix)
    if fix.time is None and fix.lat is None and not (fix.cells or fix.wifi or fix.ble or fix.alarms):
        records = records[1:]  # nothing positional: no empty Position
    return records


def decode_peripheral(ctx: Context) -> list[Record]:
    """0xF2 (VL842 peripherals): Unix time 4, then items of ID 2: 0x000A BLE device (length 2, MAC type 1,
    MAC 6, event 1, event data 1, data type 1, data), 0x000C external battery (length 1, level 1,
    charging 1, cycles 2, 6 reserved), others length 1 (0: the next byte is the length) + data."""
    r = Reader(ctx.packet.content)
    time = read_unix_time(r.uint(4))
    details: dict = {}
    text = None
    while r.remaining:
        item = r.u16()
        if item == 0x000A:
            body = Reader(r.take(r.u16()))
            body.u8()
            details.update(ble_mac=mac(body.take(6)), ble_event=body.u8(), ble_event_data=body.u8(),
                           ble_data_type=body.u8())
            text = ascii_text(body.rest()) or None
        elif item == 0x000C:
            body = Reader(r.take(r.u8()))
            details.update(external_battery_pct=body.u8(), external_charging=body.u8() > 0,
                           external_battery_cycles=body.u16())
        else:
            size = r.u8()
            r.take(size or r.u8())
    return [Event(protocol=NAME, device_id=ctx.device_id, time=time, event="peripheral", text=text, details=details)]


def decode_device_status(ctx: Context) -> list[Record]:
    """0xF1 (Jimi 4G device status): Unix time 4, then items of ID 2, length 1, value: 0001 motion
    (02/04 moving), 0002 armed, 0004 ignition, 0005 external voltage (1/100 V), 0007 charging; others skipped."""
    r = Reader(ctx.packet.content)
    time = read_unix_time(r.uint(4))
    details: dict = {}
    while r.remaining:
        item, value = r.u16(), Reader(r.take(r.u8()))
        if item == 0x0001:
            details["moving"] = value.u8() in (0x02, 0x04)
        elif item == 0x0002:
            details["armed"] = value.u8() > 0
        elif item == 0x0004:
            details["ignition"] = value.u8() > 0
        elif item == 0x0005:
            details["external_v"] = value.u16() / 100
        elif item == 0x0007:
            details["charging"] = value.u8() > 0
    return [Event(protocol=NAME, device_id=ctx.device_id, time=time, event="device_status", details=details)]
