"""GT06 / Concox binary protocol: `78 78` short frames (1-byte length), `79 79` long frames (2-byte length).

    start(2) length(1|2) protocol(1) content(N) serial(2) crc(2) 0D 0A
    length = protocol + content + serial + crc;  crc = CRC-ITU (CRC-16/X-25) over length..serial

Sources (facts only, no code copied):
- Concox "GPS Tracker Communication Protocol JM-VL03 V1.1.2" (packet layouts, bit tables, alarm codes,
  reply examples), transcribed in github.com/fcode09/jimi-vl103m docs/README_VL03_Protocol.md.
- Traccar Gt06FrameDecoder.java (length first, delimiter as the fallback), Gt06ProtocolDecoder.java
  (layouts of variants the Concox document does not cover: 0x11, 0x23, 0x2C, 0x36, 0xA1, 0xA2, 0xA5,
  the 365GPS-style frames without serial/CRC) and Gt06ProtocolEncoder.java (0x80 command packet).

Units: speed km/h, course degrees, coordinates degrees (raw / 1 800 000). `rssi` of a fix or event is
the GSM signal *level* 0-4 the protocol reports (there is nothing finer); `rssi` of a cell or Wi-Fi
access point is in dBm (see `signal_dbm`). Device times are taken as UTC, which is
what the Concox document specifies for 0x22/0x26/0xA0...; the time zone announced at login is kept
in the session and the login event but not applied.
"""

from __future__ import annotations

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
    Session,
    Transport,
    UnsupportedCommand,
    hex_preview,
)
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Wifi

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


class Malformed(ValueError):
    """The device sent something this codec cannot read; the message becomes Decoded.error."""


def build_packet(protocol: int, content: bytes, serial: int, long: bool = False) -> bytes:
    """A packet the server sends: same envelope, CRC over length..serial."""
    size = 1 + len(content) + 2 + 2
    if long:
        head = LONG + size.to_bytes(2, "big")
    else:
        if size > 0xFF:
            raise ValueError(f"content of {len(content)} bytes does not fit a 78 78 packet")
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


def read_time(raw: bytes) -> datetime | None:
    """yy mm dd hh mm ss, binary, UTC; an impossible date (e.g. all zero before a fix) is None."""
    try:
        return datetime(2000 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tzinfo=timezone.utc)
    except ValueError:
        return None


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
    """What the parts of a location packet fill in; becomes a Position."""

    time: datetime | None = None
    valid: bool | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    satellites: int | None = None
    battery_pct: int | None = None
    rssi: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)

    def add_alarm(self, alarm: Alarm | None) -> None:
        if alarm is not None and alarm not in self.alarms:
            self.alarms.append(alarm)


# Course/status word (document 0x22 "Course and Status"): bit 12 positioned, bit 11 west, bit 10 north.
_POSITIONED, _WEST, _NORTH = 1 << 12, 1 << 11, 1 << 10


def part_gps(r: Reader, fix: FixFields) -> None:
    """Date/time 6, GPS info 1 (length nibble, satellites nibble), lat 4, lon 4, speed 1, course/status 2."""
    fix.time = read_time(r.take(6))
    fix.satellites = r.u8() & 0x0F
    lat_raw, lon_raw, speed, flags = struct.unpack(">IIBH", r.take(11))
    fix.valid = bool(flags & _POSITIONED)
    fix.speed_kmh = float(speed)
    course = flags & 0x3FF
    fix.course_deg = float(course) if course <= 360 else None
    lat, lon = lat_raw / 1_800_000, lon_raw / 1_800_000
    if (lat_raw or lon_raw) and lat <= 90 and lon <= 180:  # all zero: no position was ever taken
        fix.lat = round(lat if flags & _NORTH else -lat, 6)
        fix.lon = round(-lon if flags & _WEST else lon, 6)


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


def _add_wifi(fix: FixFields, raw_mac: bytes, raw_signal: int) -> None:
    if any(raw_mac):  # all-zero MACs fill unused slots
        fix.wifi.append(Wifi(mac=mac(raw_mac), rssi=signal_dbm(raw_signal)))


