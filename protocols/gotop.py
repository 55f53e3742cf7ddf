"""GOTOP text protocol (GOTOP L17 bracelet family, GT/TL trackers): `#IMEI,TYPE,fix...#`.

Wire format, as real devices send it (firmware source `Send_Msg_To_Platform`: `'#'` + IMEI + `,TYPE,`
+ fix + `'#'`) and as Traccar frames it (`CharacterDelimiterFrameDecoder(1024, '#')`)::

    #867688033841044,ALM-B1-1,A,DATE:190622,TIME:144956,LAT:22.7193976N,LON:114.3878200E,
     Speed:000.1,100-22,03.72#

- `TYPE`: `CMD-T` timed report, `CMD-F` one-time locate answer (`CMD-F1` cell-based), `CMD-X`
  heartbeat (no fix), `CMD-D` "GPRS connected" (sent right after the device connects), `CMD-KEY`
  SOS key, `ALM-<letter>...` alarms, other `CMD-<letter>` answers to configuration commands, and
  ` ERROR!` for a command the device rejected.
- fix: `A|V`, `DATE:yymmdd`, `TIME:hhmmss` (UTC), `LAT:dd.dddddddN|S`, `LOT:|LON:ddd.dddddddE|W`
  (every prefix optional: Traccar's 2013 samples have none), `Speed:sss.s` km/h, then the status
  `[...-]battery-rssi`, then optional fields: `d+.d` altitude and `d+.dd` HDOP (Traccar 2024),
  `MCCMNC-LAC-CID` cells in hex, and `WIFI:{mac&rssi,...}` / `BLE:{mac&rssi,...}` lists (L17).
- The server never answers: the firmware only waits for its modem's `SEND OK`, Traccar's decoder
  writes nothing back. Every `reply` is therefore None.
- Downlink: `:<password><letter><args>#` (firmware `GPRS_Data_Handle` looks for `:123456`, then
  dispatches on the letter; the same syntax in a public Node.js GOTOP server's command builder).

No variant of this text protocol that we could find carries heart rate, SpO2, blood pressure or
temperature, so this codec emits no Telemetry.
"""

from __future__ import annotations

import calendar
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
from protocols.framing import DelimitedFramer, PerDatagram
from schemas.alarms import Alarm
from schemas.records import Alert, Ble, Cell, Event, Position, Record, Wifi

NAME = "gotop"
DELIMITER = ord("#")
DEFAULT_PASSWORD = "123456"  # factory default the firmware matches (`strstr(gsm_rx_buf, ":123456")`)

# An IMEI is 15 digits; Traccar's samples also have 15 with leading zeros. Be a little lenient.
MIN_ID_DIGITS, MAX_ID_DIGITS = 6, 20
# What may follow `IMEI,` in a frame: the start of every message type we know.
TYPE_STARTS = (b"CMD-", b"ALM-", b" ERROR")


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport = Transport.TCP) -> Detection:
    """MATCH on `#?IMEI,CMD-` / `ALM-` / ` ERROR`; NEED_MORE while `head` could still become that."""
    start = _skip_hashes(head)
    digits_end = _skip_digits(head, start)
    count = digits_end - start
    if count > MAX_ID_DIGITS:
        return Detection.NO_MATCH
    if digits_end == len(head):  # b"", b"#", b"#3548": nothing contradicts a GOTOP frame yet
        return Detection.NEED_MORE
    if head[digits_end] != ord(",") or count < MIN_ID_DIGITS:
        return Detection.NO_MATCH
    rest = head[digits_end + 1:]
    for token in TYPE_STARTS:
        if rest.startswith(token):
            return Detection.MATCH
        if token.startswith(rest):
            return Detection.NEED_MORE
    return Detection.NO_MATCH


def _skip_hashes(data: bytes | bytearray, start: int = 0) -> int:
    while start < len(data) and data[start] == DELIMITER:
        start += 1
    return start


def _skip_digits(data: bytes | bytearray, start: int) -> int:
    while start < len(data) and 0x30 <= data[start] <= 0x39:
        start += 1
    return start


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

