"""GT06 / Concox binary protocol: `78 78` short frames (1-byte length), `79 79` long frames (2-byte length).

    start(2) length(1|2) protocol(1) content(N) serial(2) crc(2) 0D 0A
    length = protocol + content + serial + crc;  crc = CRC-ITU (CRC-16/X-25) over length..serial

Sources (facts only, no code copied):
- Concox "GPS Tracker Communication Protocol JM-VL03 V1.1.2" (packet layouts, bit tables, alarm codes,
  reply examples), transcribed in github.com/fcode09/jimi-vl103m docs/README_VL03_Protocol.md.
- Traccar Gt06FrameDecoder.java (length first, delimiter as the fallback), Gt06ProtocolDecoder.java
  (layouts of variants the Concox document does not cover: 0x11, 0x23, 0x24, 0x2C, 0x32-0x34, 0x36,
  0x38, 0x70, 0x8C, 0x95, 0x9B, 0xA1-0xA3, 0xA5, 0xA7, 0xF2, 0xF3, the 365GPS-style frames without
  serial/CRC) and Gt06ProtocolEncoder.java (0x80 command packet). Where a real capture contradicts a
  layout read there (0x32 SL4X altitude, 0xA3/0xA7 cells, 0xF3 time) the capture wins; the tests say
  which bytes show it.

Error contract (protocols/base.py): a frame this module cannot use raises `Malformed`; every read
goes through the bounds-checked `Reader`, so no builtin exception stands for bad input.

Units: speed km/h, course degrees, coordinates degrees (raw / 1 800 000). `rssi` of a fix or event is
the GSM signal *level* 0-4 the protocol reports (there is nothing finer); `rssi` of a cell or Wi-Fi
access point is in dBm (see `signal_dbm`). Device times are taken as UTC, which is
what the Concox document specifies for 0x22/0x26/0xA0...; the time zone announced at login is kept
in the session and the login event but not applied.
"""

from __future__ import annotations

import calendar
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import crcmod.predefined

from protocols.base import (
    DEFAULT_MAX_FRAME,
    Command,
    Decoded,
    Detection,
    Frame,
    FrameError,
    Identified,
    Malformed,
    Session,
    Transport,
    UnsupportedCommand,
    hex_preview,
)
from schemas.alarms import Alarm
from schemas.records import Alert, Ble, Cell, Event, Position, Record, Telemetry, Wifi

NAME = "gt06"

SHORT = b"\x78\x78"
LONG = b"\x79\x79"
STOP = b"\r\n"

crc_itu = crcmod.predefined.mkCrcFun("x-25")  # CRC-ITU of the Concox document (init FFFF, reflected, xorout FFFF)


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport) -> Detection:
    """`78 78` or `79 79` start a GT06 frame; one lone 0x78/0x79 byte may still become one."""
    if not head:
        return Detection.NEED_MORE
    if head[0] not in (0x78, 0x79):
        return Detection.NO_MATCH
    if len(head) == 1:
        return Detection.NEED_MORE
    return Detection.MATCH if head[1] == head[0] else Detection.NO_MATCH


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def _header_length(long: bool) -> int:
    return 4 if long else 3