def part_cell(r: Reader, fix: FixFields) -> None:
    """2G serving cell: MCC 2, MNC 1|2, LAC 2, Cell ID 3."""
    mcc, mnc = _mcc_mnc(r)
    _add_cell(fix, mcc, mnc, r.u16(), r.uint(3))


def part_cell_wide(r: Reader, fix: FixFields) -> None:
    """0x11 serving cell: MCC 2, MNC 2, LAC 2, Cell ID 4 (Traccar MSG_GPS_LBS_6)."""
    mcc, mnc = _mcc_mnc(r, wide_mnc=True)
    _add_cell(fix, mcc, mnc, r.u16(), r.uint(4))


def part_cell_cid4(r: Reader, fix: FixFields) -> None:
    """SEEWORLD variant of the 2G serving cell: Cell ID on 4 bytes (Traccar decodeLbs)."""
    mcc, mnc = _mcc_mnc(r)
    _add_cell(fix, mcc, mnc, r.u16(), r.uint(4))


def part_cell_4g(r: Reader, fix: FixFields) -> None:
    """4G serving cell: MCC 2, MNC 1|2, LAC 4, Cell ID 8 (document 0xA0)."""
    mcc, mnc = _mcc_mnc(r)
    _add_cell(fix, mcc, mnc, r.uint(4), r.uint(8))


def _with_lbs_length(cell_part: Callable[[Reader, FixFields], None]) -> Callable[[Reader, FixFields], None]:
    """Alarm packets put an LBS length byte (counting itself) before the cell."""

    def part(r: Reader, fix: FixFields) -> None:
        start = r.pos
        length = r.u8()
        if length == 0:
            # No cell. One device pads 45 zero bytes instead (Traccar decodeLbs, frame 0x16 "78784A16...").
            pad = r.data[r.pos + 9:r.pos + 45]
            if r.remaining >= 45 + 5 and not any(pad):
                r.take(45)
            return
        cell_part(r, fix)
        if r.pos - start < length:
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


def part_wifi_list(r: Reader, fix: FixFields) -> None:
    """Count 1, then MAC 6 + signal 1 per access point."""
    for _ in range(r.u8()):
        _add_wifi(fix, r.take(6), r.u8())


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


@dataclass(slots=True)
class Result:
    records: list[Record]
    reply: bytes | None


Decoder = Callable[[Context], Result]


def fix_records(ctx: Context, fix: FixFields) -> list[Record]:
    """One Position, plus one Alert per alarm it carries."""
    position = Position(
        protocol=NAME, device_id=ctx.device_id, time=fix.time, valid=fix.valid, lat=fix.lat, lon=fix.lon,
        speed_kmh=fix.speed_kmh, course_deg=fix.course_deg, satellites=fix.satellites,
        battery_pct=fix.battery_pct, rssi=fix.rssi, cells=fix.cells, wifi=fix.wifi, alarms=list(fix.alarms),
    )
    return [position, *(Alert.from_fix(position, alarm) for alarm in fix.alarms)]


def location(*parts: Callable[[Reader, FixFields], None], reply: bool = True) -> Decoder:
    """A location packet made of parts read in order; trailing fields of variants are ignored.

    Replies: the Concox document asks acks for login, heartbeat, alarm and time packets only; Traccar
    acks every location packet the same way (protocol number + serial), devices of the family accept
    that and 365GPS firmware requires it, so we do as Traccar. Address requests (0x1A/0x2A) get none:
    the answer would be an address text the device forwards by SMS.
    """

    def decode_location(ctx: Context) -> Result:
        fix = FixFields()
        r = Reader(ctx.packet.content)
        for part in parts:
            part(r, fix)
        return Result(fix_records(ctx, fix), ack(ctx.packet) if reply else None)

    return decode_location


def decode_login(ctx: Context) -> Result:
    """0x01: terminal ID (IMEI, BCD 8), then optional type identity code 2 and time zone/language 2."""
    r = Reader(ctx.packet.content)
    imei = read_imei(r.take(8))
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
    event = Event(protocol=NAME, device_id=imei, event="login", details=details)
    return Result([event], ack(ctx.packet))


