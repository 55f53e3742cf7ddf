"""H02 (Sinotrack ST-901, TK909, LK106, "HQ" trackers): text `*HQ,ID,TYPE,...#` and binary `$` frames.

Text frames, as the vendor document describes them ("The feedback message structure of Vehicle
Tracker", published as "Protocol" on scribd, document 470158848)::

    *XX,YYYYYYYYYY,V1,HHMMSS,S,latitude,D,longitude,G,speed,direction,DDMMYY,vehicle_status#
    *XX,YYYYYYYYYY,V4,CMD,hhmmss,HHMMSS,S,latitude,D,longitude,G,speed,direction,DDMMYY,vehicle_status#

- `XX` the manufacturer code (`HQ`, `TH`, lower-case `hq` on some); the tracker checks it on
  commands, so replies and commands use the code the device itself sent.
- `V1` (and V2/V5/V6/V8/V19/VI1 variants seen in Traccar's H02ProtocolDecoderTest) position;
  `V4` the device's confirmation of a server command `CMD` sent at `hhmmss`; `HTBT`/`V0`
  heartbeat; `NBR`/`V3`/`VP1` cell towers; `LINK` link status; `SMS` a text answer.
- Time `HHMMSS` and date `DDMMYY` are UTC; speed is in knots (converted to km/h here); latitude
  `DDMM.MMMM`, also `DDMMMMMM` and `-DD-MM.MMMM` on some firmware (Traccar test frames).
- `vehicle_status`: 8 hex digits, 32 bits, **negative logic** (bit = 0 means active). Bits mapped
  here (document's table as Traccar reads it): 0 vibration/theft, 1 SOS (robbery), 2 overspeed,
  10 ACC (1 = on, not an alarm), 18 SOS, 19 power cut (running on the backup battery). Other bits
  differ between firmware and are not reported.

Binary `$` frames ("standard mode", fixed length, BCD)::

    '$' ID(5 BCD bytes) hhmmss(3) ddmmyy(3) lat DDMMmmmm(4) battery(1) lon DDDMMmmmm+flags(5)
        speed(3 digits) course(3 digits) status(4) + 3 bytes              = 32 bytes
    the same with an 8-byte ID (15-digit IMEI + a pad nibble)             = 42 bytes

  flags nibble: 0x2 valid, 0x4 north, 0x8 east. Some firmware appends more bytes (45/46/48-byte
  frames in Traccar's tests); nothing in the frame says so, so over TCP a frame is cut at 32/42
  bytes and such a tail is thrown away as a framing error; over UDP the datagram is the frame.

Replies (the listener writes them only once Kafka has the frame), from Traccar's
H02ProtocolDecoder (the document only gives the command syntax):
- `V1`: `*HQ,ID,V4,V1,YYYYMMDDHHMMSS#`; `NBR`: `*HQ,ID,V4,NBR,YYYYMMDDHHMMSS#`;
- `HTBT`/`V0`: the frame's head echoed, `*HQ,ID,HTBT#`;
- every other position (binary ones too) only on devices that want it (`H02Session.ack_positions`,
  Traccar's `h02.ack`): `*HQ,ID,R12,HHMMSS#`.
Times in replies come from the `now` passed to `decode`. A frame whose head reads is answered even when
its body does not decode (see `decode`).

Downlink: `*HQ,ID,CMD,HHMMSS,params#` (document section 2). `HHMMSS` identifies the command (the
device echoes it in V4); it is the time of the last frame decoded on the connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

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
)
from protocols.framing import PerDatagram
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Telemetry

NAME = "h02"
KNOTS_TO_KMH = 1.852
TEXT_START, TEXT_END, BINARY_START = ord("*"), ord("#"), ord("$")
SHORT_BINARY, LONG_BINARY = 32, 42
MAX_ID_DIGITS = 20
_LINE_BREAKS = b"\r\n"  # some firmware ends a text frame with CR LF (Traccar test `*TH,...#\r\n`)


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport = Transport.TCP) -> Detection:
    if not head:
        return Detection.NEED_MORE
    if head[0] == TEXT_START:
        return _detect_text(head)
    if head[0] == BINARY_START:
        return _detect_binary(head)
    return Detection.NO_MATCH


def _detect_text(head: bytes) -> Detection:
    """`*XX,<digits>,` where XX are two letters; NEED_MORE while `head` could still become that."""
    for byte in head[1:3]:
        if not (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A):
            return Detection.NO_MATCH
    if len(head) < 4:
        return Detection.NEED_MORE
    if head[3] != ord(","):
        return Detection.NO_MATCH
    end = 4
    while end < len(head) and 0x30 <= head[end] <= 0x39:
        end += 1
    if end - 4 > MAX_ID_DIGITS:
        return Detection.NO_MATCH
    if end == len(head):
        return Detection.NEED_MORE
    return Detection.MATCH if head[end] == ord(",") else Detection.NO_MATCH


def _is_bcd(data: bytes) -> bool:
    return all((b >> 4) <= 9 and (b & 0x0F) <= 9 for b in data)


def _detect_binary(head: bytes) -> Detection:
    """`$` then at least 11 BCD bytes (the ID and the date/time)."""
    body = head[1:12]
    if not _is_bcd(body):
        return Detection.NO_MATCH
    return Detection.MATCH if len(body) == 11 else Detection.NEED_MORE


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def _bcd_digits(data: bytes) -> str:
    return data.hex()


def _valid_bcd_time(raw: bytes) -> bool:
    """hh mm ss dd mm yy as BCD, a real time of day and calendar day."""
    if len(raw) < 6 or not _is_bcd(raw):
        return False
    hh, mi, ss, dd, mo = (int(raw[i:i + 1].hex()) for i in range(5))
    return hh < 24 and mi < 60 and ss < 60 and 1 <= dd <= 31 and 1 <= mo <= 12


def binary_length(head: bytes) -> int | None:
    """32 for a 5-byte ID, 42 for an 8-byte one (told apart by where a valid time follows), None if
    neither reads; needs 15 bytes to decide an 8-byte ID."""
    if _valid_bcd_time(head[6:12]) and _is_bcd(head[1:6]):
        return SHORT_BINARY
    if _valid_bcd_time(head[9:15]) and _is_bcd(head[1:9]):
        return LONG_BINARY
    return None


class H02Framer:
    """Text frames `*...#` and binary `$` frames in one stream.

    Over TCP a binary frame is 32 or 42 bytes (see `binary_length`); with `datagram=True` (UDP,
    fed one datagram at a time by PerDatagram) a binary frame is the rest of the datagram, so the
    longer vendor variants arrive whole. CR/LF between frames are skipped silently; other bytes
    before a `*`/`$` become one FrameError. Never holds more than `max_frame` bytes of one frame.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, *, datagram: bool = False) -> None:
        self._buf = bytearray()
        self._max = max(max_frame, LONG_BINARY)
        self._datagram = datagram
        self._scan = 0  # where the search for `#` (or a start marker) resumes: linear time

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> Frame | FrameError | None:
        while self._buf and self._buf[0] in _LINE_BREAKS:
            del self._buf[0]
        if not self._buf:
            return None
        first = self._buf[0]
        if first == TEXT_START:
            return self._text()
        if first == BINARY_START:
            return self._binary()
        return self._garbage(0)

    def flush(self) -> FrameError | None:
        rest = bytes(self._buf).strip(_LINE_BREAKS)
        self._buf.clear()
        self._scan = 0
        return FrameError("incomplete H02 frame at the end of the datagram", rest) if rest else None

    def _text(self) -> Frame | FrameError | None:
        end = self._buf.find(b"#", max(self._scan, 1))
        if end < 0:
            self._scan = len(self._buf)
            if len(self._buf) > self._max:
                return self._error(f"no H02 frame end '#' within {self._max} bytes", len(self._buf))
            return None
        if end + 1 > self._max:
            return self._error(f"H02 frame of {end + 1} bytes exceeds the {self._max}-byte limit", end + 1)
        return self._frame(end + 1)

    def _binary(self) -> Frame | FrameError | None:
        if self._datagram:
            size = len(self._buf)
            if size < SHORT_BINARY:
                return self._error(f"H02 binary datagram of {size} bytes (at least {SHORT_BINARY})", size)
            return self._frame(min(size, self._max))
        if len(self._buf) < 12:
            return None
        length = binary_length(bytes(self._buf[:15]))
        if length is None:
            if len(self._buf) < 15:
                return None
            return self._garbage(1)  # not an H02 binary header after all: resync at the next marker
        if len(self._buf) < length:
            return None
        return self._frame(length)

    def _garbage(self, start: int) -> FrameError | None:
        """Bytes up to the next `*`/`$` (from `start`), as one FrameError once that marker shows."""
        begin = max(self._scan, start, 1)
        hits = [i for i in (self._buf.find(b"*", begin), self._buf.find(b"$", begin)) if i >= 0]
        if hits:
            return self._error("bytes between H02 frames", min(hits))
        self._scan = len(self._buf)
        if len(self._buf) > self._max:
            return self._error(f"no H02 frame start within {self._max} bytes", len(self._buf))
        return None

    def _frame(self, size: int) -> Frame:
        data = bytes(self._buf[:size])
        del self._buf[:size]
        self._scan = 0
        return Frame(data)

    def _error(self, reason: str, size: int) -> FrameError:
        data = bytes(self._buf[:size])
        del self._buf[:size]
        self._scan = 0
        return FrameError(reason, data)