class Gt06Framer:
    """Cuts a byte stream into GT06 frames: by the declared length first, by `0D 0A` as the fallback.

    The rules depend only on the bytes, never on how they were chunked, so a stream fed whole, in
    pieces or byte by byte gives the same frames:

    1. A 15-byte 365GPS login (`78 78 0D 01` IMEI(8) version(1) `0D 0A`, no serial/CRC) ends at its
       own `0D 0A` although its length byte announces 18 bytes.
    2. The declared end: `0D 0A` right there ends the frame (the normal case); `0D 0A` two bytes
       later too (a device whose length byte is 2 short, Traccar Gt06FrameDecoder).
    3. Otherwise the length is wrong (365GPS 0x10/0x11/0x17/0x69 frames put other things in that
       byte): the frame ends at the first `0D 0A`, unless a start marker comes first, in which case
       the bytes before it are thrown away and framing restarts there.

    A frame never waits for more than `max_frame` bytes; a partial frame above it is discarded as a
    FrameError. Searches resume where they stopped, so byte-at-a-time input stays linear.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._start = 0  # where the current frame (or garbage) begins in _buf
        self._fallback = False  # the declared length was rejected for the current frame
        self._crlf_from = 0  # offsets from _start where the searches resume
        self._marker_from = 0
        self._max = max(max_frame, 32)  # a frame header must fit, and an error must hold at least a byte

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._start

    def next(self) -> Frame | FrameError | None:
        item = self._next()
        if item is not None:
            self._compact()
        return item

    # -- internals ------------------------------------------------------------------------

    def _emit(self, length: int) -> bytes:
        data = bytes(self._buf[self._start:self._start + length])
        self._start += length
        self._fallback = False
        self._crlf_from = self._marker_from = 0
        return data

    def _compact(self) -> None:
        if self._start >= len(self._buf):
            self._buf.clear()
            self._start = 0
        elif self._start > 4096 and self._start * 2 > len(self._buf):
            del self._buf[:self._start]
            self._start = 0

    def _find_marker(self, begin: int, end: int) -> int:
        """Offset (from _start) of the first `78 78`/`79 79` in [begin, end), or -1."""
        s = self._start
        found = (self._buf.find(SHORT, s + begin, s + end), self._buf.find(LONG, s + begin, s + end))
        hits = [i for i in found if i >= 0]
        return min(hits) - s if hits else -1

    def _next(self) -> Frame | FrameError | None:
        buf, s = self._buf, self._start
        n = len(buf) - s
        if n == 0:
            return None
        if buf[s] not in (0x78, 0x79) or (n >= 2 and buf[s + 1] != buf[s]):
            return self._skip_garbage(n)
        if n < 2:
            return None
        long = buf[s] == 0x79
        header = _header_length(long)
        if n < header + 1:
            return None
        declared = int.from_bytes(buf[s + 2:s + header], "big") + header + 2
        if not self._fallback:
            if not long and declared == 18 and buf[s + 3] == 0x01:
                if n < 15:
                    return None
                if buf[s + 13:s + 15] == STOP:  # rule 1
                    return Frame(self._emit(15))
            verdict = self._by_length(declared, n)
            if verdict is not None:
                return verdict
            if not self._fallback:
                return None  # not enough bytes yet to accept or reject the declared length
        return self._by_delimiter(header, n)

    def _by_length(self, declared: int, n: int) -> Frame | None:
        """Rule 2; sets _fallback when the bytes contradict the declared length."""
        if declared > self._max:
            self._fallback = True
            return None
        if n < declared:
            return None
        s = self._start
        if self._buf[s + declared - 2:s + declared] == STOP:
            return Frame(self._emit(declared))
        if declared + 2 <= self._max:
            if n == declared:
                return None
            if self._buf[s + declared] == 0x0D:
                if n < declared + 2:
                    return None
                if self._buf[s + declared + 1] == 0x0A:
                    return Frame(self._emit(declared + 2))
        self._fallback = True
        return None

    def _by_delimiter(self, header: int, n: int) -> Frame | FrameError | None:
        """Rule 3: first `0D 0A` after the protocol byte, unless a start marker comes before it."""
        s = self._start
        crlf = self._buf.find(STOP, s + max(self._crlf_from, header + 1), s + n)
        end = crlf - s if crlf >= 0 else n
        marker = self._find_marker(max(self._marker_from, 2), end)
        if marker >= 0:
            return FrameError("GT06 frame length does not match its content; resynchronised at the next start marker",
                              self._emit(marker))
        if crlf >= 0:
            size = end + 2
            if size > self._max:
                return FrameError(f"GT06 frame of {size} bytes exceeds max_frame {self._max}", self._emit(size))
            return Frame(self._emit(size))
        # A CR or a marker's first byte may be the last byte seen: resume from there.
        self._crlf_from, self._marker_from = max(n - 1, header + 1), max(n - 1, 2)
        if n > self._max:
            return FrameError(f"no GT06 frame end within max_frame {self._max} bytes", self._emit(n - 1))
        return None

    def _skip_garbage(self, n: int) -> FrameError | None:
        """Bytes before a start marker: held until the marker shows up (one error, not one per byte)."""
        marker = self._find_marker(max(self._marker_from, 1), n)
        if marker >= 0:
            return FrameError("bytes before a GT06 start marker", self._emit(marker))
        self._marker_from = max(n - 1, 1)
        if n > self._max:
            keep = 1 if self._buf[-1] in (0x78, 0x79) else 0
            return FrameError("no GT06 start marker", self._emit(n - keep))
        return None


# --------------------------------------------------------------------------------------------
# Session and packet envelope
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Gt06Session(Session):
    command_serial: int = 0  # serial of the last 0x80 command sent on this connection
    tz_offset_min: int | None = None  # announced by the login packet; informational

    def next_command_serial(self) -> int:
        self.command_serial = self.command_serial % 0xFFFF + 1
        return self.command_serial


@dataclass(frozen=True, slots=True)
class Packet:
    """A GT06 packet without its envelope. `serial` is None for the 365GPS frames that carry none."""

    protocol: int
    content: bytes
    serial: int | None
    long: bool
    length_byte: int  # the raw length field (365GPS frames put a count there)


def build_packet(protocol: int, content: bytes, serial: int, long: bool = False) -> bytes:
    """A packet the server sends: same envelope, CRC over length..serial."""
    size = 1 + len(content) + 2 + 2
    if long:
        head = LONG + size.to_bytes(2, "big")
    else:
        if size > 0xFF:
            raise UnsupportedCommand(f"content of {len(content)} bytes does not fit a 78 78 packet")
        head = SHORT + bytes([size])
    body = head + bytes([protocol]) + content + serial.to_bytes(2, "big")
    return body + crc_itu(body[2:]).to_bytes(2, "big") + STOP


def open_packet(frame: bytes) -> Packet:
    """Check the envelope: markers, stop bytes, CRC. Frames without a valid CRC are accepted only
    when their length byte cannot describe them (the 365GPS variant); those have no serial."""
    if len(frame) < 6 or frame[:2] not in (SHORT, LONG) or frame[-2:] != STOP:
        raise Malformed("not a GT06 frame (start 7878/7979 ... end 0D0A)")
    long = frame[:2] == LONG
    header = _header_length(long)
    if len(frame) < header + 3:
        raise Malformed("GT06 frame too short")
    length_byte = int.from_bytes(frame[2:header], "big")
    protocol = frame[header]
    declared = length_byte + header + 2
    has_check = len(frame) >= header + 7  # room for serial and CRC
    if has_check and crc_itu(frame[2:-4]) == int.from_bytes(frame[-4:-2], "big"):
        if len(frame) not in (declared, declared + 2):
            raise Malformed(f"GT06 length field {length_byte} does not match a {len(frame)}-byte frame")
        return Packet(protocol, frame[header + 1:-6], int.from_bytes(frame[-6:-4], "big"), long, length_byte)
    if has_check and len(frame) in (declared, declared + 2):
        raise Malformed(f"bad CRC: frame says {frame[-4:-2].hex()}, computed {crc_itu(frame[2:-4]):04x}")
    if long:
        raise Malformed(f"GT06 length field {length_byte} does not match a {len(frame)}-byte frame")
    return Packet(protocol, frame[header + 1:-2], None, False, length_byte)


def ack(packet: Packet, protocol: int | None = None, content: bytes = b"") -> bytes:
    """The server's reply: same protocol number (unless told), same serial, same header style."""
    return build_packet(packet.protocol if protocol is None else protocol, content, packet.serial or 0, packet.long)


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


def mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(slots=True)
class FixFields:
    """What the parts of a location packet fill in; becomes a Position (and, for the scalars a
    Position has no column for, a Telemetry reading and a `vehicle_status` event)."""

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
    status: dict[str, str | int | float | bool] = field(default_factory=dict)  # -> vehicle_status Event

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
    fix.status["external_v"] = r.u16() / 10


def _mcc_mnc(r: Reader, wide_mnc: bool = False) -> tuple[int, int]:
    """MCC 2 bytes; its bit 15 set means a 2-byte MNC follows (document, 0xA0 "MCC Bits")."""
    mcc = r.u16()
    mnc = r.u16() if wide_mnc or mcc & 0x8000 else r.u8()
    return mcc & 0x7FFF, mnc


def _add_cell(fix: FixFields, mcc: int, mnc: int, lac: int, cid: int, rssi: int | None = None) -> None:
    cell = Cell(mcc=mcc, mnc=mnc, lac=lac, cid=cid, rssi=rssi)
    if mcc and lac and cell not in fix.cells:  # zero slots are padding; 4G frames repeat the serving cell
        fix.cells.append(cell)


def signal_dbm(raw: int) -> int:
    """Signal byte as dBm: most devices send the magnitude (0x38 = -56 dBm), GK310 4G Wi-Fi lists a
    signed byte (0xD1 = -47 dBm); both read right this way."""
    return raw - 256 if raw >= 0x80 else -raw


def _add_wifi(fix: FixFields, raw_mac: bytes, raw_signal: int | None) -> None:
    if any(raw_mac):  # all-zero MACs fill unused slots
        fix.wifi.append(Wifi(mac=mac(raw_mac), rssi=signal_dbm(raw_signal) if raw_signal else None))


def cell_part(lac_size: int, cid_size: int, wide_mnc: bool = False) -> Callable[[Reader, FixFields], None]:
    """A serving cell: MCC 2, MNC 1|2, LAC `lac_size`, Cell ID `cid_size` (2G 2/3, 4G 4/8...)."""

    def part(r: Reader, fix: FixFields) -> None:
        mcc, mnc = _mcc_mnc(r, wide_mnc)
        _add_cell(fix, mcc, mnc, r.uint(lac_size), r.uint(cid_size))

    return part


part_cell = cell_part(2, 3)  # 2G serving cell (document 0x22)
part_cell_wide = cell_part(2, 4, wide_mnc=True)  # 0x11 (Traccar MSG_GPS_LBS_6)
part_cell_cid4 = cell_part(2, 4)  # SEEWORLD 0x16, TRX16I 0x36, 0x34 X1
part_cell_4g = cell_part(4, 8)  # 4G (document 0xA0)
part_cell_sl4x = cell_part(2, 4, wide_mnc=True)  # SL4X 0x32: 2-byte MNC, 4-byte Cell ID


def _with_lbs_length(cell: Callable[[Reader, FixFields], None], trust_length: bool = True
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
        mcc, mnc = _mcc_mnc(r)
        for _ in range(7):
            lac, ci, rssi = r.uint(lac_size), r.uint(ci_size), r.u8()
            _add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))
        r.u8()  # timing advance

    return part


def part_counted_cells(r: Reader, fix: FixFields) -> None:
    """WANWAY S20 0x24: time 6, timing advance 1, MCC 2, MNC 1|2, cell count 1, cells (LAC 2, CI 3,
    RSSI 1); zero padding follows."""
    fix.time = read_time(r.take(6))
    r.u8()  # timing advance
    mcc, mnc = _mcc_mnc(r)
    for _ in range(r.u8()):
        lac, ci, rssi = r.u16(), r.uint(3), r.u8()
        _add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))


def part_wifi_list(r: Reader, fix: FixFields) -> None:
    """Count 1, then MAC 6 + signal 1 per access point."""
    for _ in range(r.u8()):
        _add_wifi(fix, r.take(6), r.u8())


def part_ignition_power_battery(r: Reader, fix: FixFields) -> None:
    """SR411 mini 0x24: ignition 1, external voltage 2 and battery voltage 2 (1/100 V). The sample's
    12.61 V and 4.04 V show which is which; what follows is not documented and not read."""
    fix.status["ignition"] = r.u8() > 0
    fix.status["external_v"] = r.u16() / 100
    fix.battery_v = r.u16() / 100