def heartbeat_records(ctx: Context, info: int, details: dict, battery_pct: int | None, rssi: int | None,
                      alarm_code: int | None) -> list[Record]:
    """One heartbeat Event; an alarm state in it (info bits or alarm byte) also gives a location-less Alert
    per alarm, as Traccar raises them from status packets."""
    details.update(terminal_info(info))
    event = Event(protocol=NAME, device_id=ctx.device_id, event="heartbeat", battery_pct=battery_pct, rssi=rssi,
                  details=details)
    state = FixFields()
    state.add_alarm(INFO_ALARMS.get((info >> 3) & 0x07))
    if alarm_code is not None:
        state.add_alarm(alarm_from_code(alarm_code))
    return [event, *(Alert(protocol=NAME, device_id=ctx.device_id, alarm=alarm, battery_pct=battery_pct, rssi=rssi)
                     for alarm in state.alarms)]


def decode_status(ctx: Context) -> Result:
    """0x13 heartbeat: terminal info 1, voltage level 1, GSM level 1, alarm 1, language 1.

    Longer 0x13 variants (OBD and temperature trackers, Traccar) lay out the rest differently: of
    those only the terminal info byte is read."""
    r = Reader(ctx.packet.content)
    info = r.u8()
    if r.remaining > 4:
        return Result(heartbeat_records(ctx, info, {"variant_length": len(ctx.packet.content)}, None, None, None),
                      ack(ctx.packet))
    level, gsm = r.u8(), r.u8()
    details: dict = {"voltage_level": level, "gsm_level": gsm}
    alarm_code = r.u8() if r.remaining else None
    records = heartbeat_records(ctx, info, details, battery_from_level(level), gsm_level(gsm), alarm_code)
    return Result(records, ack(ctx.packet))


def decode_heartbeat_4g(ctx: Context) -> Result:
    """0x23 (GK310 and 4G models): terminal info 1, battery voltage 2 (1/100 V), GSM level 1, language 2."""
    r = Reader(ctx.packet.content)
    info = r.u8()
    details: dict = {}
    if r.remaining >= 2:
        details["battery_v"] = r.u16() / 100
    gsm = r.u8() if r.remaining else None
    if gsm is not None:
        details["gsm_level"] = gsm
    records = heartbeat_records(ctx, info, details, None, gsm_level(gsm) if gsm is not None else None, None)
    return Result(records, ack(ctx.packet))


def decode_status_modules(ctx: Context) -> Result:
    """0x36 (Jimi 4G, Traccar MSG_STATUS_2): the 0x13 fields, then modules of type 2, length 1, value;
    0x0018 battery voltage (1/100 V), 0x006A battery percentage. In a 79 79 frame 0x36 is X1 photo data."""
    if ctx.packet.long:
        raise Malformed("0x36 photo data (79 79) is not supported")
    r = Reader(ctx.packet.content)
    info, level, gsm, alarm_code = r.u8(), r.u8(), r.u8(), r.u8()
    r.u8()  # language
    details: dict = {"voltage_level": level, "gsm_level": gsm}
    battery = battery_from_level(level)
    while r.remaining >= 3:
        module, size = r.u16(), r.u8()
        value = r.uint(size)
        if module == 0x0018:
            details["battery_v"] = value / 100
        elif module == 0x006A and value <= 100:
            battery = value
    records = heartbeat_records(ctx, info, details, battery, gsm_level(gsm), alarm_code)
    return Result(records, ack(ctx.packet))


POSITION_TEXT = re.compile(
    r"Current position!\s*Lat:([NS])(\d+\.\d+),Lon:([EW])(\d+\.\d+),Course:(\d+\.\d+),Speed:(\d+\.\d+),"
    r"DateTime:(\d{4})-(\d\d)-(\d\d) +(\d\d):(\d\d):(\d\d)"
)


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
        try:
            time = datetime(*(int(v) for v in when), tzinfo=timezone.utc)
        except ValueError:
            time = None
        records.append(Position(
            protocol=NAME, device_id=ctx.device_id, time=time, valid=True,
            lat=float(lat) * (1 if ns == "N" else -1), lon=float(lon) * (1 if ew == "E" else -1),
            course_deg=float(course), speed_kmh=float(speed),
        ))
    return records