def new_framer(transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> H02Framer | PerDatagram:
    if transport is Transport.UDP:
        return PerDatagram(lambda: H02Framer(max_frame, datagram=True))  # type: ignore[arg-type]
    return H02Framer(max_frame)


# --------------------------------------------------------------------------------------------
# Session and header
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class H02Session(Session):
    # Devices configured to wait for an `R12` after every position (Traccar's `h02.ack` option).
    ack_positions: bool = False
    manufacturer: str = "HQ"  # the code the device uses; replies and commands carry it back
    last_now: datetime | None = None  # the `now` of the last decoded frame, for command times


@dataclass(frozen=True, slots=True)
class Header:
    manufacturer: str
    device_id: str  # may be empty: `*HQ,,V1,...` (Traccar test) identifies nothing
    type: str
    fields: list[str]  # everything after the type, split on commas
    text: str  # the frame without `*` and `#`


def _read_text(frame: bytes) -> Header:
    if len(frame) < 6 or frame[0] != TEXT_START or frame[-1] != TEXT_END:
        raise Malformed("not an H02 text frame (*...#)")
    try:
        text = frame[1:-1].decode("ascii")
    except UnicodeDecodeError:
        raise Malformed("H02 text frame is not ASCII") from None
    parts = text.split(",")
    if len(parts) < 3 or not parts[2]:
        raise Malformed(f"H02 frame without a message type: {text[:40]!r}")
    manufacturer, device_id, msg_type = parts[0], parts[1], parts[2]
    if not (len(manufacturer) == 2 and manufacturer.isalpha()):
        raise Malformed(f"bad H02 manufacturer code {manufacturer[:8]!r}")
    if not (device_id.isdigit() or device_id == "") or len(device_id) > MAX_ID_DIGITS:
        raise Malformed(f"bad H02 device id {device_id[:24]!r}")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,12}", msg_type):
        raise Malformed(f"bad H02 message type {msg_type[:16]!r}")
    return Header(manufacturer, device_id, msg_type.upper(), parts[3:], text)