def part_trx16i(r: Reader, fix: FixFields) -> None:
    """TRX16I/VL103 0x36 location: ignition 1, upload mode 1, re-upload 1, odometer 4, external voltage 2
    (1/100 V), battery 1 (1/10 V), working time 3 (minutes), RFID 8 (all zero: no card)."""
    fix.status["ignition"] = r.u8() > 0
    r.take(2)  # upload mode, re-upload flag
    fix.status["odometer"] = r.uint(4)
    fix.status["external_v"] = r.u16() / 100
    fix.battery_v = r.u8() / 10
    fix.status["working_min"] = r.uint(3)
    card = r.take(8)
    if any(card):
        fix.status["driver_id"] = card.hex()


def part_lw4g(r: Reader, fix: FixFields) -> None:
    """LW4G 0xA2 (length 0x40) after GPS and 4G cell: network 1, terminal info 1, external voltage 2
    (1/100 V), battery 1 (level or %), GSM level 1, alarm 1, language 1, odometer 4, working time 4 (s),
    terminal ID 8 (IMEI), inputs 2."""
    r.u8()  # network indicator
    info = r.u8()
    fix.add_alarm(INFO_ALARMS.get((info >> 3) & 0x07))
    fix.status["external_v"] = r.u16() / 100
    fix.battery_pct = battery_from_level(r.u8())
    fix.rssi = gsm_level(r.u8())
    fix.add_alarm(alarm_from_code(r.u8()))
    r.u8()  # language
    fix.status["odometer"] = r.uint(4)
    fix.status["working_s"] = r.uint(4)
    r.take(8)  # terminal ID: the IMEI already known from the login
    fix.status["inputs"] = r.u16()


def part_x1(r: Reader, fix: FixFields) -> None:
    """X1 0x34: data/alarm 4, GPS 18, terminal info 2, odometer 4, MCC 2, MNC 1, LAC 2, CI 4, driver 4,
    two voltages 2+2 (1/100 V), port info 4, inputs 1, outputs 1, then ADC values 2 each (count in
    port-info bits 20-23). Traccar names the first voltage battery; the sample's 12.80 V / 3.99 V are a
    vehicle supply and a Li-ion cell, so the first is read as the external supply."""
    r.take(4)
    part_gps(r, fix)
    r.take(2)
    fix.status["odometer"] = r.uint(4)
    part_cell_cid4(r, fix)
    driver = r.uint(4)
    if driver:
        fix.status["driver_id"] = str(driver)
    fix.status["external_v"] = r.u16() / 100
    fix.battery_v = r.u16() / 100
    ports = r.uint(4)
    fix.status["inputs"], fix.status["outputs"] = r.u8(), r.u8()
    for index in range(1, ((ports >> 20) & 0x0F) + 1):
        fix.status[f"adc{index}_v"] = r.u16() / 100


def part_lbs_8(r: Reader, fix: FixFields) -> None:
    """0x38 after GPS: upload mode 1, re-upload 1, cell type 1 (3+ = 4G: LAC 4, CI 8, RSSI 2; else
    LAC 2, CI 3, RSSI 1), MCC 2, MNC 1|2, then modules (type 2, length 1); 0x002E is the odometer."""
    r.take(2)
    cell_type = r.u8()
    mcc, mnc = _mcc_mnc(r)
    if cell_type >= 3:
        lac, cid, rssi = r.uint(4), r.uint(8), r.u16()
    else:
        lac, cid, rssi = r.u16(), r.uint(3), r.u8()
    _add_cell(fix, mcc, mnc, lac, cid, -rssi if rssi else None)
    while r.remaining >= 3:
        module, size = r.u16(), r.u8()
        value = r.take(size)
        if module == 0x002E and size == 4:
            fix.status["odometer"] = int.from_bytes(value, "big")


def part_az735_cells(r: Reader, fix: FixFields) -> None:
    """AZ735 0x32/0x33 after GPS: LBS length 1 (0: none), serving cell + RSSI 1, neighbour-cell length 1
    and cells of LAC 2, CI 3, RSSI 1, Wi-Fi length 1 (skipped), status 1, reserved length 1 + data."""
    size = r.u8()
    mcc = mnc = 0
    if size:
        cell = Reader(r.take(size - 1))
        mcc, mnc = _mcc_mnc(cell)
        _add_cell(fix, mcc, mnc, cell.u16(), cell.uint(3), -r.u8())
    neighbours = Reader(r.take(r.u8()))
    while neighbours.remaining >= 6 and mcc:
        lac, ci, rssi = neighbours.u16(), neighbours.uint(3), neighbours.u8()
        _add_cell(fix, mcc, mnc, lac, ci, -rssi)
    r.take(r.u8())  # Wi-Fi access points
    fix.status["status"] = r.u8()
    r.take(r.u8())  # reserved extension