def decode_string(ctx: Context) -> Result:
    """0x15 (old command response): length 1, server flag 4, ASCII text, language 2."""
    r = Reader(ctx.packet.content)
    size = r.u8()
    if size < 4:
        raise Malformed(f"0x15 command length {size} < 4")
    flag = r.uint(4)
    text = r.take(size - 4).decode("ascii", errors="replace").rstrip("\x00").strip()
    return Result(command_result(ctx, text, flag), ack(ctx.packet))


def decode_string_info(ctx: Context) -> Result:
    """0x21 (command response): server flag 4, encoding 1 (1 ASCII, 2 UTF-16BE), text. No reply."""
    r = Reader(ctx.packet.content)
    flag, encoding = r.uint(4), r.u8()
    raw = r.take(r.remaining)
    text = raw.decode("utf-16-be" if encoding == 2 else "ascii", errors="replace").rstrip("\x00").strip()
    return Result(command_result(ctx, text, flag), None)


def _info_external_voltage(r: Reader, details: dict) -> str | None:
    details["external_v"] = r.u16() / 100
    return None


def _info_door(r: Reader, details: dict) -> str | None:
    if r.remaining >= 7:  # newer firmware puts the time first (Traccar)
        r.take(6)
    flags = r.u8()
    details.update(door=bool(flags & 0x01), trigger_high=bool(flags & 0x02), io_high=bool(flags & 0x04))
    return None


def _info_iccid(r: Reader, details: dict) -> str | None:
    r.take(8)  # IMEI, already known from the login
    details["imsi"] = r.take(8).hex().lstrip("0")
    details["iccid"] = r.take(10).hex().rstrip("f")
    return None


def _info_network(r: Reader, details: dict) -> str | None:
    details["network"] = "4G" if r.u8() else "2G"
    return None


def _info_as_sent(r: Reader, details: dict) -> str | None:
    """0x04 status sync, 0x1B RFID, 0x0D fuel sensor...: printable text as text, anything else as hex."""
    raw = r.take(r.remaining).strip(b"\x00\r\n ")
    if raw.isascii() and all(0x20 <= b < 0x7F for b in raw):
        return raw.decode("ascii") or None
    details["data_hex"] = raw.hex()
    return None


# 0x94 information type (document "Information Types") -> reader
INFO_TYPES: dict[int, Callable[[Reader, dict], str | None]] = {
    0x00: _info_external_voltage,
    0x05: _info_door,
    0x0A: _info_iccid,
    0x0B: _info_network,  # Traccar, not in the document
}


def decode_info(ctx: Context) -> Result:
    """0x94 information transfer. Long frames: information type 1 + data; the short-frame form carries
    only the external voltage (Traccar). No reply."""
    r = Reader(ctx.packet.content)
    details: dict = {}
    if ctx.packet.long:
        details["info_type"] = info_type = r.u8()
        text = INFO_TYPES.get(info_type, _info_as_sent)(r, details)
    else:
        text = _info_external_voltage(r, details)
    return Result([Event(protocol=NAME, device_id=ctx.device_id, event="info", text=text, details=details)], None)


def decode_time_request(ctx: Context) -> Result:
    """0x8A: the device asks for the time; the reply carries UTC yy mm dd hh mm ss (document example)."""
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc)
    content = bytes([now.year - 2000, now.month, now.day, now.hour, now.minute, now.second])
    return Result([], ack(ctx.packet, content=content))


_wifi_lbs_4g = location(part_multi_cell((4, 8)), part_wifi_list)
_lbs_alarm = location(part_cell, part_status)