class _StreamFramer:
    """Splits a byte stream at `#`. Frames start with a digit, optionally after an opening `#`.

    Devices wrap each message as `#...#` (so two messages in one read arrive as `#A##B#`); text
    that only ends with `#` (Traccar's view) splits the same way. The shared `DelimitedFramer` cuts
    at every `#`; this wrapper knows that a lone `#` segment opens the next frame (or, as `##`, is an
    empty segment between two frames), and that a segment not starting with a digit is garbage
    whose `#` may open the next frame (`junk#123,CMD-X#`). Every byte ends up in exactly one
    Frame or FrameError, with the opening `#` in the item it opens.
    """

    def __init__(self, max_frame: int) -> None:
        # One byte of the bound is kept for the opening `#` this wrapper puts back.
        self._segments = DelimitedFramer(b"#", max_frame=max(max_frame - 1, 2), name="GOTOP frame")
        self._opened = False  # a `#` was read that belongs to the next item

    @property
    def buffered(self) -> int:
        return self._segments.buffered + self._opened

    def feed(self, data: bytes) -> None:
        self._segments.feed(data)

    def next(self) -> Frame | FrameError | None:
        while (item := self._segments.next()) is not None:
            if item.data == b"#" and isinstance(item, Frame):
                self._opened = True  # an opening `#`; after another one, `##` was an empty segment
                continue
            if (out := self._with_opening(item)) is not None:
                return out
        return None

    def flush(self) -> FrameError | None:
        """What is left when no more bytes can come (end of a datagram). Lone `#`s are delimiters."""
        rest = self._segments.flush()
        if rest is None:
            self._opened = False
            return None
        out = self._with_opening(rest)
        self._opened = False
        assert not isinstance(out, Frame)
        return out

    def _with_opening(self, item: Frame | FrameError) -> Frame | FrameError | None:
        data = (b"#" if self._opened else b"") + item.data
        body = item.data
        self._opened = False
        if isinstance(item, Frame) and 0x30 <= body[0] <= 0x39:
            return Frame(data)
        if body.endswith(b"#"):
            # Keep the `#`: it may open the next frame.
            data, self._opened = data[:-1], True
        if not data:  # the tail of an oversized frame was only its `#`
            return None
        reason = item.reason if isinstance(item, FrameError) else "bytes between frames are not a GOTOP frame"
        return FrameError(reason, data)


class GotopFramer:
    """TCP: one `_StreamFramer` over the stream. UDP: each datagram framed on its own."""

    def __init__(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if transport is Transport.UDP:
            self._framer: _StreamFramer | PerDatagram = PerDatagram(lambda: _StreamFramer(max_frame))
        else:
            self._framer = _StreamFramer(max_frame)

    @property
    def buffered(self) -> int:
        return self._framer.buffered

    def feed(self, data: bytes) -> None:
        self._framer.feed(data)

    def next(self) -> Frame | FrameError | None:
        return self._framer.next()


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class GotopSession(Session):
    # The command password the device was configured with (`:123456H<new>#` changes it).
    password: str = DEFAULT_PASSWORD


@dataclass(slots=True)
class _Message:
    device_id: str
    type: str  # `CMD-T`, `ALM-B1-1`, `ERROR!`...
    rest: str  # everything after `IMEI,TYPE,`
    fix: Position | None = None  # the fix the message carries, if any


_TYPE_RE = re.compile(r"(?:CMD|ALM)-[0-9A-Z]+(?:-[0-9A-Z]+)*|ERROR!")
_LIST_RE = re.compile(r"(WIFI|BLE):\{([^}]*)\}")
_LAT_RE = re.compile(r"(\d{1,2}\.\d+)([NS])")
_LON_RE = re.compile(r"(\d{1,3}\.\d+)([EW])")
_CELL_RE = re.compile(r"(\d{3})(\d{2,3})-([0-9A-Fa-f]{1,8})-([0-9A-Fa-f]{1,8})")
_ALTITUDE_RE = re.compile(r"\d{1,6}\.\d")
_HDOP_RE = re.compile(r"\d{1,3}\.\d\d")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5}")
_SPEED_RE = re.compile(r"Speed:(\d{1,4}(?:\.\d+)?)")
_RSSI_RE = re.compile(r"-?\d{1,3}")


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """Records of one frame; raises `Malformed` for a frame that is not valid GOTOP (the caller's
    `guarded_decode` turns it into `Decoded.error`). `now` is unused: every GOTOP fix carries its own
    UTC date and time."""
    device_id, msg_type, rest = _split_header(_text(frame))
    session.device_id = device_id
    message = _Message(device_id, msg_type, rest)
    message.fix = _parse_fix(message)
    records = _handler_for(msg_type)(message)
    return Decoded(records=records, reply=None, device_id=device_id, message_type=msg_type)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """Device id and message type from the header alone. The server never answers GOTOP."""
    device_id, msg_type, _ = _split_header(_text(frame))
    session.device_id = device_id
    return Identified(device_id=device_id, reply=None, message_type=msg_type)