# AZ735 0x33 status byte (Traccar MSG_AZ735_ALARM): A0/A1 arm/disarm are states, not alarms.
AZ735_ALARMS: dict[int, Alarm] = {0xA2: Alarm.LOW_BATTERY, 0xA3: Alarm.LOW_BATTERY, 0xA4: Alarm.GENERAL,
                                  0xA5: Alarm.DOOR}


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
    voltage, and a `vehicle_status` Event for scalars a Position has no column for."""
    position = Position(
        protocol=NAME, device_id=ctx.device_id, time=fix.time, valid=fix.valid, lat=fix.lat, lon=fix.lon,
        altitude_m=fix.altitude_m, speed_kmh=fix.speed_kmh, course_deg=fix.course_deg, satellites=fix.satellites,
        hdop=fix.hdop, battery_pct=fix.battery_pct, rssi=fix.rssi, cells=fix.cells, wifi=fix.wifi, ble=fix.ble,
        alarms=list(fix.alarms),
    )
    records: list[Record] = [position, *(Alert.from_fix(position, alarm) for alarm in fix.alarms)]
    if fix.battery_v is not None:
        records.append(Telemetry(protocol=NAME, device_id=ctx.device_id, time=fix.time, battery_v=fix.battery_v))
    if fix.status:
        records.append(Event(protocol=NAME, device_id=ctx.device_id, time=fix.time, event="vehicle_status",
                             details=dict(fix.status)))
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


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace").strip("\x00").strip()


def decode_string(ctx: Context) -> list[Record]:
    """0x15 (old command response): length 1, server flag 4, ASCII text, language 2. Some devices send
    length 0 and a zero-padded text running up to the language field (Traccar "DYD=Success!" samples)."""
    r = Reader(ctx.packet.content)
    size = r.u8()
    if size == 0:
        flag = r.uint(4)
        return command_result(ctx, _ascii(r.rest(keep=2)), flag)
    if size < 4:
        raise Malformed(f"0x15 command length {size} < 4")
    flag = r.uint(4)
    return command_result(ctx, _ascii(r.take(size - 4)), flag)


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


def read_iccid(raw: bytes) -> str:
    """ICCID as BCD, `F`-padded. Every ICCID starts with 89 (ITU-T E.118); a device that copies the SIM's
    EF_ICCID as stored (nibbles swapped, ETSI TS 102 221) is read back by swapping them."""
    straight = raw.hex().rstrip("f")
    swapped = bytes((b >> 4) | (b & 0x0F) << 4 for b in raw).hex().rstrip("f")
    for digits in (straight, swapped):
        if digits.startswith("89") and digits.isdigit():
            return digits
    raise Malformed(f"ICCID {raw.hex()} is not BCD digits starting with 89")


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
    fix.status["dashcam_event"] = code
    if extended:
        r.u16()  # event data
    # Traccar: 0x01 is SOS only with a position; codes outside the table are events, not alarms.
    fix.add_alarm(Alarm.GENERAL if code == 0x01 and not extended else DASHCAM_ALARMS.get(code))
    records = fix_records(ctx, fix)
    files = _ascii(r.rest())
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
        _add_wifi(fix, r.take(6), signal if 0 < signal < 0x100 else None)
    return fix_records(ctx, fix)


def decode_az735(alarm: bool) -> Decoder:
    """0x32 (GPS) / 0x33 (alarm) of AZ735 trackers, 79 79 frames: GPS with its length, cells, status."""

    def decode(ctx: Context) -> list[Record]:
        fix = FixFields()
        r = Reader(ctx.packet.content)
        part_gps_with_length(r, fix)
        part_az735_cells(r, fix)
        if alarm:
            fix.add_alarm(AZ735_ALARMS.get(int(fix.status["status"])))
        return fix_records(ctx, fix)

    return decode


def decode_0x32(ctx: Context) -> list[Record]:
    """0x32: AZ735 GPS in 79 79 frames; SL4X GPS + LBS + status in 78 78 frames of length 0x27/0x29."""
    if ctx.packet.long:
        return decode_az735(alarm=False)(ctx)
    return by_length("0x32", {0x27: _sl4x, 0x29: _sl4x}, None)(ctx)


_sl4x = location(part_gps, _with_lbs_length(part_cell_sl4x), part_status_sl4x)


def decode_obd(ctx: Context) -> list[Record]:
    """0x8C (FM08ABC OBD): time 6, ignition 1, `PID=hex value,...` text, 12 trailing bytes nobody
    documents. PIDs (first two hex digits): 28 odometer, 2B fuel level, 2D coolant, 35 speed, 36 rpm,
    47 fuel used, 49 engine hours (values 1/100), 4A VIN."""
    r = Reader(ctx.packet.content)
    time = read_time(r.take(6))
    details: dict = {"ignition": r.u8() > 0}
    text = _ascii(r.rest(keep=12))
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
    _add_cell(fix, mcc & 0x7FFF, mnc, lac, ci, -rssi if rssi else None)


def _module_event(m: Reader, fix: FixFields) -> None:
    code = m.u8()
    fix.status["event"] = code
    fix.add_alarm(MODULAR_EVENTS.get(code))


def _module_ble_tag(m: Reader, fix: FixFields) -> None:
    """0x7F: tag MAC 6, battery 2 (mV), battery % 1, temperature 2 (1/10 degC), humidity 2, status 1."""
    fix.ble.append(Ble(mac=mac(m.take(6))))
    millivolts, percent, temperature = m.u16(), m.u8(), m.s16()
    if millivolts not in (0x7FFF, 0xFFFF):  # "no reading" (the sample's tag sends 7FFF)
        fix.status["tag_battery_v"] = millivolts / 1000
    fix.status.update(tag_battery_pct=percent, tag_temperature_c=temperature / 10)


MODULES: dict[int, Callable[[Reader, FixFields], None]] = {
    0x03: lambda m, fix: fix.status.update(iccid=read_iccid(m.take(10))),
    0x09: lambda m, fix: setattr(fix, "satellites", m.u8()),
    0x11: _module_cell,
    0x18: lambda m, fix: setattr(fix, "battery_v", m.u16() / 100),
    0x28: lambda m, fix: setattr(fix, "hdop", m.u8() / 10),
    0x2E: lambda m, fix: fix.status.update(odometer=int.from_bytes(m.take(4), "little")),
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
            text = _ascii(body.rest()) or None
        elif item == 0x000C:
            body = Reader(r.take(r.u8()))
            details.update(external_battery_pct=body.u8(), external_charging=body.u8() > 0,
                           external_battery_cycles=body.u16())
        else:
            size = r.u8()
            r.take(size or r.u8())
    return [Event(protocol=NAME, device_id=ctx.device_id, time=time, event="peripheral", text=text, details=details)]


def part_sl4x_gps_lbs_5(r: Reader, fix: FixFields) -> None:
    """SL4X 0x31 after GPS and cell: ignition 1, upload reason 1, re-upload 1, odometer 4, altitude 2
    (signed m). The sample's 02A6 = 678 m and the 0x32 sample's 687 m come from the same place."""
    fix.status["ignition"] = r.u8() > 0
    fix.status["reason"] = r.u8()
    r.u8()  # re-upload flag
    fix.status["odometer"] = r.uint(4)
    fix.altitude_m = float(r.s16())


def part_ibutton(r: Reader, fix: FixFields) -> None:
    """0x61 iButton: IMEI 8 (already known), GPS, cell with a 4-byte Cell ID, then the key ID 6
    (written as one decimal number, Traccar's sample 000001395581 = 20534657)."""
    r.take(8)
    part_gps(r, fix)
    part_cell_cid4(r, fix)
    fix.status["driver_id"] = str(r.uint(6))


def part_rfid_card(r: Reader, fix: FixFields) -> None:
    """0x17 RFID variant (length 0x28) after GPS and cell: card ID 8, validity 1."""
    fix.status["driver_id"] = r.take(8).hex()
    r.u8()


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
        _add_wifi(fix, r.take(6), r.u8())
    count = r.u8()
    mcc, mnc = r.u16(), r.u8()
    for _ in range(count):
        lac, ci, rssi = r.u16(), r.u16(), r.u8()
        _add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))
    return fix_records(ctx, fix)


