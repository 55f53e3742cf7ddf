"""Field readers: a bounds-checked `Reader`, times, IMEI, alarm tables, and the `part_*` readers that
location decoders are composed of (each reads one block of a packet into a `FixFields`)."""

from __future__ import annotations

import calendar
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from protocols.base import Malformed
from schemas.alarms import Alarm
from schemas.records import Ble, Cell, Wifi


# --------------------------------------------------------------------------------------------
# Field readers
# --------------------------------------------------------------------------------------------

class Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed(f"content ends after {len(self.data)} bytes, {self.pos + n} needed")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def s16(self) -> int:
        return int.from_bytes(self.take(2), "big", signed=True)

    def s32(self) -> int:
        return int.from_bytes(self.take(4), "big", signed=True)

    def rest(self, keep: int = 0) -> bytes:
        """Everything but the last `keep` bytes."""
        return self.take(max(self.remaining - keep, 0))


def read_time(raw: bytes) -> datetime | None:
    """yy mm dd hh mm ss, binary, UTC; an impossible date (e.g. all zero before a fix) is None."""
    year, month, day, hour, minute, second = raw[0] + 2000, raw[1], raw[2], raw[3], raw[4], raw[5]
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and second < 60):
        return None
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def read_unix_time(seconds: int) -> datetime | None:
    """Seconds since 1970 (0x70 GPS module, 0xF2); 0 means no time."""
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds else None


def read_bcd_time(raw: bytes) -> datetime | None:
    """The same six fields written as BCD digits (365GPS Wi-Fi frames)."""
    digits = raw.hex()
    if not digits.isdigit():
        return None
    return read_time(bytes(int(digits[i:i + 2]) for i in range(0, 12, 2)))


def read_imei(raw: bytes) -> str:
    """8 BCD bytes, a leading 0 nibble before the 15 IMEI digits."""
    digits = raw.hex()
    if not digits.isdigit():
        raise Malformed(f"terminal ID {digits} is not BCD")
    return digits[1:] if len(digits) == 16 and digits[0] == "0" else digits


def read_iccid(raw: bytes) -> str:
    """ICCID as BCD, `F`-padded. Every ICCID starts with 89 (ITU-T E.118); a device that copies the SIM's
    EF_ICCID as stored (nibbles swapped, ETSI TS 102 221) is read back by swapping them."""
    straight = raw.hex().rstrip("f")
    swapped = bytes((b >> 4) | (b & 0x0F) << 4 for b in raw).hex().rstrip("f")
    for digits in (straight, swapped):
        if digits.startswith("89") and digits.isdigit():
            return digits
    raise Malformed(f"ICCID {raw.hex()} is not BCD digits starting with 89")


def mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(slots=True)
class FixFields:
    """What the parts of a location packet fill in; becomes a Position (and, for the scalars a
    Position has no column for, a Telemetry reading and a `fix_details` event)."""

    time: datetime | None = None
    valid: bool | None = None
    lat: float | None = None
    lon: float | None = None
    altitude_m: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    battery_pct: int | None = None
    rssi: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    ble: list[Ble] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    battery_v: float | None = None  # -> Telemetry
    details: dict[str, str | int | float | bool] = field(default_factory=dict)  # -> fix_details Event

    def add_alarm(self, alarm: Alarm | None) -> None:
        if alarm is not None and alarm not in self.alarms:
            self.alarms.append(alarm)


# Course/status word (document 0x22 "Course and Status"): bit 12 positioned, bit 11 west, bit 10 north.
_POSITIONED, _WEST, _NORTH = 1 << 12, 1 << 11, 1 << 10


def set_coordinates(fix: FixFields, lat_raw: int, lon_raw: int, flags: int) -> None:
    """Coordinates (raw / 1 800 000) and the course/status word."""
    fix.valid = bool(flags & _POSITIONED)
    course = flags & 0x3FF
    fix.course_deg = float(course) if course <= 360 else None
    lat, lon = lat_raw / 1_800_000, lon_raw / 1_800_000
    if (lat_raw or lon_raw) and lat <= 90 and lon <= 180:  # all zero: no position was ever taken
        fix.lat = round(lat if flags & _NORTH else -lat, 6)
        fix.lon = round(-lon if flags & _WEST else lon, 6)


def part_gps(r: Reader, fix: FixFields) -> None:
    """Date/time 6, GPS info 1 (length nibble, satellites nibble), lat 4, lon 4, speed 1, course/status 2."""
    fix.time = read_time(r.take(6))
    fix.satellites = r.u8() & 0x0F
    lat_raw, lon_raw, speed, flags = struct.unpack(">IIBH", r.take(11))
    fix.speed_kmh = float(speed)
    set_coordinates(fix, lat_raw, lon_raw, flags)