def _binary_id(frame: bytes) -> tuple[str, int]:
    """(device id, ID byte count) of a binary frame."""
    length = binary_length(frame[:15])
    if length is None:
        raise Malformed("H02 binary frame: neither a 5- nor an 8-byte BCD ID followed by a valid time")
    if length == SHORT_BINARY:
        return _bcd_digits(frame[1:6]), 5
    return _bcd_digits(frame[1:9])[:15], 8


# --------------------------------------------------------------------------------------------
# Replies: what each message type gets back (policy as data)
# --------------------------------------------------------------------------------------------

def _reply_confirm(header: Header, now: datetime) -> bytes:
    """`*HQ,ID,V4,<type>,YYYYMMDDHHMMSS#`: the server confirms a V1 or NBR report."""
    return f"*{header.manufacturer},{header.device_id},V4,{header.type},{now:%Y%m%d%H%M%S}#".encode()


def _reply_echo(header: Header, now: datetime) -> bytes:
    """The heartbeat's own head: `*HQ,ID,HTBT#`."""
    return f"*{header.manufacturer},{header.device_id},{header.type}#".encode()


def position_ack(manufacturer: str, device_id: str, now: datetime) -> bytes:
    """`*HQ,ID,R12,HHMMSS#`: per-position acknowledgement some models wait for."""
    return f"*{manufacturer},{device_id},R12,{now:%H%M%S}#".encode()


ReplyRule = Callable[[Header, datetime], bytes]
# Message type -> reply. Types not listed get none, except positions on `ack_positions` devices.
REPLIES: dict[str, ReplyRule] = {
    "V1": _reply_confirm,  # Traccar confirms every V1
    "NBR": _reply_confirm,
    "HTBT": _reply_echo,
    "V0": _reply_echo,
}


def _text_reply(header: Header, session: H02Session, now: datetime) -> bytes | None:
    rule = REPLIES.get(header.type)
    if rule is not None:
        return rule(header, now)
    if session.ack_positions and _is_position_type(header.type) and header.type != "V4":
        return position_ack(header.manufacturer, header.device_id, now)
    return None


def _is_position_type(msg_type: str) -> bool:
    return re.fullmatch(r"VI?\d+", msg_type) is not None and msg_type not in ("V0", "V3")


# --------------------------------------------------------------------------------------------
# Field readers
# --------------------------------------------------------------------------------------------