_gps_lbs = location(part_gps, part_cell)
_alarm = location(part_gps, _with_lbs_length(part_cell), part_status)
_alarm_vxt01 = location(part_gps, part_cell, part_status_no_code)
_alarm_seeworld = location(part_gps, _with_lbs_length(part_cell_cid4), part_status)
_lbs_multi = location(part_multi_cell((2, 3)))
_wifi_lbs_4g = location(part_multi_cell((4, 8)), part_wifi_list)


# --------------------------------------------------------------------------------------------
# Replies: what the device expects back, one rule per table row
# --------------------------------------------------------------------------------------------
# The Concox document asks acks (protocol number + serial) for login, heartbeat, alarm and time
# packets; Traccar acks every location packet the same way, devices of the family accept that and
# 365GPS firmware requires it, so we do as Traccar. Silent: information (0x94), command answers
# (0x21), address requests (the answer would be an address text the device forwards by SMS), and the
# types Traccar leaves unanswered (0x34, 0x8C, 0x9B, 0xF3). A reply depends on the envelope only,
# never on the content, so `identify` gives it without decoding.

Reply = Callable[[Packet, datetime], bytes | None]


def reply_ack(packet: Packet, now: datetime) -> bytes:
    return ack(packet)


def reply_none(packet: Packet, now: datetime) -> None:
    return None


def reply_time(packet: Packet, now: datetime) -> bytes:
    """0x8A: UTC yy mm dd hh mm ss (document example), with the request's serial."""
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc)
    return ack(packet, content=bytes([now.year - 2000, now.month, now.day, now.hour, now.minute, now.second]))


def reply_legacy_wifi(packet: Packet, now: datetime) -> bytes:
    """365GPS 0x69/0x17, as Traccar answers: 78 78 00 <protocol> <the frame's BCD time 6> 0D 0A."""
    if len(packet.content) < 6:
        raise Malformed(f"365GPS 0x{packet.protocol:02x} of {len(packet.content)} content bytes has no time")
    return SHORT + bytes([0, packet.protocol]) + packet.content[:6] + STOP


@dataclass(frozen=True, slots=True)
class Route:
    message_type: str
    decoder: Decoder
    reply: Reply = reply_ack
    types_by_length: dict[int, str] | None = None  # variants of another kind (a 0xA3 status, a 0x36 fix)

    def message_type_of(self, packet: Packet) -> str:
        return (self.types_by_length or {}).get(packet.length_byte, self.message_type)