def decode_wifi_lbs_4g(ctx: Context) -> Result:
    """0xA2 Wi-Fi + LBS with 4G cells (GK310). The 0x40-long 0xA2 of LW4G vehicle trackers differs."""
    if ctx.packet.length_byte == 0x40:
        raise Malformed("0xA2 GPS/status variant of LW4G trackers is not supported")
    return _wifi_lbs_4g(ctx)


def decode_lbs_alarm(ctx: Context) -> Result:
    """0x19: one 2G cell + status; a longer 0x19 is the multi-cell variant of SPACE10X (Traccar), unsupported."""
    if ctx.packet.length_byte > 0x13:
        raise Malformed("0x19 multi-cell variant is not supported")
    return _lbs_alarm(ctx)


# 365GPS-style frames: no serial, no CRC, the length byte holds something else (see the framer).

def decode_legacy_login(ctx: Context) -> Result:
    """15-byte login: IMEI 8 + software version 1. The reply shape is Traccar's generic ack (serial 0),
    not confirmed by a document."""
    r = Reader(ctx.packet.content)
    if len(ctx.packet.content) != 9:
        raise Malformed("unframed 0x01 login must be IMEI 8 + version 1")
    imei = read_imei(r.take(8))
    ctx.session.device_id = imei
    event = Event(protocol=NAME, device_id=imei, event="login", details={"software_version": r.u8()})
    return Result([event], ack(ctx.packet))


def decode_legacy_heartbeat(ctx: Context) -> Result:
    """0x08 heartbeat (`78 78 01 08 0D 0A`): 365GPS lists it among the packets that need no reply."""
    return Result([Event(protocol=NAME, device_id=ctx.device_id, event="heartbeat")], None)


def decode_legacy_gps(ctx: Context) -> Result:
    """0x10 (online) / 0x11 (offline) GPS: the GPS block only; acked like Traccar (serial 0, unconfirmed)."""
    fix = FixFields()
    part_gps(Reader(ctx.packet.content), fix)
    return Result(fix_records(ctx, fix), ack(ctx.packet))


def decode_legacy_wifi(ctx: Context) -> Result:
    """0x69 (online) / 0x17 (offline) Wi-Fi: the length byte is the access point count; BCD time 6,
    APs (MAC 6 + signal 1), cell count 1, MCC 2, MNC 1, cells (LAC 2, CI 2, signal 1).
    Reply, as Traccar sends it: 78 78 00 <protocol> <the same BCD time> 0D 0A."""
    r = Reader(ctx.packet.content)
    raw_time = r.take(6)
    fix = FixFields(time=read_bcd_time(raw_time))
    for _ in range(ctx.packet.length_byte):
        _add_wifi(fix, r.take(6), r.u8())
    count = r.u8()
    mcc, mnc = r.u16(), r.u8()
    for _ in range(count):
        lac, ci, rssi = r.u16(), r.u16(), r.u8()
        _add_cell(fix, mcc, mnc, lac, ci, signal_dbm(rssi))
    reply = SHORT + bytes([0, ctx.packet.protocol]) + raw_time + STOP
    return Result(fix_records(ctx, fix), reply)


_gps_lbs = location(part_gps, part_cell)
_alarm = location(part_gps, _with_lbs_length(part_cell), part_status)
_alarm_vxt01 = location(part_gps, part_cell, part_status_no_code)
_alarm_seeworld = location(part_gps, _with_lbs_length(part_cell_cid4), part_status)


def decode_alarm_0x16(ctx: Context) -> Result:
    """0x16 GPS + LBS + status. Two variants tell themselves apart by length only (Traccar decodeVariant):
    0x24 (VXT01) has no LBS length byte and no alarm code, 0x26 (SEEWORLD) a 4-byte Cell ID."""
    variant = {0x24: _alarm_vxt01, 0x26: _alarm_seeworld}.get(ctx.packet.length_byte, _alarm)
    return variant(ctx)


