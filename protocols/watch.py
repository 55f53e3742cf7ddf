"""Codec for the 3G/4G smart-watch text protocol (SeTracker / Beesure / "3G" protocol).

Every message, both ways, is ``[XX*ID*LLLL*CONTENT]``: a two-character vendor prefix (SG, 3G, CS,
ZJ, YW...), the device id (10 digits from the IMEI, or the whole 15-digit IMEI), the content length
as four hex digits, and ``TYPE`` or ``TYPE,field,...``. Some firmware (ZJ, YW) put a four-hex-digit
sequence number before the length: ``[ZJ*ID*IIII*LLLL*CONTENT]``; the server echoes it in its
replies (Traccar WatchProtocolDecoder ``hasIndex``/``index``).

Sources (facts only, no code copied):
- Vendor protocol: "Beesure GPS SeTracker Server Protocol", 4P-Touch / Shenzhen Yushengchang,
  https://www.4p-touch.com/beesure-gps-setracker-server-protocol.html (message list, replies,
  Appendix I location layout and status bits, voice escaping, health messages).
- Watch firmware implementing the device side (ZDT "YX" platform, zdt_yx_net.c / zdt_yx_func.c in
  public repositories): ``YX_Func_GetStatus`` writes the status field as ``%04X%04X`` of
  (alarm, state), alarm bit 0x0001 SOS, 0x0002 low battery, 0x0010 watch removed, 0x0020 fall; it
  also shows which commands the watch answers and with what.
- Traccar WatchProtocolDecoder / WatchFrameDecoder / WatchProtocolEncoder and their tests
  (github.com/traccar/traccar): index variant, hex LAC/CID, ``INIT``/``JXTK`` replies, samples.

Framing: the declared length is usually right and is what keeps binary voice/image chunks and
SSIDs containing ``[``/``]`` intact, but real watches also send lengths that are a few bytes off
(several of Traccar's real samples). So: length first; when the byte at the declared end is not
``]``, or the declared end is not here yet while a bracket-balanced ``]`` already ends the buffer
or is followed by the next ``[``, the frame ends at that ``]`` (Traccar WatchFrameDecoder's rule).

Binary payloads (TK/JXTK voice in AMR, img JPEG) escape 0x7D 0x5B 0x5D 0x2C 0x2A as 0x7D 0x01..0x05
(vendor document, section 25; Traccar WatchFrameDecoder); the declared length counts the escaped
bytes on the wire (checked against Traccar's real six-chunk JXTK capture).

Times in the location layout are GMT per the vendor document (Appendix I: "Greenwich meantime").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

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
from protocols.framing import PerDatagram
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Telemetry, Wifi

NAME = "watch"

_LBRACKET = 0x5B
_RBRACKET = 0x5D
_STAR = 0x2A
_ESCAPE = 0x7D
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ALNUM = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MAX_ID_DIGITS = 20  # 10-digit ids and 15-digit IMEIs are the norm; leave room, stay bounded
_BRACKETS = re.compile(rb"[\[\]]")
_TYPE_CHARS = re.compile(r"[A-Za-z0-9_]+")

# Escaped byte -> original byte (vendor document section 25, Traccar WatchFrameDecoder).
_ONLY_LBRACKET = frozenset((_LBRACKET,))
_ONLY_STAR = frozenset((_STAR,))

_UNESCAPE = {0x01: _ESCAPE, 0x02: _LBRACKET, 0x03: _RBRACKET, 0x04: 0x2C, 0x05: _STAR}


# ---------------------------------------------------------------------------------------------
# Header grammar, shared by detection, framing and decoding
# ---------------------------------------------------------------------------------------------

_OK, _NEED, _BAD = "ok", "need", "bad"


@dataclass(frozen=True, slots=True)
class _Header:
    prefix: str
    device_id: str
    index: str | None  # sequence number of the ZJ/YW variant, echoed in replies
    length: int  # declared content length
    content_off: int  # offset of the first content byte from the opening '['


def _expect(buf: bytes, i: int, end: int, allowed: frozenset[int]) -> str:
    if i >= end:
        return _NEED
    return _OK if buf[i] in allowed else _BAD


def _scan_header(buf: bytes | bytearray, start: int, end: int, resolve_index: bool = True) -> tuple[str, _Header | None]:
    """Match ``[XX*digits*HHHH*`` (+ ``HHHH*`` for the index variant) at ``buf[start]``.

    Returns (_OK, header), (_NEED, None) when the bytes so far are a valid prefix of a header, or
    (_BAD, None). With resolve_index=False it stops after the first length field (detection).
    """
    i = start
    for allowed in (_ONLY_LBRACKET, _ALNUM, _ALNUM, _ONLY_STAR):
        verdict = _expect(buf, i, end, allowed)
        if verdict is not _OK:
            return verdict, None
        i += 1
    id_start = i
    while i < end and buf[i] in _DIGITS and i - id_start < _MAX_ID_DIGITS:
        i += 1
    if i >= end:
        return _NEED, None
    if buf[i] != _STAR or i == id_start:
        return _BAD, None
    id_end = i
    i += 1
    first = i
    for _ in range(4):
        verdict = _expect(buf, i, end, _HEX)
        if verdict is not _OK:
            return verdict, None
        i += 1
    verdict = _expect(buf, i, end, _ONLY_STAR)
    if verdict is not _OK:
        return verdict, None
    i += 1
    if not resolve_index:
        return _OK, None
    # A second "HHHH*" right after the first one means the first was a sequence number
    # (Traccar WatchProtocolDecoder: 4 hex digits followed by '*').
    second = i
    for k in range(5):
        if second + k >= end:
            return _NEED, None
        byte = buf[second + k]
        if (k < 4 and byte not in _HEX) or (k == 4 and byte != _STAR):
            break
    else:
        return _OK, _header(buf, start, id_start, id_end, index=first, length=second, content=second + 5)
    return _OK, _header(buf, start, id_start, id_end, index=None, length=first, content=second)


def _header(buf: bytes | bytearray, start: int, id_start: int, id_end: int, index: int | None, length: int, content: int) -> _Header:
    return _Header(
        prefix=bytes(buf[start + 1 : start + 3]).decode("ascii"),
        device_id=bytes(buf[id_start:id_end]).decode("ascii"),
        index=bytes(buf[index : index + 4]).decode("ascii") if index is not None else None,
        length=int(bytes(buf[length : length + 4]), 16),
        content_off=content - start,
    )


# ---------------------------------------------------------------------------------------------
# Framer
# ---------------------------------------------------------------------------------------------


class _WatchFramer:
    """Length-first framer with a bracket-balance fallback; bounded and linear-time.

    All per-frame state is kept as offsets from the start of the current frame (``_pos``), and
    the bracket scan resumes where it stopped, so byte-at-a-time input stays O(n).
    """

    def __init__(self, max_frame: int) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._max = max_frame
        self._reset()

    def _reset(self) -> None:
        self._hdr: _Header | None = None
        self._scan_off = 0  # where the bracket scan resumes
        self._depth = 1  # bracket depth, the frame's own '[' counted
        self._cand: int | None = None  # offset of the first ']' that balances the brackets
        self._restart: int | None = None  # offset of an embedded '[' that starts a valid header

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]  # compact: amortised O(1) per byte
            self._pos = 0
        self._buf += data

    def next(self) -> Frame | FrameError | None:
        buf, pos, avail = self._buf, self._pos, len(self._buf) - self._pos
        if avail == 0:
            return None
        if buf[pos] != _LBRACKET:
            return self._garbage_until_bracket("bytes outside a frame", pos)
        if self._hdr is None:
            status, hdr = _scan_header(buf, pos, len(buf))
            if status is _NEED:
                return self._garbage_until_bracket(f"frame exceeds {self._max} bytes", pos + 1) if avail > self._max else None
            if status is _BAD or hdr is None:
                return self._garbage_until_bracket("not a watch frame header", pos + 1)
            self._hdr, self._scan_off = hdr, hdr.content_off
        return self._frame_end(self._hdr, avail)

    def _frame_end(self, hdr: _Header, avail: int) -> Frame | FrameError | None:
        buf, pos = self._buf, self._pos
        end = hdr.content_off + hdr.length  # where the declared length puts the ']'
        if end < avail and buf[pos + end] == _RBRACKET:
            return self._take_frame(end + 1)
        self._scan_brackets(avail)
        end_seen = end < avail
        if self._restart is not None and (end_seen or self._embedded_frame_complete(avail)):
            # A complete new header inside: the watch started over mid-frame (reconnect/reboot).
            return self._take_error("frame cut short by a new frame", self._restart)
        cand = self._cand
        if cand is not None and (end_seen or cand == avail - 1 or buf[pos + cand + 1] == _LBRACKET):
            return self._take_frame(cand + 1)  # declared length is off: trust the brackets
        if avail > self._max:
            return self._garbage_until_bracket(f"frame exceeds {self._max} bytes", pos + 1)
        return None

    def flush(self) -> FrameError | None:
        """What is left when no more bytes will come (the end of a datagram)."""
        left = len(self._buf) - self._pos
        return self._take_error("datagram ends inside a watch frame", left) if left else None

    def _scan_brackets(self, avail: int) -> None:
        """Advance the bracket scan: stop at the first balancing ']'; note embedded headers."""
        if self._cand is not None:
            return
        buf, pos = self._buf, self._pos
        for match in _BRACKETS.finditer(buf, pos + self._scan_off, pos + avail):
            off = match.start() - pos
            if buf[match.start()] == _RBRACKET:
                self._depth -= 1
                if self._depth == 0:
                    self._cand, self._scan_off = off, off + 1
                    return
            else:
                if self._restart is None:
                    status, _ = _scan_header(buf, match.start(), pos + avail)
                    if status is _NEED:
                        self._scan_off = off  # decide once the rest of this header is here
                        return
                    if status is _OK:
                        self._restart = off
                self._depth += 1
        self._scan_off = avail

    def _embedded_frame_complete(self, avail: int) -> bool:
        start = self._pos + (self._restart or 0)
        status, inner = _scan_header(self._buf, start, self._pos + avail)
        if status is not _OK or inner is None:
            return False
        close = start + inner.content_off + inner.length
        return close < self._pos + avail and self._buf[close] == _RBRACKET

    def _take_frame(self, size: int) -> Frame | FrameError:
        if size > self._max:  # same verdict whether it arrived in one read or byte by byte
            return self._take_error(f"frame exceeds {self._max} bytes", size)
        data = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        self._reset()
        return Frame(data)

    def _take_error(self, reason: str, size: int) -> FrameError:
        data = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        self._reset()
        return FrameError(reason, data)

    def _garbage_until_bracket(self, reason: str, search_from: int) -> FrameError:
        nxt = self._buf.find(b"[", search_from)
        stop = nxt if nxt != -1 else len(self._buf)
        return self._take_error(reason, stop - self._pos)


# ---------------------------------------------------------------------------------------------
# Session, message and helpers
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class WatchSession(Session):
    """Also remembers the watch's vendor prefix and whether it uses the sequence-number variant,
    so commands go out in the form that watch expects."""

    prefix: str | None = None
    index: str | None = None


@dataclass(slots=True)
class _Message:
    header: _Header
    type: str  # as sent: replies echo its case ("bphrt", "oxygen")
    body: bytes  # content after "TYPE," (escaped bytes as received)
    has_body: bool

    @property
    def device_id(self) -> str:
        return self.header.device_id

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def fields(self) -> list[str]:
        return self.text().split(",") if self.has_body else []


Outcome = tuple[list[Record], "str | None"]  # records, and reply content decided by the handler


def _unescape(data: bytes) -> bytes:
    if _ESCAPE not in data:
        return data
    out = bytearray()
    start = 0
    while (at := data.find(_ESCAPE, start)) != -1:
        out += data[start:at]
        code = data[at + 1] if at + 1 < len(data) else None
        if code not in _UNESCAPE:
            raise Malformed(f"invalid escape 0x7d {'end' if code is None else f'0x{code:02x}'} at byte {at}")
        out.append(_UNESCAPE[code])
        start = at + 2
    out += data[start:]
    return bytes(out)


# Numbers as watches write them; bounded digit counts keep every value finite and within what
# the records' consumers (msgpack, ClickHouse Int32/Int64) hold.
_INT = re.compile(r"[+-]?\d{1,9}", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})", re.ASCII)
_HEX8 = re.compile(r"[0-9A-Fa-f]{1,8}", re.ASCII)
_DECIMAL_CELL = re.compile(r"\d{1,12}", re.ASCII)
_HEX_CELL = re.compile(r"[0-9A-Fa-f]{1,12}", re.ASCII)


def _int(value: str, what: str) -> int:
    if not _INT.fullmatch(value.strip()):
        raise Malformed(f"{what} is not an integer: {value[:24]!r}")
    return int(value.strip())


def _opt_int(value: str | None) -> int | None:
    if value is None or not _INT.fullmatch(value.strip()):
        return None
    return int(value.strip())


def _float(value: str, what: str) -> float:
    if not _FLOAT.fullmatch(value.strip()):
        raise Malformed(f"{what} is not a number: {value[:24]!r}")
    return float(value.strip())


def _reading(value: str | None) -> int | None:
    """Health readings use 0 (or nothing) for "no valid measurement" (vendor doc, bphrt)."""
    number = _opt_int(value)
    return number if number else None


def _field(values: list[str], index: int) -> str | None:
    return values[index] if index < len(values) else None


def _frame(prefix: str, device_id: str, index: str | None, content: bytes) -> bytes:
    if len(content) > 0xFFFF:
        raise UnsupportedCommand(f"content of {len(content)} bytes does not fit the 4-hex-digit length")
    seq = f"{index}*" if index is not None else ""
    return f"[{prefix}*{device_id}*{seq}{len(content):04X}*".encode("ascii") + content + b"]"


# ---------------------------------------------------------------------------------------------
# Location layout (vendor document Appendix I) and alarms
# ---------------------------------------------------------------------------------------------

# Status field: 32 bits as hex, high 16 bits alarms, low 16 bits states (vendor doc Appendix I;
# firmware YX_Func_GetStatus writes "%04X%04X" of alarm, state). Bits 16-21 agree in the vendor
# doc, the firmware and Traccar's decodeAlarm; bit 22 is "abnormal heart rate alarm" in the vendor
# doc (Traccar reads it as a fall).
_ALARM_BITS: tuple[tuple[int, Alarm], ...] = (
    (16, Alarm.SOS),
    (17, Alarm.LOW_BATTERY),
    (18, Alarm.GEOFENCE_EXIT),
    (19, Alarm.GEOFENCE_ENTER),
    (20, Alarm.REMOVAL),
    (21, Alarm.FALL),
    (22, Alarm.HEART_RATE_ABNORMAL),
)
_KNOWN_ALARM_MASK = sum(1 << bit for bit, _ in _ALARM_BITS)
# States that explain an AL message carrying no alarm bit (Traccar decodeAlarm bits 0-2).
_STATE_BITS: tuple[tuple[int, Alarm], ...] = ((0, Alarm.LOW_BATTERY), (1, Alarm.GEOFENCE_EXIT), (2, Alarm.GEOFENCE_ENTER))

# Field positions after the message type (vendor doc Appendix I).
(F_DATE, F_TIME, F_VALID, F_LAT, F_LAT_HEM, F_LON, F_LON_HEM, F_SPEED, F_COURSE, F_ALTITUDE,
 F_SATELLITES, F_RSSI, F_BATTERY, F_STEPS, F_ROLLS, F_STATUS, F_NETWORK) = range(17)


def _alarms(status: int, alarm_message: bool) -> list[Alarm]:
    alarms = [alarm for bit, alarm in _ALARM_BITS if status >> bit & 1]
    if status >> 16 & ~(_KNOWN_ALARM_MASK >> 16) & 0xFFFF:
        alarms.append(Alarm.GENERAL)  # an alarm bit no source documents
    if alarm_message and not alarms:
        alarms = [alarm for bit, alarm in _STATE_BITS if status >> bit & 1] or [Alarm.GENERAL]
    return alarms


def _device_time(date: str, time: str) -> datetime | None:
    date, time = date.strip(), time.strip()
    if len(date) != 6 or len(time) != 6 or not (date + time).isdigit() or not (date + time).isascii():
        raise Malformed(f"bad date/time {date[:8]!r} {time[:8]!r}")
    year, month, day = 2000 + int(date[4:]), int(date[2:4]), int(date[:2])
    hour, minute, second = int(time[:2]), int(time[2:4]), int(time[4:])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and second < 60):
        return None  # e.g. 000000 before the watch has synced its clock
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def _coordinate(value: str, hemisphere: str, limit: float, what: str) -> float:
    number = _float(value, what)
    if hemisphere.strip() in ("S", "W"):
        number = -abs(number)  # some firmware also put the sign in the value (Traccar samples)
    if abs(number) > limit:
        raise Malformed(f"{what} out of range: {value!r}")
    return number


def _mac(value: str) -> str | None:
    parts = value.strip().split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return None  # "", "0": no usable address
    return ":".join(p.zfill(2).lower() for p in parts)


def _cell_number(value: str) -> int | None:
    value = value.strip()
    if _DECIMAL_CELL.fullmatch(value):
        return int(value)
    if _HEX_CELL.fullmatch(value):  # LAC/CID in hex when they contain hex letters (Traccar sample "55C0,3B882A2")
        return int(value, 16)
    return None


def _network(values: list[str]) -> tuple[list[Cell], list[Wifi]]:
    """Cells then Wi-Fi after the status field; parse what is there, never more than is there.

    count, connect-to-base flag, mcc, mnc, (lac, cid, rssi)*count, wifi count, (ssid, mac, rssi)*n,
    accuracy. With a count of 0 the flag/mcc/mnc are absent (Traccar samples 9031853319, 8800000015).
    """
    count = _opt_int(_field(values, 0))
    if count is None:
        return [], []
    i, cells = 1, []
    if count > 0:
        mcc, mnc = _opt_int(_field(values, 2)), _opt_int(_field(values, 3))
        i = 4
        for _ in range(count):
            if i + 2 > len(values):
                break
            lac, cid = _cell_number(values[i]), _cell_number(values[i + 1])
            rssi = _opt_int(_field(values, i + 2))
            i += 3
            if None not in (mcc, mnc, lac, cid):
                cells.append(Cell(mcc=mcc, mnc=mnc, lac=lac, cid=cid, rssi=rssi))  # type: ignore[arg-type]
    wifi: list[Wifi] = []
    wifi_count = _opt_int(_field(values, i))
    if wifi_count:
        i += 1
        for _ in range(wifi_count):
            if i + 3 > len(values):
                break
            ssid, mac, rssi = values[i : i + 3]
            i += 3
            if (address := _mac(mac)) is not None:
                wifi.append(Wifi(mac=address, rssi=_opt_int(rssi), ssid=ssid or None))
    return cells, wifi


def _position(msg: _Message, alarm_message: bool) -> Position:
    values = msg.fields()
    if len(values) <= F_STATUS:
        raise Malformed(f"{msg.type} has {len(values)} location fields, expected at least {F_STATUS + 1}")
    validity = values[F_VALID].strip()
    if validity not in ("A", "V"):
        raise Malformed(f"fix validity is not A/V: {validity!r}")
    lat = _coordinate(values[F_LAT], values[F_LAT_HEM], 90.0, "latitude")
    lon = _coordinate(values[F_LON], values[F_LON_HEM], 180.0, "longitude")
    located = not (lat == 0.0 and lon == 0.0)  # 0,0 is "no coordinates", with A or V
    if not _HEX8.fullmatch(values[F_STATUS].strip()):
        raise Malformed(f"status is not hex: {values[F_STATUS][:24]!r}")
    status = int(values[F_STATUS].strip(), 16)
    speed = _float(values[F_SPEED], "speed")
    course = _float(values[F_COURSE], "course")
    altitude = _float(values[F_ALTITUDE], "altitude")
    cells, wifi = _network(values[F_NETWORK:])
    return Position(
        protocol=NAME,
        device_id=msg.device_id,
        time=_device_time(values[F_DATE], values[F_TIME]),
        valid=validity == "A",
        lat=lat if located else None,
        lon=lon if located else None,
        # Without coordinates these are placeholders (e.g. "22.0,0,-1" on V frames).
        speed_kmh=speed if located else None,
        course_deg=course if located else None,
        altitude_m=altitude if located else None,
        satellites=_int(values[F_SATELLITES], "satellites"),
        rssi=_int(values[F_RSSI], "GSM signal"),
        battery_pct=_int(values[F_BATTERY], "battery"),
        steps=_int(values[F_STEPS], "steps"),
        cells=cells,
        wifi=wifi,
        alarms=_alarms(status, alarm_message),
    )


def _with_alerts(position: Position) -> list[Record]:
    return [position, *(Alert.from_fix(position, alarm) for alarm in position.alarms)]


# ---------------------------------------------------------------------------------------------
# Message handlers: one small function per kind of message
# ---------------------------------------------------------------------------------------------


def _event(msg: _Message, name: str, **kw) -> Event:
    return Event(protocol=NAME, device_id=msg.device_id, event=name, **kw)


def _telemetry_or_invalid(msg: _Message, **readings) -> list[Record]:
    reading = Telemetry(protocol=NAME, device_id=msg.device_id, **readings)
    if reading.is_empty():  # the watch reported a failed measurement (all zero/absent)
        return [_event(msg, "measurement_invalid", details={"type": msg.type})]
    return [reading]


def _on_location(msg: _Message) -> Outcome:
    return _with_alerts(_position(msg, alarm_message=False)), None


def _on_alarm(msg: _Message) -> Outcome:
    return _with_alerts(_position(msg, alarm_message=True)), None


def _on_keepalive(msg: _Message) -> Outcome:
    values = msg.fields()
    if len(values) < 3:  # "LK" alone; two values are undocumented (Traccar ignores them too)
        details = {"values": msg.text()} if values else {}
        return [_event(msg, "heartbeat", details=details)], None
    steps, rolls, battery = _opt_int(values[0]), _opt_int(values[1]), _opt_int(values[2])
    details = {"rolls": rolls} if rolls is not None else {}
    records: list[Record] = [_event(msg, "heartbeat", battery_pct=battery, details=details)]
    if steps is not None:
        records.append(Telemetry(protocol=NAME, device_id=msg.device_id, steps=steps, battery_pct=battery))
    return records, None


def _on_blood_pressure(msg: _Message) -> Outcome:
    # bphrt,systolic,diastolic,heart rate,height,gender,age,weight; 0 = invalid (vendor doc III.3)
    # BLOOD,systolic,diastolic (firmware YX_Net_Send_BLOOD); a third value is a heart rate (Traccar)
    values = msg.fields()
    return _telemetry_or_invalid(
        msg,
        bp_systolic_mmhg=_reading(_field(values, 0)),
        bp_diastolic_mmhg=_reading(_field(values, 1)),
        heart_rate_bpm=_reading(_field(values, 2)),
    ), None


def _on_heart(msg: _Message) -> Outcome:
    # heart,71 / HEART,71 (firmware YX_Net_Send_HEART) / PULSE,72 (Traccar samples); 0 = no reading
    return _telemetry_or_invalid(msg, heart_rate_bpm=_reading(_field(msg.fields(), 0))), None


def _on_oxygen(msg: _Message) -> Outcome:
    # oxygen,type,SpO2 (vendor doc III.4); the reply carries the server's verdict:
    # 1 normal, 0 abnormal, 2 error; the doc rates 90-100 % as good.
    spo2 = _reading(_field(msg.fields(), 1))
    verdict = "2" if spo2 is None or spo2 > 100 else ("1" if spo2 >= 90 else "0")
    valid = spo2 if verdict != "2" else None
    return _telemetry_or_invalid(msg, spo2_pct=float(valid) if valid is not None else None), f"{msg.type},{verdict}"


def _body_temperature(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    temp = _float(value, "temperature")
    return temp if temp > 1.0 else None  # btemp2 uses 0/1 for low/high measurement errors


def _on_btemp2(msg: _Message) -> Outcome:
    # btemp2,mode,temp: mode 0 forehead, 1 wrist; temp 0 / 1 = measurement abnormal (vendor doc VI.1)
    return _telemetry_or_invalid(msg, body_temp_c=_body_temperature(_field(msg.fields(), 1))), None


def _on_temp(msg: _Message) -> Outcome:
    # TEMP,36.50 (firmware YX_Net_Send_TEMP; Traccar sample)
    return _telemetry_or_invalid(msg, body_temp_c=_body_temperature(_field(msg.fields(), 0))), None


def _on_voice(msg: _Message) -> Outcome:
    # TK,<AMR> / TK2,...: voice from the watch, answered "TK,1"; "TK,1"/"TK,0" is the watch's own
    # answer to a voice message we sent (vendor doc section 25; firmware YX_Net_Receive_TK).
    if msg.body in (b"0", b"1"):
        return [_event(msg, "command_result", text=f"{msg.type},{msg.text()}")], None
    if not msg.has_body:
        raise Malformed(f"{msg.type} without audio")
    audio = _unescape(msg.body)
    return [_event(msg, "voice", details={"bytes": len(audio)})], f"{msg.type},1"


def _on_voice_chunk(msg: _Message) -> Outcome:
    # JXTK,x,name,part,parts,<AMR chunk>; answered "JXTKR,1" (Traccar WatchProtocolDecoder, real
    # six-chunk capture in its tests)
    parts = msg.body.split(b",", 4)
    if len(parts) != 5:
        raise Malformed("JXTK needs 4 fields before the audio")
    name = parts[1].decode("ascii", "replace")
    part, total = _int(parts[2].decode("ascii", "replace"), "part"), _int(parts[3].decode("ascii", "replace"), "parts")
    audio = _unescape(parts[4])
    details: dict[str, str | int | float | bool] = {"bytes": len(audio), "part": part, "parts": total, "name": name}
    return [_event(msg, "voice", details=details)], "JXTKR,1"


def _on_image(msg: _Message) -> Outcome:
    # img,x,yymmddhhmmss,<JPEG>: x=5 remote snapshot (vendor doc IV); no reply documented
    parts = msg.body.split(b",", 2)
    if len(parts) != 3:
        raise Malformed("img needs source and time before the picture")
    stamp = parts[1].decode("ascii", "replace")
    if len(stamp) != 12 or not stamp.isdigit():
        raise Malformed(f"bad img time {stamp!r}")
    picture = _unescape(parts[2])
    event = _event(msg, "image", time=_device_time(stamp[4:6] + stamp[2:4] + stamp[:2], stamp[6:]),
                   details={"bytes": len(picture), "source": parts[0].decode("ascii", "replace")})
    return [event], None


def _on_config(msg: _Message) -> Outcome:
    # CONFIG,TY:G75,UL:600,SY:1,CM:1 answered "CONFIG,1" (vendor doc I.5)
    details: dict[str, str | int | float | bool] = {}
    for item in msg.fields():
        key, sep, value = item.partition(":")
        if sep and key.strip():
            details[key.strip()] = value.strip()
    return [_event(msg, "config", details=details)], None


def _device_info(key: str) -> Callable[[_Message], Outcome]:
    def handle(msg: _Message) -> Outcome:
        value = msg.text().strip()
        return [_event(msg, "device_info", details={key: value} if value else {})], None

    return handle


def _named_event(name: str) -> Callable[[_Message], Outcome]:
    def handle(msg: _Message) -> Outcome:
        return [_event(msg, name)], None

    return handle


def _on_command_result(msg: _Message) -> Outcome:
    text = f"{msg.type},{msg.text()}" if msg.has_body else msg.type
    return [_event(msg, "command_result", text=text)], None


def _on_unknown(msg: _Message) -> Outcome:
    preview = msg.body[:120].decode("utf-8", "replace")
    return [_event(msg, "unknown", text=msg.type, details={"content": preview} if msg.has_body else {})], None


@dataclass(frozen=True, slots=True)
class _Route:
    handle: Callable[[_Message], Outcome]
    # Reply the protocol requires whatever the body holds (unless the handler picks another).
    ack: Callable[[_Message], str] | None = None
    # Reply when the body cannot be decoded (the raw frame is kept as a dead letter); defaults to
    # `ack`, since an unanswered AL/LK makes the watch retransmit or reboot (vendor doc I.1, I.4).
    nack: Callable[[_Message], str] | None = None
    # The handler chooses the reply from the body (a verdict, or none for some bodies): `identify`
    # must then decode the body too. Every other route's reply follows from its type alone.
    reply_from_body: bool = False

    def reply_on_error(self, msg: _Message) -> str | None:
        answer = self.nack or self.ack
        return answer(msg) if answer is not None else None


def _fixed(content: str) -> Callable[[_Message], str]:
    return lambda msg: content


def _echo(msg: _Message) -> str:
    return msg.type


def _echo_with(status: str) -> Callable[[_Message], str]:
    return lambda msg: f"{msg.type},{status}"


_LOCATION = _Route(_on_location)
_ALARM = _Route(_on_alarm, _fixed("AL"))  # vendor doc I.4: "[CS*YYYYYYYYYY*LEN*AL]"

# Exact message types, upper-cased (the watch writes "heart", "bphrt", "oxygen" in lower case).
_ROUTES: dict[str, _Route] = {
    "LK": _Route(_on_keepalive, _fixed("LK")),  # vendor doc I.1
    "INIT": _Route(_named_event("login"), _fixed("INIT,1")),  # Traccar WatchProtocolDecoder
    "TKQ": _Route(_named_event("voice_query"), _echo),  # vendor doc 26
    "TKQ2": _Route(_named_event("voice_query"), _echo),
    "TK": _Route(_on_voice, nack=_echo_with("0"), reply_from_body=True),  # "TK,0": receive failure (vendor doc 25)
    "TK2": _Route(_on_voice, nack=_echo_with("0"), reply_from_body=True),
    "JXTK": _Route(_on_voice_chunk, reply_from_body=True),
    "IMG": _Route(_on_image),
    "BPHRT": _Route(_on_blood_pressure, _echo),  # vendor doc III.3: platform response "bphrt"
    "BLOOD": _Route(_on_blood_pressure),
    "HEART": _Route(_on_heart),
    "PULSE": _Route(_on_heart),
    "OXYGEN": _Route(_on_oxygen, reply_from_body=True),
    "BTEMP2": _Route(_on_btemp2, _echo),  # vendor doc VI.1: server reply "btemp2"
    "TEMP": _Route(_on_temp),
    "CONFIG": _Route(_on_config, _fixed("CONFIG,1")),
    # 4G watches send these at boot; the 4P-Touch server configuration guide says to answer them
    # with the bare type to stop the repeats.
    "ICCID": _Route(_device_info("iccid"), _echo),
    "RYIMEI": _Route(_device_info("imei"), _echo),
}
# The watch's answers to our commands (vendor doc part II "Device reply", firmware
# YX_Net_ReceiveHandle); never acknowledged.
_COMMAND_RESULTS = frozenset(
    """CR UPLOAD PW CALL CENTER MONITOR SOS SOS1 SOS2 SOS3 IP FACTORY LZ SOSSMS LOWBAT VERNO RESET
    POWEROFF REMOVE REMOVESMS PEDO WALKTIME SLEEPTIME SILENCETIME SILENCETIME2 FIND FLOWER REMIND
    REMIND2 MESSAGE PHB PHB1 PHB2 PHL PHBX PHBX2 WHITELIST WHITELIST1 WHITELIST2 PROFILE FALLDOWN
    LSSET RCAPTURE HRTSTART WDSTART BODYTEMP BODYTEMP2 BOOTOFF UPGRADE APN ACALL APPLOCK
    DEVREFUSEPHONESWITCH WIFISEARCH WIFISET WIFIDEL WIFICUR HEALTHAUTOSET TAKEPILLS""".split()
)
_ROUTES.update({name: _Route(_on_command_result) for name in _COMMAND_RESULTS if name not in _ROUTES})
_UNKNOWN = _Route(_on_unknown)

# Families of location messages: UD, UD2, UD3, UD_LTE, UD_WCDMA...; AL, AL_LTE, ALCUSTOMER1...;
# WT / WT_FUTR (weather request carrying a position).
_FAMILIES: tuple[tuple[re.Pattern[str], _Route], ...] = (
    (re.compile(r"UD\d?(_[A-Z0-9]+)?"), _LOCATION),
    (re.compile(r"AL(\d|_[A-Z0-9]+|CUSTOMER\w*)?"), _ALARM),
    (re.compile(r"WT(_[A-Z0-9]+)?"), _LOCATION),
)


def _route(message_type: str) -> _Route:
    upper = message_type.upper()
    if (route := _ROUTES.get(upper)) is not None:
        return route
    for pattern, family in _FAMILIES:
        if pattern.fullmatch(upper):
            return family
    return _UNKNOWN


# ---------------------------------------------------------------------------------------------
# Downlink commands
# ---------------------------------------------------------------------------------------------

_PHONE = re.compile(r"\+?[0-9]{1,20}")


def _param_int(params: dict[str, str], keys: tuple[str, ...], low: int, high: int) -> int:
    for key in keys:
        if key in params:
            text = str(params[key]).strip()
            if not _INT.fullmatch(text):
                raise UnsupportedCommand(f"{key} must be an integer, got {params[key]!r}")
            value = int(text)
            if not low <= value <= high:
                raise UnsupportedCommand(f"{key} must be within {low}..{high}, got {value}")
            return value
    raise UnsupportedCommand(f"missing parameter {' or '.join(keys)}")


def _phone(value: str) -> str:
    value = str(value).strip()
    if value and not _PHONE.fullmatch(value):
        raise UnsupportedCommand(f"not a phone number: {value!r}")
    return value


def _cmd_upload(params: dict[str, str]) -> str:
    # UPLOAD,seconds; 60..65535 s (vendor doc II.2)
    return f"UPLOAD,{_param_int(params, ('seconds', 'interval'), 60, 65535)}"


def _cmd_sos(params: dict[str, str]) -> str:
    # SOS1..SOS3,number or SOS,n1,n2,n3 (vendor doc II.7)
    if "numbers" in params:
        numbers = [_phone(n) for n in str(params["numbers"]).split(",")]
        if not 1 <= len(numbers) <= 3:
            raise UnsupportedCommand("numbers takes one to three phone numbers")
        return "SOS," + ",".join(numbers)
    if "number" not in params:
        raise UnsupportedCommand("missing parameter number (with index 1-3) or numbers")
    index = _param_int(params, ("index",), 1, 3) if "index" in params else 1
    return f"SOS{index},{_phone(params['number'])}"


def _cmd_hrtstart(params: dict[str, str]) -> str:
    # hrtstart,x: 0 stop, 1 measure once, else the period in seconds (vendor doc III.1-2)
    return f"hrtstart,{_param_int(params, ('interval', 'seconds'), 0, 65535)}"


def _cmd_custom(params: dict[str, str]) -> str:
    text = params.get("text")
    if not isinstance(text, str) or not text:
        raise UnsupportedCommand("custom needs a non-empty params['text']")
    if "[" in text or "]" in text:
        raise UnsupportedCommand("custom text must not contain '[' or ']' (they delimit frames)")
    return text


_COMMANDS: dict[str, Callable[[dict[str, str]], str]] = {
    "locate": lambda p: "CR",  # vendor doc II.16
    "reboot": lambda p: "RESET",  # II.15
    "power_off": lambda p: "POWEROFF",  # II.17
    "find_device": lambda p: "FIND",  # II.22
    "factory_reset": lambda p: "FACTORY",  # II.9
    "query_version": lambda p: "VERNO",  # II.13
    "set_interval": _cmd_upload,
    "sos_numbers": _cmd_sos,
    "heart_rate_interval": _cmd_hrtstart,
    "custom": _cmd_custom,
}

# Traccar WatchProtocolEncoder: "CS" when the watch's own prefix is unknown, "0001" as the
# sequence number of commands to watches that use the index variant.
_DEFAULT_PREFIX = "CS"
_COMMAND_INDEX = "0001"


# ---------------------------------------------------------------------------------------------
# The codec
# ---------------------------------------------------------------------------------------------


class WatchCodec:
    name = NAME
    # Watches report over TCP; the same frames are accepted one per UDP datagram.
    transports = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        if not head:
            return Detection.NEED_MORE
        status, _ = _scan_header(head, 0, len(head), resolve_index=False)
        return {_OK: Detection.MATCH, _NEED: Detection.NEED_MORE}.get(status, Detection.NO_MATCH)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> _WatchFramer | PerDatagram:
        # The shared LengthFramer does not fit: the header has a variable length (id digits, the
        # optional index) and the fallback needs bracket balance (SSIDs hold `[`/`]`), so this
        # framer keeps its own rules; UDP uses the shared per-datagram wrapper.
        if transport is Transport.UDP:
            return PerDatagram(lambda: _WatchFramer(max_frame))
        return _WatchFramer(max_frame)

    def new_session(self, transport: Transport) -> WatchSession:
        return WatchSession(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        """A frame whose header cannot be read raises `Malformed` (nobody to answer); a body that
        cannot be decoded is returned as `Decoded.error` with the reply its route still owes."""
        msg = _message(frame)
        _remember(session, msg.header)
        route = _route(msg.type)
        try:
            records, reply = route.handle(msg)
        except Malformed as exc:
            return Decoded(error=f"{msg.type}: {exc}", reply=self._reply(msg, route.reply_on_error(msg)),
                           device_id=msg.device_id, message_type=msg.type)
        if reply is None and route.ack is not None:
            reply = route.ack(msg)
        return Decoded(records=records, reply=self._reply(msg, reply), device_id=msg.device_id, message_type=msg.type)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        """Header, type and the route's acknowledgement, without parsing the body (a body that does
        not decode gets the same answer: `reply_on_error` falls back on `ack`). Routes whose
        handler picks the reply from the body are decoded in full."""
        msg = _message(frame)
        route = _route(msg.type)
        if route.reply_from_body:
            decoded = self.decode(frame, session, now)
            return Identified(device_id=decoded.device_id, reply=decoded.reply, message_type=decoded.message_type,
                              error=None)
        _remember(session, msg.header)
        reply = route.ack(msg) if route.ack is not None else None
        return Identified(device_id=msg.device_id, reply=self._reply(msg, reply), message_type=msg.type)

    @staticmethod
    def _reply(msg: _Message, content: str | None) -> bytes | None:
        if content is None:
            return None
        header = msg.header
        return _frame(header.prefix, header.device_id, header.index, content.encode("ascii"))

    def encode_command(self, command: Command, session: Session) -> bytes:
        build = _COMMANDS.get(command.name)
        if build is None:
            raise UnsupportedCommand(f"watch protocol has no {command.name!r} command")
        if not session.device_id:
            raise UnsupportedCommand("the watch has not identified itself yet")
        content = build(dict(command.params)).encode("utf-8")
        prefix = getattr(session, "prefix", None) or _DEFAULT_PREFIX
        index = _COMMAND_INDEX if getattr(session, "index", None) is not None else None
        return _frame(prefix, session.device_id, index, content)


def _message(frame: bytes) -> _Message:
    status, header = _scan_header(frame, 0, len(frame))
    if status is not _OK or header is None:
        raise Malformed(f"not a watch frame header: {hex_preview(frame)}")
    if len(frame) <= header.content_off or frame[-1] != _RBRACKET:
        raise Malformed("frame does not end with ']'")
    # The declared length is not enforced here: the framer already chose the frame's end, and
    # real watches send lengths a few bytes off (see module docstring).
    content = frame[header.content_off : -1]
    raw_type, comma, body = content.partition(b",")
    message_type = raw_type.decode("ascii", "replace")
    if not _TYPE_CHARS.fullmatch(message_type):
        raise Malformed(f"bad message type {raw_type[:32]!r}")
    return _Message(header=header, type=message_type, body=body, has_body=bool(comma))


def _remember(session: Session, header: _Header) -> None:
    session.device_id = header.device_id
    if isinstance(session, WatchSession):
        session.prefix = header.prefix
        session.index = header.index


CODEC = WatchCodec()