# protocol number -> route, for packets with serial and CRC
DECODERS: dict[int, Route] = {
    0x01: Route("login", decode_login),
    0x10: Route("gps", location(part_gps)),
    0x11: Route("gps_lbs", location(part_gps, part_cell_wide)),
    0x12: Route("gps_lbs", _gps_lbs),
    0x13: Route("status", decode_status),
    0x15: Route("command_result", decode_string),
    0x16: Route("alarm", by_length("0x16", {0x24: _alarm_vxt01, 0x26: _alarm_seeworld}, _alarm)),
    0x17: Route("gps_lbs", by_length("0x17", {0x28: location(part_gps, part_cell, part_rfid_card)}, None)),
    0x18: Route("lbs_multi", _lbs_multi),
    0x19: Route("lbs_alarm", location(part_cell, part_status)),  # longer: SPACE10X multi-cell, see below
    0x1A: Route("address_request", location(part_gps), reply_none),
    0x1E: Route("gps", location(part_gps)),  # JI09: GPS, then cells in a layout nobody documents
    0x21: Route("command_result", decode_string_info, reply_none),
    0x22: Route("gps_lbs", _gps_lbs),
    0x23: Route("heartbeat", decode_heartbeat_4g),
    0x24: Route("lbs_multi", by_length("0x24", {0x31: location(part_counted_cells),
                                               0x2E: location(part_gps, part_cell, part_ignition_power_battery)},
                                       _lbs_multi), types_by_length={0x2E: "gps_lbs"}),
    0x26: Route("alarm", _alarm),
    0x27: Route("alarm", _alarm),  # + geofence number, ignored
    0x28: Route("lbs_multi", _lbs_multi),
    0x2A: Route("address_request", location(part_gps), reply_none),
    0x2C: Route("wifi_lbs", location(part_multi_cell((2, 3)), part_wifi_list)),
    0x2D: Route("gps_lbs", _gps_lbs),
    0x2E: Route("lbs_multi", _lbs_multi),
    0x31: Route("gps_lbs", by_length("0x31", {0x2A: location(part_gps, part_cell_sl4x, part_sl4x_gps_lbs_5)}, None)),
    0x32: Route("gps_lbs", decode_0x32),
    0x33: Route("alarm", decode_az735(alarm=True)),
    0x34: Route("gps_lbs", location(part_x1), reply_none),
    0x36: Route("status", by_length("0x36", {0x35: location(part_gps, part_cell_cid4, part_trx16i)},
                                    decode_status_modules), types_by_length={0x35: "gps_lbs"}),
    0x37: Route("gps_lbs", _gps_lbs),
    0x38: Route("gps_lbs", location(part_gps, part_lbs_8)),
    0x61: Route("gps_lbs", location(part_ibutton)),
    0x70: Route("gps_modular", decode_modular),
    0x8A: Route("time_request", decode_time_request, reply_time),
    0x8C: Route("obd", decode_obd, reply_none),
    0x94: Route("info", decode_info, reply_none),
    0x95: Route("alarm", decode_dashcam_alarm),
    0x9B: Route("serial_data", decode_serial_data, reply_none),
    0xA0: Route("gps_lbs", location(part_gps, part_cell_4g)),
    0xA1: Route("lbs_multi", location(part_multi_cell((4, 8)))),
    0xA2: Route("wifi_lbs", by_length("0xA2", {0x40: location(part_gps, part_cell_4g, part_lw4g)}, _wifi_lbs_4g),
                types_by_length={0x40: "gps_lbs"}),
    0xA3: Route("alarm", by_length("0xA3", {0x0C: decode_status_seeworld, 0x18: decode_status_seeworld},
                                   location(part_gps, _with_lbs_length(part_cell_4g, trust_length=False),
                                            part_status)), types_by_length={0x0C: "status", 0x18: "status"}),
    0xA4: Route("alarm", location(part_gps, _with_lbs_length(part_cell_4g), part_status)),  # + fence number
    0xA5: Route("lbs_alarm", location(part_cell_4g, part_status)),
    0xA7: Route("address_request", decode_lbs_address, reply_none),
    0xF1: Route("device_status", decode_device_status),
    0xF2: Route("peripheral", decode_peripheral),
    0xF3: Route("wifi", decode_wifi_binary_time, reply_none),
}

# protocol number -> route, for 365GPS frames without serial/CRC
LEGACY_DECODERS: dict[int, Route] = {
    0x01: Route("login", decode_legacy_login),
    0x08: Route("heartbeat", decode_legacy_heartbeat, reply_none),
    0x10: Route("gps", location(part_gps)),  # online GPS block only; acked as Traccar does (serial 0)
    0x11: Route("gps", location(part_gps)),  # offline
    0x17: Route("wifi_lbs", decode_legacy_wifi, reply_legacy_wifi),
    0x69: Route("wifi_lbs", decode_legacy_wifi, reply_legacy_wifi),
}

_SPACE10X_LENGTH = 0x13  # a longer 0x19 is SPACE10X's multi-cell form: its layout is not published

# Sent by the server, or echoes of what it sent: never acked (Traccar MSG_COMMAND_0..2).
_NO_ACK = frozenset({0x80, 0x81, 0x82})


def route_of(packet: Packet) -> Route:
    """The table row for a packet; Malformed (with the ack Traccar sends, see `unsupported`) otherwise."""
    table = DECODERS if packet.serial is not None else LEGACY_DECODERS
    route = table.get(packet.protocol)
    if route is None:
        raise Unsupported(packet)
    if packet.protocol == 0x19 and packet.serial is not None and packet.length_byte > _SPACE10X_LENGTH:
        raise Unsupported(packet, "0x19 multi-cell variant (SPACE10X) is not supported: no published layout")
    return route