_DASHED = re.compile(r"-(\d+)-(\d+\.\d+)")  # -23-29.0095
_DEG_MIN = re.compile(r"(\d*)(\d\d\.\d+)")  # 2212.8745, 38.6508
_PACKED = re.compile(r"(\d+)(\d\d)(\d{4})")  # 37573392 = 37 deg 57.3392 min


def parse_coordinate(value: str, hemisphere: str, limit: float) -> float:
    value = value.strip()
    if match := _DASHED.fullmatch(value):
        degrees, minutes = int(match.group(1)), float(match.group(2))
    elif match := _DEG_MIN.fullmatch(value):
        degrees, minutes = int(match.group(1) or 0), float(match.group(2))
    elif match := _PACKED.fullmatch(value):
        degrees, minutes = int(match.group(1)), int(match.group(2)) + int(match.group(3)) / 10000
    else:
        raise Malformed(f"bad H02 coordinate {value[:16]!r}")
    if minutes >= 60:
        raise Malformed(f"H02 coordinate {value} has {minutes} minutes")
    result = degrees + minutes / 60
    if result > limit:
        raise Malformed(f"H02 coordinate out of range: {value}")
    if hemisphere not in ("N", "S", "E", "W"):
        raise Malformed(f"bad H02 hemisphere {hemisphere[:4]!r}")
    return round(-result if hemisphere in ("S", "W") else result, 6)


def parse_time(hhmmss: str, ddmmyy: str) -> datetime | None:
    """UTC; None when the device has no date yet (`000000`, empty) or no time."""
    if not ddmmyy or set(ddmmyy) == {"0"} or not hhmmss:
        return None
    if not (len(hhmmss) == 6 and hhmmss.isdigit() and len(ddmmyy) == 6 and ddmmyy.isdigit()):
        raise Malformed(f"bad H02 time/date {hhmmss[:8]!r} {ddmmyy[:8]!r}")
    try:
        return datetime(2000 + int(ddmmyy[4:6]), int(ddmmyy[2:4]), int(ddmmyy[0:2]),
                        int(hhmmss[0:2]), int(hhmmss[2:4]), int(hhmmss[4:6]), tzinfo=timezone.utc)
    except ValueError as exc:
        raise Malformed(f"bad H02 time {ddmmyy} {hhmmss}: {exc}") from None