# protocol number -> (message type, decoder), for packets with serial and CRC
DECODERS: dict[int, tuple[str, Decoder]] = {
    0x01: ("login", decode_login),
    0x10: ("gps", location(part_gps)),
    0x11: ("gps_lbs", location(part_gps, part_cell_wide)),
    0x12: ("gps_lbs", _gps_lbs),
    0x13: ("status", decode_status),
    0x15: ("command_result", decode_string),
    0x16: ("alarm", decode_alarm_0x16),
    0x18: ("lbs_multi", location(part_multi_cell((2, 3)))),
    0x19: ("lbs_alarm", decode_lbs_alarm),
    0x1A: ("address_request", location(part_gps, reply=False)),
    0x1E: ("gps", location(part_gps)),  # JI09: GPS, then cells in a layout nobody documents
    0x21: ("command_result", decode_string_info),
    0x22: ("gps_lbs", _gps_lbs),
    0x23: ("heartbeat", decode_heartbeat_4g),
    0x26: ("alarm", _alarm),
    0x27: ("alarm", _alarm),  # + geofence number, ignored
    0x28: ("lbs_multi", location(part_multi_cell((2, 3)))),
    0x2A: ("address_request", location(part_gps, reply=False)),
    0x2C: ("wifi_lbs", location(part_multi_cell((2, 3)), part_wifi_list)),
    0x2D: ("gps_lbs", _gps_lbs),
    0x2E: ("lbs_multi", location(part_multi_cell((2, 3)))),
    0x36: ("status", decode_status_modules),
    0x37: ("gps_lbs", _gps_lbs),
    0x8A: ("time_request", decode_time_request),
    0x94: ("info", decode_info),
    0xA0: ("gps_lbs", location(part_gps, part_cell_4g)),
    0xA1: ("lbs_multi", location(part_multi_cell((4, 8)))),
    0xA2: ("wifi_lbs", decode_wifi_lbs_4g),
    0xA4: ("alarm", location(part_gps, _with_lbs_length(part_cell_4g), part_status)),  # + fence number
    0xA5: ("lbs_alarm", location(part_cell_4g, part_status)),
}

# protocol number -> (message type, decoder), for 365GPS frames without serial/CRC
LEGACY_DECODERS: dict[int, tuple[str, Decoder]] = {
    0x01: ("login", decode_legacy_login),
    0x08: ("heartbeat", decode_legacy_heartbeat),
    0x10: ("gps", decode_legacy_gps),
    0x11: ("gps", decode_legacy_gps),
    0x17: ("wifi_lbs", decode_legacy_wifi),
    0x69: ("wifi_lbs", decode_legacy_wifi),
}

# Sent by the server, or echoes of what it sent: never acked (Traccar MSG_COMMAND_0..2).
_NO_ACK = frozenset({0x80, 0x81, 0x82})


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    try:
        packet = open_packet(frame)
        table = DECODERS if packet.serial is not None else LEGACY_DECODERS
        entry = table.get(packet.protocol)
        if entry is None:
            # Valid but unknown: dead-letter it, and ack a 78 78 one as Traccar does so the device goes on.
            known_shape = packet.serial is not None and not packet.long
            reply = ack(packet) if known_shape and packet.protocol not in _NO_ACK else None
            kind = "" if packet.serial is not None else " (unframed 365GPS form)"
            return Decoded(reply=reply, device_id=session.device_id, message_type=f"0x{packet.protocol:02x}",
                           error=f"unsupported GT06 protocol number 0x{packet.protocol:02x}{kind}")
        message_type, decoder = entry
        result = decoder(Context(packet, session, now))
    except (Malformed, ValueError, IndexError, KeyError, UnicodeDecodeError, struct.error, OverflowError) as exc:
        return Decoded(device_id=session.device_id, error=f"{exc} [{hex_preview(frame)}]")
    return Decoded(records=result.records, reply=result.reply, device_id=session.device_id, message_type=message_type)


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
    try:
        text = builder(command.params)
    except UnsupportedCommand:
        raise
    except ValueError as exc:
        raise UnsupportedCommand(str(exc)) from exc
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

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> Gt06Framer:
        return Gt06Framer(max_frame)

    def new_session(self, transport: Transport) -> Gt06Session:
        return Gt06Session(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        return decode(frame, session, now)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = Gt06Codec()