def _text(frame: bytes) -> str:
    if not frame.isascii():
        raise Malformed(f"GOTOP frame is not ASCII: {frame[:40]!r}")
    return frame.strip(b"#").decode("ascii")


def _split_header(text: str) -> tuple[str, str, str]:
    parts = text.split(",", 2)
    if len(parts) < 2:
        raise Malformed(f"GOTOP frame without a message type: {text[:40]!r}")
    device_id, msg_type = parts[0], parts[1].strip()
    if not (device_id.isdigit() and MIN_ID_DIGITS <= len(device_id) <= MAX_ID_DIGITS):
        raise Malformed(f"GOTOP frame does not start with an IMEI: {device_id[:24]!r}")
    if not _TYPE_RE.fullmatch(msg_type):
        raise Malformed(f"unknown GOTOP message type {msg_type[:24]!r}")
    return device_id, msg_type, parts[2] if len(parts) > 2 else ""


# ---- the fix --------------------------------------------------------------------------------

def _parse_fix(message: _Message) -> Position | None:
    """The `A|V,DATE,TIME,LAT,LON,Speed,...` part, or None when the message carries no fix."""
    wifi, ble, rest = _radio_lists(message.rest)
    fields = rest.split(",")
    if fields[0] not in ("A", "V"):
        return None  # a heartbeat, or a command answer in free text
    if len(fields) < 6:
        raise Malformed(f"{message.type}: truncated fix ({len(fields)} fields)")
    position = Position(
        protocol=NAME,
        device_id=message.device_id,
        time=_parse_time(_unprefix(fields[1], "DATE:"), _unprefix(fields[2], "TIME:")),
        valid=fields[0] == "A",
        lat=_parse_coordinate(_unprefix(fields[3], "LAT:"), _LAT_RE, "S", 90.0),
        lon=_parse_coordinate(_unprefix(_unprefix(fields[4], "LOT:"), "LON:"), _LON_RE, "W", 180.0),
        speed_kmh=_parse_speed(fields[5]),
        wifi=wifi,
        ble=ble,
    )
    _apply_status(position, fields[6] if len(fields) > 6 else "")
    _apply_extras(position, fields[7:])
    return position


def _unprefix(value: str, prefix: str) -> str:
    return value[len(prefix):] if value.startswith(prefix) else value


def _parse_time(date: str, time: str) -> datetime | None:
    if not (len(date) == 6 and date.isdigit() and len(time) == 6 and time.isdigit()):
        raise Malformed(f"bad GOTOP date/time {date[:8]!r} {time[:8]!r}")
    if date == "000000":
        return None  # the device never had a GPS time
    year, month, day = 2000 + int(date[0:2]), int(date[2:4]), int(date[4:6])
    hour, minute, second = int(time[0:2]), int(time[2:4]), int(time[4:6])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and second < 60):
        raise Malformed(f"bad GOTOP date/time {date} {time}")
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def _parse_coordinate(value: str, pattern: re.Pattern[str], negative: str, limit: float) -> float:
    match = pattern.fullmatch(value)
    if match is None:
        raise Malformed(f"bad GOTOP coordinate {value[:16]!r}")
    degrees = float(match.group(1))
    if degrees > limit:
        raise Malformed(f"GOTOP coordinate out of range: {value}")
    return -degrees if match.group(2) == negative else degrees