class Unsupported(Malformed):
    """A valid packet of a type we do not decode; a 78 78 one is still acked, as Traccar does, so the
    device goes on."""

    def __init__(self, packet: Packet, reason: str | None = None) -> None:
        kind = "" if packet.serial is not None else " (unframed 365GPS form)"
        super().__init__(reason or f"unsupported GT06 protocol number 0x{packet.protocol:02x}{kind}")
        known_shape = packet.serial is not None and not packet.long
        self.reply = ack(packet) if known_shape and packet.protocol not in _NO_ACK else None
        self.message_type = f"0x{packet.protocol:02x}"


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """Records and reply for one frame. Bad device input is detected explicitly and raised as
    Malformed; `Gt06Codec.decode` returns it as `Decoded.error`. A valid packet of an unknown type is
    an error that still carries its ack."""
    packet = open_packet(frame)
    try:
        route = route_of(packet)
    except Unsupported as exc:
        return Decoded(reply=exc.reply, device_id=session.device_id, message_type=exc.message_type, error=str(exc))
    records = route.decoder(Context(packet, session, now))
    return Decoded(records=records, reply=route.reply(packet, now), device_id=session.device_id,
                   message_type=route.message_type_of(packet))


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """Device id, reply and message type from the envelope alone (the listener's hot path). Agrees with
    `decode` on every frame whose content decodes; a CRC-valid frame with unreadable content is acked
    here and dead-lettered by `decode`."""
    packet = open_packet(frame)
    try:
        route = route_of(packet)
    except Unsupported as exc:
        return Identified(reply=exc.reply, device_id=session.device_id, message_type=exc.message_type, error=str(exc))
    if packet.protocol == 0x01:
        session.device_id = read_login_imei(packet)
    return Identified(device_id=session.device_id, reply=route.reply(packet, now),
                      message_type=route.message_type_of(packet))


# --------------------------------------------------------------------------------------------
# Downlink: 0x80 online command (document "Online Command", Traccar Gt06ProtocolEncoder)
# --------------------------------------------------------------------------------------------

def command_packet(text: str, serial: int) -> bytes:
    """78 78 len 80 | command length 1 | server flag 4 (0) | ASCII command | serial 2 | CRC 2 | 0D 0A."""
    try:
        command = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise UnsupportedCommand(f"GT06 commands are ASCII: {text!r}") from exc
    if not command or len(command) > 0xFF - 12:
        raise UnsupportedCommand(f"GT06 command of {len(command)} bytes does not fit one 0x80 packet")
    return build_packet(0x80, bytes([4 + len(command)]) + b"\x00\x00\x00\x00" + command, serial)


def _param(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        raise UnsupportedCommand(f"GT06 command needs params[{name!r}]")
    return params[name]


def _interval(value: str) -> int:
    if not value.isdecimal():
        raise UnsupportedCommand(f"GT06 TIMER takes whole seconds, not {value!r}")
    seconds = int(value)
    if not 10 <= seconds <= 18000:
        raise UnsupportedCommand(f"GT06 TIMER takes 10-18000 s, not {seconds}")
    return seconds


def _set_interval(params: dict[str, str]) -> str:
    """`TIMER,T1#` or `TIMER,T1,T2#`: upload interval while moving (ACC on) and, optionally, while static."""
    moving = _interval(_param(params, "seconds"))
    if params.get("static_seconds"):
        return f"TIMER,{moving},{_interval(params['static_seconds'])}#"
    return f"TIMER,{moving}#"


def _sos_numbers(params: dict[str, str]) -> str:
    """`SOS,A,n1,n2,n3#`: set up to three SOS numbers."""
    numbers = [n.strip() for n in _param(params, "numbers").split(",")]
    if not 1 <= len(numbers) <= 3 or not all(re.fullmatch(r"\+?\d{3,20}", n) for n in numbers):
        raise UnsupportedCommand(f"GT06 takes 1-3 SOS phone numbers, not {params['numbers']!r}")
    return "SOS,A," + ",".join(numbers) + "#"


def _custom(params: dict[str, str]) -> str:
    return _param(params, "text")


COMMANDS: dict[str, Callable[[dict[str, str]], str]] = {
    "locate": lambda params: "DWXX#",  # answer: a "Current position!..." text (0x15/0x21)
    "reboot": lambda params: "RESET#",
    "set_interval": _set_interval,
    "sos_numbers": _sos_numbers,
    "custom": _custom,
}


def encode_command(command: Command, session: Session) -> bytes:
    builder = COMMANDS.get(command.name)
    if builder is None:
        raise UnsupportedCommand(f"GT06 has no {command.name!r} command")
    text = builder(command.params)
    if isinstance(session, Gt06Session):
        serial = session.next_command_serial()
    else:
        serial = 1
    return command_packet(text, serial)


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Gt06Codec:
    name: str = NAME
    transports: frozenset[Transport] = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> Gt06Framer:
        return Gt06Framer(max_frame)

    def new_session(self, transport: Transport) -> Gt06Session:
        return Gt06Session(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        """Malformed device input comes back as `Decoded.error` (callers that do not use
        `guarded_decode` yet stay safe); any other exception is a bug and escapes to the guard."""
        try:
            return decode(frame, session, now)
        except Malformed as exc:
            return Decoded(device_id=session.device_id, error=f"{exc} [{hex_preview(frame)}]")

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        try:
            return identify(frame, session, now)
        except Malformed as exc:
            return Identified(device_id=session.device_id, error=f"{exc} [{hex_preview(frame)}]")

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = Gt06Codec()