def _number(value: str, what: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise Malformed(f"bad H02 {what} {value[:12]!r}") from None


def _int(value: str, what: str) -> int:
    value = value.strip()
    if not re.fullmatch(r"-?\d+", value):
        raise Malformed(f"bad H02 {what} {value[:12]!r}")
    return int(value)


def knots_to_kmh(knots: float) -> float:
    return round(knots * KNOTS_TO_KMH, 2)


# vehicle_status bits that mean an alarm when they are 0 (negative logic).
STATUS_ALARMS: tuple[tuple[int, Alarm], ...] = (
    (0, Alarm.VIBRATION),
    (1, Alarm.SOS),
    (2, Alarm.OVERSPEED),
    (18, Alarm.SOS),
    (19, Alarm.POWER_CUT),
)
STATUS_ACC = 10


def status_alarms(status: int) -> list[Alarm]:
    alarms: list[Alarm] = []
    for bit, alarm in STATUS_ALARMS:
        if not status >> bit & 1 and alarm not in alarms:
            alarms.append(alarm)
    return alarms


def parse_status(value: str) -> int:
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", value):
        raise Malformed(f"bad H02 vehicle status {value[:12]!r}")
    return int(value, 16)


# --------------------------------------------------------------------------------------------
# Text message decoders
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Message:
    header: Header
    device_id: str | None
    fix: Position | None = None
    alarms: list[Alarm] = field(default_factory=list)
    status: int | None = None


def _position(message: _Message, **values) -> Position:
    return Position(protocol=NAME, device_id=message.device_id, **values)


def _read_fix(message: _Message, fields: list[str]) -> None:
    """HHMMSS,S,lat,NS,lon,EW,speed,course[,battery],DDMMYY[,...],status[,extras]."""
    if len(fields) < 9:
        raise Malformed(f"H02 {message.header.type}: {len(fields)} fields, a fix needs at least 9")
    hhmmss, validity, lat, ns, lon, ew, speed, course = fields[:8]
    rest = fields[8:]
    if rest and len(rest[0]) != 6 and len(rest) > 1 and len(rest[1]) == 6 and rest[0].isdigit():
        # `...,047,4,080918,...`: a field before the date on some firmware (a battery level on an
        # unknown scale, Traccar's pattern says); skipped.
        rest = rest[1:]
    date = rest[0] if rest else ""
    status_at = next((i for i, value in enumerate(rest[1:], start=1)
                      if re.fullmatch(r"[0-9A-Fa-f]{8}", value)), None)
    if status_at is not None:
        message.status = parse_status(rest[status_at])
        message.alarms = status_alarms(message.status)
    no_position = (not lat.strip() or not lon.strip() or ns not in ("N", "S") or ew not in ("E", "W"))
    if no_position:
        if _number(lat or "0", "latitude") or _number(lon or "0", "longitude"):
            raise Malformed(f"H02 coordinates {lat[:12]!r},{ns[:2]!r} {lon[:12]!r},{ew[:2]!r}")
        return  # `V,0.0000,0,0.0000,0` / empty: the device never had a fix
    fix = _position(
        message,
        time=parse_time(hhmmss, date),
        valid=_validity(validity),
        lat=parse_coordinate(lat, ns, 90.0),
        lon=parse_coordinate(lon, ew, 180.0),
        speed_kmh=knots_to_kmh(_number(speed, "speed")),
    )
    if course.strip():
        value = _number(course, "course")
        fix.course_deg = value if 0 <= value <= 360 else None
    if status_at is not None:
        fix.altitude_m = _altitude(rest[status_at + 1:])
    message.fix = fix


def _validity(value: str) -> bool | None:
    """A/V; a digit is a coding scheme some firmware sends with a fix (valid); empty is unknown."""
    if value in ("A", "V"):
        return value == "A"
    if value.isdigit():
        return True
    if value == "":
        return None
    raise Malformed(f"bad H02 validity {value[:4]!r}")


def _altitude(extras: list[str]) -> float | None:
    """`odometer,temperature,fuel,altitude,lac,cid` after the status (Traccar's decoder, e.g.
    `69129336,0,100.0,18,5141,5A20`): the altitude is the 4th."""
    if len(extras) == 6 and re.fullmatch(r"\d+,-?\d+,\d+\.\d+,-?\d+,[0-9A-Fa-f]+,[0-9A-Fa-f]+", ",".join(extras)):
        return float(extras[3])
    return None


def _records(message: _Message, leading: list[Record] | None = None) -> list[Record]:
    """The fix with its alarms and one Alert per alarm; without a fix, the Alerts alone."""
    out: list[Record] = list(leading or [])
    fix = message.fix
    if fix is not None:
        fix.alarms = list(message.alarms)
        out.append(fix)
        out.extend(Alert.from_fix(fix, alarm) for alarm in message.alarms)
    else:
        out.extend(Alert(protocol=NAME, device_id=message.device_id, alarm=alarm) for alarm in message.alarms)
    return out


def _status_event(message: _Message, name: str = "status", **values) -> Event:
    details = dict(values.pop("details", {}))
    if message.status is not None:
        details["status"] = f"{message.status:08X}"
        details["acc"] = bool(message.status >> STATUS_ACC & 1)
    details.setdefault("type", message.header.type)
    return Event(protocol=NAME, device_id=message.device_id, event=name, details=details, **values)


def _on_position(message: _Message) -> list[Record]:
    _read_fix(message, message.header.fields)
    if message.fix is None:
        return _records(message, [_status_event(message)])
    return _records(message)


def _on_confirmation(message: _Message) -> list[Record]:
    """V4: CMD[,params...],hhmmss(of the command),<the V1 fix fields>."""
    fields = message.header.fields
    if len(fields) < 12:
        raise Malformed(f"H02 V4 with {len(fields)} fields, at least 12 expected")
    fix_fields = fields[-10:]
    command, params, command_time = fields[0], fields[1:-11], fields[-11]
    _read_fix(message, fix_fields)
    event = Event(protocol=NAME, device_id=message.device_id, event="command_result",
                  time=message.fix.time if message.fix else None,
                  text=",".join([command, *params]),
                  details={"command": command, "command_time": command_time})
    return _records(message, [event])


def _on_heartbeat(message: _Message) -> list[Record]:
    """HTBT[,battery %]."""
    fields = message.header.fields
    battery = _int(fields[0], "battery") if fields and fields[0] else None
    return [Event(protocol=NAME, device_id=message.device_id, event="heartbeat",
                  battery_pct=battery if battery is not None and 0 <= battery <= 100 else None)]


def _cells_position(message: _Message, time: datetime | None, cells: list[Cell]) -> list[Record]:
    message.fix = _position(message, time=time, cells=cells)
    return _records(message)


def _on_nbr(message: _Message) -> list[Record]:
    """NBR,HHMMSS,MCC,MNC,delay,count,(LAC,CID,RXLEV)*count,DDMMYY,status[,...]."""
    f = message.header.fields
    if len(f) < 7:
        raise Malformed("H02 NBR too short")
    mcc, mnc, count = _int(f[1], "MCC"), _int(f[2], "MNC"), _int(f[4], "cell count")
    end = 5 + 3 * count
    if count < 0 or len(f) < end + 2:
        raise Malformed(f"H02 NBR announces {count} cells, has {max(len(f) - 7, 0) // 3}")
    cells = [Cell(mcc=mcc, mnc=mnc, lac=_int(f[i], "LAC"), cid=_int(f[i + 1], "CID"), rssi=_int(f[i + 2], "RXLEV"))
             for i in range(5, end, 3)]
    message.status = parse_status(f[end + 1])
    message.alarms = status_alarms(message.status)
    return _cells_position(message, parse_time(f[0], f[end]), cells)


def _on_v3(message: _Message) -> list[Record]:
    """V3,HHMMSS,MCCMNC,count,(LAC,CID,x,rssi)*count,battery,x,X,DDMMYY,status."""
    f = message.header.fields
    if len(f) < 4 or not re.fullmatch(r"\d{5,6}", f[1]):
        raise Malformed("H02 V3 without MCC+MNC")
    mcc, mnc, count = int(f[1][:3]), int(f[1][3:]), _int(f[2], "cell count")
    end = 3 + 4 * count
    if count < 0 or len(f) != end + 5:
        raise Malformed(f"H02 V3 announces {count} cells in {len(f)} fields")
    cells = [Cell(mcc=mcc, mnc=mnc, lac=_int(f[i], "LAC"), cid=_int(f[i + 1], "CID"),
                  rssi=_int(f[i + 3], "rssi") if f[i + 3] else None) for i in range(3, end, 4)]
    message.status = parse_status(f[end + 4])
    message.alarms = status_alarms(message.status)
    return _cells_position(message, parse_time(f[0], f[end + 3]), cells)


def _on_vp1(message: _Message) -> list[Record]:
    """VP1,V,MCC,MNC,LAC,CID,RSSI[YLAC,CID,RSSI...] or VP1,A|B,lat,NS,lon,EW,speed,course,DDMMYY."""
    f = message.header.fields
    if f and f[0] == "V":
        if len(f) < 6:
            raise Malformed("H02 VP1 cell report too short")
        mcc, mnc = _int(f[1], "MCC"), _int(f[2], "MNC")
        cells = []
        for chunk in ",".join(f[3:]).split("Y"):
            parts = chunk.split(",")
            if len(parts) != 3:
                raise Malformed(f"bad H02 VP1 cell {chunk[:24]!r}")
            cells.append(Cell(mcc=mcc, mnc=mnc, lac=_int(parts[0], "LAC"), cid=_int(parts[1], "CID"),
                              rssi=_int(parts[2], "rssi")))
        return _cells_position(message, None, cells)
    if len(f) != 8 or f[0] not in ("A", "B"):
        raise Malformed("H02 VP1 fix needs A|B,lat,NS,lon,EW,speed,course,date")
    if not re.fullmatch(r"\d{6}", f[7]):
        raise Malformed(f"bad H02 VP1 date {f[7][:8]!r}")
    # The frame has a date but no time of day, so the record has no time.
    message.fix = _position(
        message, valid=True, lat=parse_coordinate(f[1], f[2], 90.0), lon=parse_coordinate(f[3], f[4], 180.0),
        speed_kmh=knots_to_kmh(_number(f[5], "speed")), course_deg=_number(f[6], "course"))
    return _records(message)


def _on_link(message: _Message) -> list[Record]:
    """LINK,HHMMSS,rssi,satellites,battery,steps,turnovers,DDMMYY,status."""
    f = message.header.fields
    if len(f) < 8:
        raise Malformed("H02 LINK too short")
    time = parse_time(f[0], f[6])
    rssi, satellites, battery = _int(f[1], "rssi"), _int(f[2], "satellites"), _int(f[3], "battery")
    steps, turnovers = _int(f[4], "steps"), _int(f[5], "turnovers")
    message.status = parse_status(f[7])
    message.alarms = status_alarms(message.status)
    battery_pct = battery if 0 <= battery <= 100 else None
    event = _status_event(message, "heartbeat", time=time, battery_pct=battery_pct, rssi=rssi,
                          details={"satellites": satellites, "turnovers": turnovers})
    telemetry = Telemetry(protocol=NAME, device_id=message.device_id, time=time, steps=steps,
                          battery_pct=battery_pct, rssi=rssi)
    alerts = _records(message)
    for alert in alerts:
        alert.time = time
    return [event, telemetry, *alerts]


def _on_sms(message: _Message) -> list[Record]:
    """SMS,<free text>: the device's text answer (may hold commas and newlines)."""
    text = message.header.text.split(",", 3)[3] if len(message.header.fields) else ""
    return [Event(protocol=NAME, device_id=message.device_id, event="command_result", text=text)]


def _on_other(message: _Message) -> list[Record]:
    """Types no source documents (XT, BS, BASE...): kept as a status event with their fields."""
    return [_status_event(message, text=",".join(message.header.fields))]


Decoder = Callable[[_Message], list[Record]]
DECODERS: dict[str, Decoder] = {
    "V4": _on_confirmation,
    "HTBT": _on_heartbeat,
    "V0": _on_heartbeat,
    "NBR": _on_nbr,
    "V3": _on_v3,
    "VP1": _on_vp1,
    "LINK": _on_link,
    "SMS": _on_sms,
}


def _decoder_for(msg_type: str) -> Decoder:
    if msg_type in DECODERS:
        return DECODERS[msg_type]
    return _on_position if _is_position_type(msg_type) else _on_other


# --------------------------------------------------------------------------------------------
# Binary frames
# --------------------------------------------------------------------------------------------

def _battery_level(value: int) -> int | None:
    """The byte after the latitude: a level 1-6 on most, a percentage on some (Traccar's table:
    1-3 -> 0/10/20 %, 4-6 -> 60/80/100 %, up to 100 a percentage); 0 and others unknown."""
    if 1 <= value <= 3:
        return (value - 1) * 10
    if 4 <= value <= 6:
        return (value - 1) * 20
    if 7 <= value <= 100:
        return value
    return None


def _decode_binary(frame: bytes, session: H02Session) -> tuple[str, list[Record]]:
    if len(frame) < SHORT_BINARY:
        raise Malformed(f"H02 binary frame of {len(frame)} bytes, at least {SHORT_BINARY}")
    device_id, id_size = _binary_id(frame)
    body = frame[1 + id_size:]
    if len(body) < 26:
        raise Malformed("H02 binary frame too short for its ID")
    time_raw, lat_raw, battery, lon_raw, motion, status_raw = (
        body[0:6], body[6:10], body[10], body[11:16], body[16:19], body[19:23])
    if not _is_bcd(lat_raw) or not _is_bcd(lon_raw[:4]) or (lon_raw[4] >> 4) > 9 or not _is_bcd(motion[:1]):
        raise Malformed("H02 binary coordinates or speed are not BCD")
    if not _is_bcd(time_raw):
        raise Malformed(f"H02 binary time is not BCD: {time_raw.hex()}")
    digits = time_raw.hex()  # hhmmss ddmmyy, as the text frames' two fields
    time = parse_time(digits[0:6], digits[6:12])  # a date the calendar has not (found by fuzzing): Malformed
    lat_digits, lon_digits = lat_raw.hex(), lon_raw.hex()
    flags = lon_raw[4] & 0x0F
    lat = int(lat_digits[0:2]) + float(f"{lat_digits[2:4]}.{lat_digits[4:8]}") / 60
    lon = int(lon_digits[0:3]) + float(f"{lon_digits[3:5]}.{lon_digits[5:9]}") / 60
    if lat > 90 or lon > 180:
        raise Malformed(f"H02 binary coordinates out of range: {lat_digits} {lon_digits}")
    motion_digits = motion.hex()
    if not motion_digits[0:3].isdigit() or not motion_digits[4:6].isdigit():
        raise Malformed("H02 binary speed/course not BCD")
    course = int(motion_digits[3], 16) * 100 + int(motion_digits[4:6]) if motion_digits[3].isdigit() else None
    status = int.from_bytes(status_raw, "big")
    message = _Message(Header(session.manufacturer, device_id, "binary", [], ""), device_id or None)
    message.status, message.alarms = status, status_alarms(status)
    message.fix = _position(
        message, time=time, valid=bool(flags & 0x2),
        lat=round(lat if flags & 0x4 else -lat, 6), lon=round(lon if flags & 0x8 else -lon, 6),
        speed_kmh=knots_to_kmh(int(motion_digits[0:3])),
        course_deg=float(course) if course is not None and course <= 360 else None,
        battery_pct=_battery_level(battery))
    return device_id, _records(message)


# --------------------------------------------------------------------------------------------
# decode / identify
# --------------------------------------------------------------------------------------------

def _session(session: Session) -> H02Session:
    return session if isinstance(session, H02Session) else H02Session(transport=session.transport,
                                                                       device_id=session.device_id)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """Device id, reply and type from the frame head alone (the listener's hot path)."""
    s = _session(session)
    if frame[:1] == b"$":
        device_id, _ = _binary_id(frame)
        reply = position_ack(s.manufacturer, device_id, now) if s.ack_positions else None
        return Identified(device_id=device_id or session.device_id, reply=reply, message_type="binary")
    header = _read_text(frame)
    return Identified(device_id=header.device_id or session.device_id,
                      reply=_text_reply(header, s, now), message_type=header.type)


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """Once the head (manufacturer, ID, type) reads, the frame is answered as its type prescribes
    even when its body does not decode: the frame is stored on Kafka either way (and dead-lettered
    by the processors), and an unanswered V1 would be sent again and again. The body's fault is
    still `Decoded.error`."""
    s = _session(session)
    header: Header | None = None
    if frame[:1] == b"$":
        device_id, _ = _binary_id(frame)
        reply = position_ack(s.manufacturer, device_id, now) if s.ack_positions else None
        message_type, manufacturer = "binary", s.manufacturer
    else:
        header = _read_text(frame)
        device_id, reply, message_type, manufacturer = (
            header.device_id, _text_reply(header, s, now), header.type, header.manufacturer)
    if device_id:
        session.device_id = device_id
    _remember(session, manufacturer, now)
    try:
        if header is None:
            records = _decode_binary(frame, s)[1]
        else:
            records = _decoder_for(header.type)(_Message(header, session.device_id))
    except Malformed as exc:
        return Decoded(error=str(exc), reply=reply, device_id=session.device_id, message_type=message_type)
    return Decoded(records=records, reply=reply, device_id=session.device_id, message_type=message_type)


def _remember(session: Session, manufacturer: str, now: datetime) -> None:
    if isinstance(session, H02Session):
        session.manufacturer = manufacturer.upper() if manufacturer.isalpha() else session.manufacturer
        session.last_now = now


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def _interval(params: dict[str, str]) -> list[str]:
    """S71,22,<seconds>: the report interval (document command S71, sub-command 22)."""
    seconds = int(params.get("seconds", ""))
    if not 5 <= seconds <= 65535:
        raise UnsupportedCommand(f"h02 interval must be 5-65535 s, not {seconds}")
    return ["S71", "22", str(seconds)]


def _custom(params: dict[str, str]) -> list[str]:
    text = params.get("text", "")
    if not text or not text.isascii() or "#" in text or not text.isprintable():
        raise UnsupportedCommand("h02 custom command needs printable ASCII text without '#'")
    return [text]


_COMMANDS: dict[str, Callable[[dict[str, str]], list[str]]] = {
    "set_interval": _interval,
    "engine_stop": lambda p: ["S20", "1", "1"],  # cut oil/engine
    "engine_resume": lambda p: ["S20", "1", "0"],
    "alarm_arm": lambda p: ["SCF", "0", "0"],
    "alarm_disarm": lambda p: ["SCF", "1", "1"],
    "custom": _custom,
}


def encode_command(command: Command, session: Session) -> bytes:
    """`*HQ,ID,CMD,HHMMSS,params#`. `custom` text is `CMD,params` (the HHMMSS is added)."""
    build = _COMMANDS.get(command.name)
    if build is None:
        raise UnsupportedCommand(f"h02 has no {command.name!r} command in its documents")
    if not session.device_id:
        raise UnsupportedCommand("h02 commands need the device id (no frame from the device yet)")
    s = _session(session)
    when = command.params.get("time") or (f"{s.last_now:%H%M%S}" if s.last_now else None)
    if when is None or not re.fullmatch(r"\d{6}", when):
        raise UnsupportedCommand("h02 commands carry a HHMMSS time: decode a frame first or pass params['time']")
    try:
        parts = build(command.params)
    except ValueError as exc:
        raise UnsupportedCommand(f"h02 {command.name}: {exc}") from None
    if command.name == "custom":
        parts = parts[0].split(",")  # `S20,1,1`: the command word, then its parameters
    head, *args = parts
    return ",".join([f"*{s.manufacturer}", session.device_id, head, when, *args]).encode() + b"#"


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class H02Codec:
    name: str = field(default=NAME)
    transports: frozenset[Transport] = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME):
        return new_framer(transport, max_frame)

    def new_session(self, transport: Transport) -> H02Session:
        return H02Session(transport=transport)

    # The module functions raise Malformed; the codec hands it back as the error (callers that call
    # `decode` directly, as the listener does, get the same answer as through guarded_decode).
    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        try:
            return decode(frame, session, now)
        except Malformed as exc:
            return Decoded(error=str(exc), device_id=session.device_id)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        try:
            return identify(frame, session, now)
        except Malformed as exc:
            return Identified(error=str(exc), device_id=session.device_id)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = H02Codec()