def _parse_speed(value: str) -> float:
    match = _SPEED_RE.fullmatch(value)
    if match is None:
        raise Malformed(f"GOTOP fix without a 'Speed:sss.s' field: {value[:16]!r}")
    return float(match.group(1))


def _apply_status(position: Position, status: str) -> None:
    """`84-20`, `1-1-0-84-20`, `X-X-X-X-81-26`, `057-21`: the last two numbers are battery % and
    the modem's signal value (CSQ 0-31 on most; kept raw). The leading flags are undocumented."""
    parts = status.split("-")
    if len(parts) < 2 or not all(value.isdigit() and len(value) <= 3 for value in parts[-2:]):
        return
    battery, rssi = int(parts[-2]), int(parts[-1])
    position.battery_pct = battery if battery <= 100 else None
    position.rssi = rssi


def _apply_extras(position: Position, fields: list[str]) -> None:
    """Altitude (`59.5`) and HDOP (`00.90`) right after the status, cell towers anywhere after."""
    for index, value in enumerate(fields):
        if index == 0 and _ALTITUDE_RE.fullmatch(value):
            position.altitude_m = float(value)
        elif index <= 1 and position.hdop is None and _HDOP_RE.fullmatch(value):
            hdop = float(value)
            position.hdop = hdop if hdop > 0 else None  # 00.00 means "no HDOP", not a perfect one
        elif (cell := _parse_cell(value)) is not None:
            position.cells.append(cell)


def _parse_cell(value: str) -> Cell | None:
    match = _CELL_RE.fullmatch(value)
    if match is None:
        return None
    mcc, mnc, lac, cid = match.groups()
    return Cell(mcc=int(mcc), mnc=int(mnc), lac=int(lac, 16), cid=int(cid, 16))


def _radio_lists(rest: str) -> tuple[list[Wifi], list[Ble], str]:
    """Pull out `WIFI:{mac&rssi,...}` and `BLE:{...}` (they contain commas) before splitting."""
    wifi: list[Wifi] = []
    ble: list[Ble] = []
    for kind, body in _LIST_RE.findall(rest):
        for mac, rssi in _radio_entries(body):
            if kind == "WIFI":
                wifi.append(Wifi(mac=mac, rssi=rssi))
            else:
                ble.append(Ble(mac=mac, rssi=rssi))
    return wifi, ble, _LIST_RE.sub("", rest)


def _radio_entries(body: str) -> list[tuple[str, int | None]]:
    entries = []
    for entry in filter(None, body.split(",")):
        mac, _, rssi = entry.partition("&")
        if not _MAC_RE.fullmatch(mac):
            raise Malformed(f"bad MAC address in GOTOP radio list: {mac[:24]!r}")
        if rssi and not _RSSI_RE.fullmatch(rssi):
            raise Malformed(f"bad signal level in GOTOP radio list: {rssi[:8]!r}")
        entries.append((mac.lower().replace("-", ":"), int(rssi) if rssi else None))
    return entries


# ---- message types --------------------------------------------------------------------------

Handler = Callable[[_Message], list[Record]]


def _on_position(message: _Message) -> list[Record]:
    """CMD-T (timed report), CMD-F / CMD-F1 (answer to a locate request)."""
    return [_require_fix(message)]


def _on_heartbeat(message: _Message) -> list[Record]:
    return [_event(message, "heartbeat"), *_fix_records(message)]


def _on_login(message: _Message) -> list[Record]:
    """CMD-D: the firmware sends it once its GPRS link is up, like a login (no fix)."""
    return [_event(message, "login"), *_fix_records(message)]


def _on_sos_key(message: _Message) -> list[Record]:
    return _alarm_records(message, Alarm.SOS)