def part_gps_with_length(r: Reader, fix: FixFields) -> None:
    """AZ735 0x32/0x33: date/time 6, GPS length 1; length 0 means no GPS block follows."""
    fix.time = read_time(r.take(6))
    size = r.u8()
    if size == 0:
        return
    block = Reader(r.take(size))
    fix.satellites = block.u8() & 0x0F
    lat_raw, lon_raw, speed, flags = struct.unpack(">IIBH", block.take(11))
    fix.speed_kmh = float(speed)
    set_coordinates(fix, lat_raw, lon_raw, flags)


def part_gps_no_speed(r: Reader, fix: FixFields) -> None:
    """JC100 0x95 with position: date/time 6, lat 4, lon 4, course/status 2 (no satellites, no speed)."""
    fix.time = read_time(r.take(6))
    lat_raw, lon_raw, flags = struct.unpack(">IIH", r.take(10))
    set_coordinates(fix, lat_raw, lon_raw, flags)


def part_gps_jc400(r: Reader, fix: FixFields) -> None:
    """JC400 0x95: marker FFFF 2, version 1, date/time 6, satellites 1, lat 4, lon 4, course/status 2,
    speed 2, then external voltage 2 (1/10 V)."""
    r.take(3)
    fix.time = read_time(r.take(6))
    fix.satellites = r.u8() & 0x0F
    lat_raw, lon_raw, flags, speed = struct.unpack(">IIHH", r.take(12))
    fix.speed_kmh = float(speed)
    set_coordinates(fix, lat_raw, lon_raw, flags)
    fix.details["external_v"] = r.u16() / 10


def mcc_mnc(r: Reader, wide_mnc: bool = False) -> tuple[int, int]:
    """MCC 2 bytes; its bit 15 set means a 2-byte MNC follows (document, 0xA0 "MCC Bits")."""
    mcc = r.u16()
    mnc = r.u16() if wide_mnc or mcc & 0x8000 else r.u8()
    return mcc & 0x7FFF, mnc


def add_cell(fix: FixFields, mcc: int, mnc: int, lac: int, cid: int, rssi: int | None = None) -> None:
    cell = Cell(mcc=mcc, mnc=mnc, lac=lac, cid=cid, rssi=rssi)
    if mcc and lac and cell not in fix.cells:  # zero slots are padding; 4G frames repeat the serving cell
        fix.cells.append(cell)


def signal_dbm(raw: int) -> int:
    """Signal byte as dBm: most devices send the magnitude (0x38 = -56 dBm), GK310 4G Wi-Fi lists a
    signed byte (0xD1 = -47 dBm); both read right this way."""
    return raw - 256 if raw >= 0x80 else -raw


def add_wifi(fix: FixFields, raw_mac: bytes, raw_signal: int | None) -> None:
    if any(raw_mac):  # all-zero MACs fill unused slots
        fix.wifi.append(Wifi(mac=mac(raw_mac), rssi=signal_dbm(raw_signal) if raw_signal else None))


def cell_part(lac_size: int, cid_size: int, wide_mnc: bool = False) -> Callable[[Reader, FixFields], None]:
    """A serving cell: MCC 2, MNC 1|2, LAC `lac_size`, Cell ID `cid_size` (2G 2/3, 4G 4/8...)."""

    def part(r: Reader, fix: FixFields) -> None:
        mcc, mnc = mcc_mnc(r, wide_mnc)
        add_cell(fix, mcc, mnc, r.uint(lac_size), r.uint(cid_size))

    return part


part_cell = cell_part(2, 3)  # 2G serving cell (document 0x22)
part_cell_wide = cell_part(2, 4, wide_mnc=True)  # 0x11 (Traccar MSG_GPS_LBS_6)
part_cell_cid4 = cell_part(2, 4)  # SEEWORLD 0x16, TRX16I 0x36, 0x34 X1
part_cell_4g = cell_part(4, 8)  # 4G (document 0xA0)
part_cell_sl4x = cell_part(2, 4, wide_mnc=True)  # SL4X 0x32: 2-byte MNC, 4-byte Cell ID


def with_lbs_length(cell: Callable[[Reader, FixFields], None], trust_length: bool = True
                     ) -> Callable[[Reader, FixFields], None]:
    """Alarm packets put an LBS length byte (counting itself) before the cell. `trust_length=False`
    for devices whose byte there is no length (GK310 0xA3 sends 0x39 before a 16-byte cell)."""

    def part(r: Reader, fix: FixFields) -> None:
        start = r.pos
        length = r.u8()
        if length == 0:
            # No cell. One device pads 45 zero bytes instead (Traccar decodeLbs, frame 0x16 "78784A16...").
            pad = r.data[r.pos + 9:r.pos + 45]
            if r.remaining >= 45 + 5 and not any(pad):
                r.take(45)
            return
        cell(r, fix)
        if trust_length and r.pos - start < length:
            r.take(length - (r.pos - start))

    return part