def _on_alarm(message: _Message) -> list[Record]:
    """ALM-<letter>...: the letter names the alarm (firmware `Send_Msg_To_Platform` comments)."""
    letter = message.type[4:5]
    if letter in _NOTICES:
        return [_event(message, "status", text=_NOTICES[letter]), *_fix_records(message)]
    if letter == "B":
        return _alarm_records(message, _geofence_alarm(message.type))
    return _alarm_records(message, _ALARMS.get(letter, Alarm.GENERAL))


def _on_command_result(message: _Message) -> list[Record]:
    """CMD-<letter>: the device's answer to a configuration command (`:123456M1,030S#` -> CMD-M)."""
    details = {"command": message.type[4:], "ok": True}
    return [_event(message, "command_result", text=_answer_text(message), details=details),
            *_fix_records(message)]


def _on_command_error(message: _Message) -> list[Record]:
    """` ERROR!`: the device rejected a command (bad syntax or value)."""
    return [_event(message, "command_result", text="ERROR!", details={"ok": False}),
            *_fix_records(message)]


# Alarm letters: A SOS, B1-B5 geofence 1-5, C overspeed, D low battery, H displacement,
# M fall ("Mdown!"), N shock/collision ("Sudden Stop or Shock!"). Source: firmware comments.
_ALARMS: dict[str, Alarm] = {
    "A": Alarm.SOS,
    "C": Alarm.OVERSPEED,
    "D": Alarm.LOW_BATTERY,
    "H": Alarm.MOVEMENT,
    "M": Alarm.FALL,
    "N": Alarm.ACCIDENT,
}
# ALM- letters that report a state, not a danger.
_NOTICES: dict[str, str] = {
    "E": "gps_no_fix_for_long",
    "F": "battery_full",
    "U": "firmware_updated",
}

_HANDLERS_BY_TYPE: dict[str, Handler] = {
    "CMD-T": _on_position,
    "CMD-F": _on_position,
    "CMD-F1": _on_position,
    "CMD-X": _on_heartbeat,
    "CMD-D": _on_login,
    "CMD-KEY": _on_sos_key,
    "ERROR!": _on_command_error,
}
_HANDLERS_BY_PREFIX: dict[str, Handler] = {
    "ALM-": _on_alarm,
    "CMD-": _on_command_result,
}


def _handler_for(msg_type: str) -> Handler:
    return _HANDLERS_BY_TYPE.get(msg_type) or _HANDLERS_BY_PREFIX[msg_type[:4]]


def _geofence_alarm(msg_type: str) -> Alarm:
    """Traccar's rule: the digit after `ALM-B` odd -> enter, even -> exit (`ALM-B1-1` is an enter)."""
    digit = msg_type[5:6]
    if not digit.isdigit():
        return Alarm.GENERAL
    return Alarm.GEOFENCE_ENTER if int(digit) % 2 else Alarm.GEOFENCE_EXIT


def _require_fix(message: _Message) -> Position:
    if message.fix is None:
        raise Malformed(f"{message.type} without a fix")
    return message.fix


def _fix_records(message: _Message) -> list[Record]:
    return [message.fix] if message.fix is not None else []


def _alarm_records(message: _Message, alarm: Alarm) -> list[Record]:
    """Position with the alarm, plus its Alert. With no fix, the Alert alone."""
    fix = message.fix
    if fix is None:
        return [Alert(protocol=NAME, device_id=message.device_id, alarm=alarm)]
    fix.alarms.append(alarm)
    return [fix, Alert.from_fix(fix, alarm)]


def _event(message: _Message, name: str, *, text: str | None = None,
           details: dict[str, str | int | float | bool] | None = None) -> Event:
    fix = message.fix
    return Event(
        protocol=NAME,
        device_id=message.device_id,
        time=fix.time if fix else None,
        event=name,
        battery_pct=fix.battery_pct if fix else None,
        rssi=fix.rssi if fix else None,
        text=text,
        details=details or {},
    )


def _answer_text(message: _Message) -> str:
    """Free text when the answer has no fix (e.g. a version string), else the answer's type."""
    if message.fix is None and message.rest.strip(", "):
        return message.rest.strip(", ")
    return message.type


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def encode_command(command: Command, session: Session) -> bytes:
    """`:<password><body>#`, the syntax the firmware parses (`analysis_sms_content`)."""
    encoder = _ENCODERS.get(command.name)
    if encoder is None:
        raise UnsupportedCommand(f"gotop cannot encode command {command.name!r}")
    password = command.params.get("password") or getattr(session, "password", DEFAULT_PASSWORD)
    if not (len(password) == 6 and password.isdigit()):
        raise UnsupportedCommand("gotop command password must be 6 digits")
    text = encoder(command.params, password)
    if not text.isascii() or not text.isprintable():
        raise UnsupportedCommand("gotop commands are printable ASCII")
    return text.encode("ascii")


def _param(params: dict[str, str], name: str) -> str:
    if name not in params:
        raise UnsupportedCommand(f"gotop command needs params[{name!r}]")
    return params[name]


def _wrap(password: str, body: str) -> str:
    if "#" in body:
        raise UnsupportedCommand("'#' ends a gotop command; it cannot appear inside one")
    return f":{password}{body}#"


def _locate(params: dict[str, str], password: str) -> str:
    """`F`: one fix now; the device answers with CMD-F."""
    return _wrap(password, "F")


def _power_off(params: dict[str, str], password: str) -> str:
    """`K` with no argument: the device answers ` OK!` (CMD-K) and switches itself off."""
    return _wrap(password, "K")


def _set_interval(params: dict[str, str], password: str) -> str:
    """`M1,<nnn><S|M|H>`: timed reports on, every nnn (1-254) seconds/minutes/hours."""
    value = _param(params, "seconds").strip()
    if not value.isdigit():
        raise UnsupportedCommand(f"gotop interval must be whole seconds, got {value!r}")
    seconds = int(value)
    for unit, size in (("S", 1), ("M", 60), ("H", 3600)):
        if seconds % size == 0 and 1 <= seconds // size <= 254:
            return _wrap(password, f"M1,{seconds // size:03d}{unit}")
    raise UnsupportedCommand(f"gotop cannot express an interval of {seconds} s (1-254 s, min or h)")


def _sos_numbers(params: dict[str, str], password: str) -> str:
    """`A<n>,<number>` per authorized (SOS) number 1-8, `A<n>,D` deletes one.

    Several numbers are sent as consecutive commands in one write; firmware that reads its
    socket in one go (`CIPRXGET_N`) handles them all."""
    numbers = _param(params, "numbers").split(",")
    if not 1 <= len(numbers) <= 8:
        raise UnsupportedCommand("gotop takes 1 to 8 SOS numbers")
    commands = []
    for slot, number in enumerate(numbers, start=1):
        number = number.strip()
        if number and not re.fullmatch(r"\+?\d{3,20}", number):
            raise UnsupportedCommand(f"bad phone number {number!r}")
        commands.append(_wrap(password, f"A{slot},{number or 'D'}"))
    return "".join(commands)


def _custom(params: dict[str, str], password: str) -> str:
    """A full command (`:123456F#`) is sent as is; a bare body (`M2,120`) gets password and `#`."""
    text = _param(params, "text")
    if text.startswith(":"):
        return text if text.endswith("#") else text + "#"
    return _wrap(password, text)


_ENCODERS: dict[str, Callable[[dict[str, str], str], str]] = {
    "locate": _locate,
    "set_interval": _set_interval,
    "sos_numbers": _sos_numbers,
    "power_off": _power_off,
    "custom": _custom,
}


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GotopCodec:
    name: str = field(default=NAME)
    # GOTOP firmware reports over TCP; the same `#...#` frames are accepted one per UDP datagram.
    transports: frozenset[Transport] = field(default=frozenset({Transport.TCP, Transport.UDP}))

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> GotopFramer:
        return GotopFramer(transport, max_frame)

    def new_session(self, transport: Transport) -> GotopSession:
        return GotopSession(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        return decode(frame, session, now)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        return identify(frame, session, now)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = GotopCodec()