# Voltage level 0-6 (document "Voltage Level") as a percentage, linear as Traccar reports it.
VOLTAGE_LEVEL_PCT = {0: 0, 1: 17, 2: 33, 3: 50, 4: 67, 5: 83, 6: 100}


def battery_from_level(level: int) -> int | None:
    """0-6 is the documented level; a few devices put a percentage there (Traccar Gt06ProtocolDecoder)."""
    if level in VOLTAGE_LEVEL_PCT:
        return VOLTAGE_LEVEL_PCT[level]
    return level if level <= 100 else None


def gsm_level(value: int) -> int | None:
    return value if value <= 4 else None


# Alarm byte (document "Alert and Language", byte 1). Codes the document marks as mere events (GPS
# blind spot, first fix, deep sleep, ACC on/off) map to None; codes nobody documents become GENERAL.
ALARM_CODES: dict[int, Alarm | None] = {
    0x00: None,
    0x01: Alarm.SOS,
    0x02: Alarm.POWER_CUT,
    0x03: Alarm.VIBRATION,
    0x04: Alarm.GEOFENCE_ENTER,
    0x05: Alarm.GEOFENCE_EXIT,
    0x06: Alarm.OVERSPEED,
    0x09: Alarm.MOVEMENT,  # "tow/theft": moved while armed
    0x0A: None,  # entered GPS blind spot
    0x0B: None,  # left GPS blind spot
    0x0C: Alarm.POWER_ON,
    0x0D: None,  # GPS first fix
    0x0E: Alarm.LOW_POWER,  # low *external* battery
    0x0F: Alarm.LOW_POWER,  # external battery low-voltage protection
    0x10: Alarm.GENERAL,  # SIM changed
    0x11: Alarm.POWER_OFF,
    0x12: Alarm.LOW_POWER,  # airplane mode after external low-voltage protection
    0x13: Alarm.TAMPER,
    0x14: Alarm.DOOR,
    0x15: Alarm.POWER_OFF,  # powered off because the battery is low
    0x16: Alarm.GENERAL,  # sound-control alert
    0x17: Alarm.JAMMING,  # rogue base station detected
    0x18: Alarm.REMOVAL,  # cover removed
    0x19: Alarm.LOW_BATTERY,  # low internal battery
    0x1A: Alarm.HARSH_BRAKING,  # Traccar, not in the document
    0x1B: Alarm.HARSH_CORNERING,  # Traccar, not in the document
    0x20: None,  # entered deep sleep
    0x23: Alarm.FALL,
    0x25: Alarm.TAMPER,  # Traccar, not in the document
    0x28: Alarm.HARSH_BRAKING,  # Traccar, not in the document
    0x29: Alarm.HARSH_ACCELERATION,
    0x2A: Alarm.HARSH_CORNERING,  # sharp left
    0x2B: Alarm.HARSH_CORNERING,  # sharp right
    0x2C: Alarm.ACCIDENT,  # collision
    0x2E: Alarm.HARSH_CORNERING,  # Traccar, not in the document
    0x30: Alarm.HARSH_BRAKING,
    0x32: Alarm.POWER_CUT,  # device unplugged
    0xFE: None,  # ACC on
    0xFF: None,  # ACC off
}


def alarm_from_code(code: int) -> Alarm | None:
    return ALARM_CODES.get(code, Alarm.GENERAL)


# Terminal information bits 3-5 (document, alarm packet "Terminal Information"); 7 is not in the
# document but Traccar reads it as removal, and a real 0x16 frame carries it.
INFO_ALARMS = {1: Alarm.VIBRATION, 2: Alarm.POWER_CUT, 3: Alarm.LOW_BATTERY, 4: Alarm.SOS, 7: Alarm.REMOVAL}


def terminal_info(info: int) -> dict[str, bool]:
    """Terminal information byte: bit7 oil/power cut, bit6 GPS positioned, bit2 charging, bit1 ACC, bit0 armed."""
    return {
        "output_cut": bool(info & 0x80),
        "gps_positioned": bool(info & 0x40),
        "charging": bool(info & 0x04),
        "acc": bool(info & 0x02),
        "armed": bool(info & 0x01),
    }


def part_status(r: Reader, fix: FixFields) -> None:
    """Terminal info 1, voltage level 1, GSM level 1, alarm 1, language 1."""
    part_status_no_code(r, fix)
    if r.remaining:
        fix.add_alarm(alarm_from_code(r.u8()))


def part_status_no_code(r: Reader, fix: FixFields) -> None:
    """Terminal info 1, voltage level 1, GSM level 1: the VXT01 form, whose next byte is no alarm code."""
    info = r.u8()
    fix.battery_pct = battery_from_level(r.u8())
    fix.rssi = gsm_level(r.u8())
    fix.add_alarm(INFO_ALARMS.get((info >> 3) & 0x07))


def part_status_sl4x(r: Reader, fix: FixFields) -> None:
    """SL4X 0x32: terminal info, voltage level, GSM level, alarm, language; the 0x29-long form then
    has altitude 2 (signed, m). The sample's position (-22.89, -47.12, Campinas) and 02AF = 687 m agree."""
    part_status(r, fix)
    r.u8()  # language
    if r.remaining >= 2:
        fix.altitude_m = float(r.s16())


def part_multi_cell(cell_size: tuple[int, int]) -> Callable[[Reader, FixFields], None]:
    """Time 6, MCC 2, MNC 1|2, then 7 cells of LAC, CI, RSSI, then timing advance 1 (0x18/0x28/0xA1)."""
    lac_size, ci_size = cell_size

    def part(r: Reader, fix: FixFields) -> None:
        fix.time = read_time(r.take(6))
        mcc, mnc = mcc_mnc(r)
        for _ in range(7):
            lac, ci, rssi = r.uint(lac_size), r.uint(ci_size), r.u8()
            add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))
        r.u8()  # timing advance

    return part


def part_counted_cells(r: Reader, fix: FixFields) -> None:
    """WANWAY S20 0x24: time 6, timing advance 1, MCC 2, MNC 1|2, cell count 1, cells (LAC 2, CI 3,
    RSSI 1); zero padding follows."""
    fix.time = read_time(r.take(6))
    r.u8()  # timing advance
    mcc, mnc = mcc_mnc(r)
    for _ in range(r.u8()):
        lac, ci, rssi = r.u16(), r.uint(3), r.u8()
        add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))


def part_wifi_list(r: Reader, fix: FixFields) -> None:
    """Count 1, then MAC 6 + signal 1 per access point."""
    for _ in range(r.u8()):
        add_wifi(fix, r.take(6), r.u8())


def part_ignition_power_battery(r: Reader, fix: FixFields) -> None:
    """SR411 mini 0x24: ignition 1, external voltage 2 and battery voltage 2 (1/100 V). The sample's
    12.61 V and 4.04 V show which is which; what follows is not documented and not read."""
    fix.details["ignition"] = r.u8() > 0
    fix.details["external_v"] = r.u16() / 100
    fix.battery_v = r.u16() / 100


def part_trx16i(r: Reader, fix: FixFields) -> None:
    """TRX16I/VL103 0x36 location: ignition 1, upload mode 1, re-upload 1, odometer 4, external voltage 2
    (1/100 V), battery 1 (1/10 V), working time 3 (minutes), RFID 8 (all zero: no card)."""
    fix.details["ignition"] = r.u8() > 0
    r.take(2)  # upload mode, re-upload flag
    fix.details["odometer"] = r.uint(4)
    fix.details["external_v"] = r.u16() / 100
    fix.battery_v = r.u8() / 10
    fix.details["working_min"] = r.uint(3)
    card = r.take(8)
    if any(card):
        fix.details["driver_id"] = card.hex()


def part_lw4g(r: Reader, fix: FixFields) -> None:
    """LW4G 0xA2 (length 0x40) after GPS and 4G cell: network 1, terminal info 1, external voltage 2
    (1/100 V), battery 1 (level or %), GSM level 1, alarm 1, language 1, odometer 4, working time 4 (s),
    terminal ID 8 (IMEI), inputs 2."""
    r.u8()  # network indicator
    info = r.u8()
    fix.add_alarm(INFO_ALARMS.get((info >> 3) & 0x07))
    fix.details["external_v"] = r.u16() / 100
    fix.battery_pct = battery_from_level(r.u8())
    fix.rssi = gsm_level(r.u8())
    fix.add_alarm(alarm_from_code(r.u8()))
    r.u8()  # language
    fix.details["odometer"] = r.uint(4)
    fix.details["working_s"] = r.uint(4)
    r.take(8)  # terminal ID: the IMEI already known from the login
    fix.details["inputs"] = r.u16()


def part_x1(r: Reader, fix: FixFields) -> None:
    """X1 0x34: data/alarm 4, GPS 18, terminal info 2, odometer 4, MCC 2, MNC 1, LAC 2, CI 4, driver 4,
    two voltages 2+2 (1/100 V), port info 4, inputs 1, outputs 1, then ADC values 2 each (count in
    port-info bits 20-23). Traccar names the first voltage battery; the sample's 12.80 V / 3.99 V are a
    vehicle supply and a Li-ion cell, so the first is read as the external supply."""
    r.take(4)
    part_gps(r, fix)
    r.take(2)
    fix.details["odometer"] = r.uint(4)
    part_cell_cid4(r, fix)
    driver = r.uint(4)
    if driver:
        fix.details["driver_id"] = str(driver)
    fix.details["external_v"] = r.u16() / 100
    fix.battery_v = r.u16() / 100
    ports = r.uint(4)
    fix.details["inputs"], fix.details["outputs"] = r.u8(), r.u8()
    for index in range(1, ((ports >> 20) & 0x0F) + 1):
        fix.details[f"adc{index}_v"] = r.u16() / 100


def part_lbs_8(r: Reader, fix: FixFields) -> None:
    """0x38 after GPS: upload mode 1, re-upload 1, cell type 1 (3+ = 4G: LAC 4, CI 8, RSSI 2; else
    LAC 2, CI 3, RSSI 1), MCC 2, MNC 1|2, then modules (type 2, length 1); 0x002E is the odometer."""
    r.take(2)
    cell_type = r.u8()
    mcc, mnc = mcc_mnc(r)
    if cell_type >= 3:
        lac, cid, rssi = r.uint(4), r.uint(8), r.u16()
    else:
        lac, cid, rssi = r.u16(), r.uint(3), r.u8()
    add_cell(fix, mcc, mnc, lac, cid, -rssi if rssi else None)
    while r.remaining >= 3:
        module, size = r.u16(), r.u8()
        value = r.take(size)
        if module == 0x002E and size == 4:
            fix.details["odometer"] = int.from_bytes(value, "big")


def part_az735_cells(r: Reader, fix: FixFields) -> None:
    """AZ735 0x32/0x33 after GPS: LBS length 1 (0: none), serving cell + RSSI 1, neighbour-cell length 1
    and cells of LAC 2, CI 3, RSSI 1, Wi-Fi length 1 (skipped), status 1, reserved length 1 + data."""
    size = r.u8()
    mcc = mnc = 0
    if size:
        cell = Reader(r.take(size - 1))
        mcc, mnc = mcc_mnc(cell)
        add_cell(fix, mcc, mnc, cell.u16(), cell.uint(3), -r.u8())
    neighbours = Reader(r.take(r.u8()))
    while neighbours.remaining >= 6 and mcc:
        lac, ci, rssi = neighbours.u16(), neighbours.uint(3), neighbours.u8()
        add_cell(fix, mcc, mnc, lac, ci, -rssi)
    r.take(r.u8())  # Wi-Fi access points
    fix.details["status"] = r.u8()
    r.take(r.u8())  # reserved extension


# AZ735 0x33 status byte (Traccar MSG_AZ735_ALARM): A0/A1 arm/disarm are states, not alarms.
AZ735_ALARMS: dict[int, Alarm] = {0xA2: Alarm.LOW_BATTERY, 0xA3: Alarm.LOW_BATTERY, 0xA4: Alarm.GENERAL,
                                  0xA5: Alarm.DOOR}


def part_sl4x_gps_lbs_5(r: Reader, fix: FixFields) -> None:
    """SL4X 0x31 after GPS and cell: ignition 1, upload reason 1, re-upload 1, odometer 4, altitude 2
    (signed m). The sample's 02A6 = 678 m and the 0x32 sample's 687 m come from the same place."""
    fix.details["ignition"] = r.u8() > 0
    fix.details["reason"] = r.u8()
    r.u8()  # re-upload flag
    fix.details["odometer"] = r.uint(4)
    fix.altitude_m = float(r.s16())


def part_ibutton(r: Reader, fix: FixFields) -> None:
    """0x61 iButton: IMEI 8 (already known), GPS, cell with a 4-byte Cell ID, then the key ID 6
    (written as one decimal number, Traccar's sample 000001395581 = 20534657)."""
    r.take(8)
    part_gps(r, fix)
    part_cell_cid4(r, fix)
    fix.details["driver_id"] = str(r.uint(6))


def part_rfid_card(r: Reader, fix: FixFields) -> None:
    """0x17 RFID variant (length 0x28) after GPS and cell: card ID 8, validity 1."""
    fix.details["driver_id"] = r.take(8).hex()
    r.u8()
