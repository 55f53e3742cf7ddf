"""GPS103: the Xexun / Coban TK103 text family (TK102/TK103/TK104/TK106, GPS102-104).

Frames end with `;` (Coban "GPS102, GPS103, GPS104 GPRS data protocol" and "TK102/TK102B/TK103/
TK103B/TK104/TK106/TK106B GPRS Data Protocol", both on scribd: 168734588, 267545994)::

    ##,imei:359586015829802,A;                      log-on request         -> server answers LOAD
    359586015829802;                                heartbeat (bare IMEI)  -> server answers ON
    imei:359586015829802,help me,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;

Report fields: `imei:IMEI, keyword, local date+time (YYMMDDhhmm[ss] or YY/MM/DD hh:mm), phone or
RFID, F (GPS fix follows) | L (no GPS: LAC and CID follow), UTC hhmmss.sss, A|V, ddmm.mmmm, N|S,
dddmm.mmmm, E|W, speed (knots), course, altitude, ignition, door, fuel 1 %, fuel 2 %, temperature`
(the later fields on newer firmware, as in Traccar's Gps103ProtocolDecoderTest). The UTC date is the
local date moved by whole days so that the UTC time lies within 14 h of the local time.

Keywords: `tracker` (timed report), alarms `help me` (SOS), `low battery`, `stockade` (left the
geo-fence: the manual's "move out of the area"), `move`, `speed` (overspeed), `door alarm`,
`ac alarm` (external power cut), `accident alarm`, `sensor alarm` (vibration), `T:<temp>`
(temperature), `bonnet alarm`/`footbrake alarm`/`DTC`/`oil...` (no code of ours: `general`); status
words `acc on`/`acc off`/`acc alarm`/`rfid`. Others (`001`, `vt14`...) are plain reports.
`OBD` reports carry odometer, fuel use, engine hours, speed, load, coolant temperature, throttle,
RPM, battery voltage and trouble codes (Traccar test frames; layout from Traccar's decoder).

Replies (Coban document; Traccar and navtrack's CobanProtocol answer the same): `LOAD` to the
log-on, `ON` to the heartbeat, and `**,imei:IMEI,E;` ("cancel alarm") to `help me`, which the tracker
otherwise repeats. Other reports get nothing. An SOS whose fix does not decode is not cancelled: the
tracker keeps sending it, so a parse error never silences an alarm.

Downlink (Coban document, Traccar's Gps103ProtocolEncoder): `**,imei:IMEI,B;` one fix, `C,<nn>s|m|h`
timed reports, `D` stop them, `E` cancel alarm, `J`/`K` cut/resume the engine, `L`/`M` arm/disarm.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from protocols.base import (
    DEFAULT_MAX_FRAME,
    Command,
    Decoded,
    Detection,
    Identified,
    Malformed,
    Session,
    Transport,
    UnsupportedCommand,
)
from protocols.framing import DelimitedFramer, PerDatagram
from schemas.alarms import Alarm
from schemas.records import Alert, Event, Position, Record, Telemetry

NAME = "gps103"
END = b";"
KNOTS_TO_KMH = 1.852
MIN_ID_DIGITS, MAX_ID_DIGITS = 6, 20
LOGIN_PREFIX = b"##,imei:"
REPORT_PREFIX = b"imei:"

LOGIN_REPLY = b"LOAD"
HEARTBEAT_REPLY = b"ON"


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport = Transport.TCP) -> Detection:
    """`##,imei:`, `imei:`, or an IMEI followed by `;` (heartbeat) or `imei:` (heartbeat glued to a
    report); NEED_MORE while `head` could still become one of them."""
    if not head:
        return Detection.NEED_MORE
    for prefix in (LOGIN_PREFIX, REPORT_PREFIX):
        if head.startswith(prefix):
            return Detection.MATCH
        if prefix.startswith(head):
            return Detection.NEED_MORE
    digits = 0
    while digits < len(head) and 0x30 <= head[digits] <= 0x39:
        digits += 1
    if digits == 0 or digits > MAX_ID_DIGITS:
        return Detection.NO_MATCH
    if digits == len(head):
        return Detection.NEED_MORE
    if digits < MIN_ID_DIGITS:
        return Detection.NO_MATCH
    rest = head[digits:]
    if rest[:1] == END or rest.startswith(REPORT_PREFIX):
        return Detection.MATCH
    return Detection.NEED_MORE if REPORT_PREFIX.startswith(rest) else Detection.NO_MATCH


def new_framer(transport: Transport, max_frame: int = DEFAULT_MAX_FRAME):
    def make() -> DelimitedFramer:
        return DelimitedFramer(END, max_frame=max_frame, name="GPS103 frame")

    return PerDatagram(make) if transport is Transport.UDP else make()


# --------------------------------------------------------------------------------------------
# Frame kinds: what a frame is and what it is answered (policy as data)
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Gps103Session(Session):
    pass


@dataclass(frozen=True, slots=True)
class _Frame:
    kind: str  # login | heartbeat | report
    device_id: str
    fields: list[str]  # report fields after `imei:` (empty for login/heartbeat)
    heartbeat_first: bool = False  # `<IMEI>imei:...`: a heartbeat glued to a report


_LOGIN_RE = re.compile(r"##,imei:(\d{6,20}),A")
_HEARTBEAT_RE = re.compile(r"\d{6,20}")
_GLUED_RE = re.compile(r"(\d{6,20})(imei:.*)", re.S)


def _read_frame(frame: bytes) -> _Frame:
    try:
        text = frame.decode("ascii").strip()
    except UnicodeDecodeError:
        raise Malformed("GPS103 frame is not ASCII") from None
    if text.endswith(";"):
        text = text[:-1]
    if match := _LOGIN_RE.fullmatch(text):
        return _Frame("login", match.group(1), [])
    if _HEARTBEAT_RE.fullmatch(text):
        return _Frame("heartbeat", text, [])
    glued = False
    if match := _GLUED_RE.fullmatch(text):
        text, glued = match.group(2), True
    if not text.startswith("imei:"):
        raise Malformed(f"not a GPS103 frame: {text[:32]!r}")
    fields = text[len("imei:"):].split(",")
    device_id = fields[0]
    if not (device_id.isdigit() and MIN_ID_DIGITS <= len(device_id) <= MAX_ID_DIGITS):
        raise Malformed(f"GPS103 report with a bad IMEI {device_id[:24]!r}")
    if len(fields) < 3:
        raise Malformed(f"GPS103 report with {len(fields)} fields")
    return _Frame("report", device_id, fields, glued)


def cancel_alarm(imei: str) -> bytes:
    return f"**,imei:{imei},E;".encode()


# Keyword -> what the server answers to a report carrying it.
REPORT_REPLIES: dict[str, Callable[[str], bytes]] = {
    "help me": cancel_alarm,  # SOS: the tracker repeats it until the server cancels the alarm
}


def _reply(parsed: _Frame) -> bytes | None:
    if parsed.kind == "login":
        return LOGIN_REPLY
    if parsed.kind == "heartbeat":
        return HEARTBEAT_REPLY
    rule = REPORT_REPLIES.get(parsed.fields[1])
    answer = rule(parsed.device_id) if rule else b""
    if parsed.heartbeat_first:
        answer = HEARTBEAT_REPLY + answer
    return answer or None


def _message_type(parsed: _Frame) -> str:
    return parsed.kind if parsed.kind != "report" else (parsed.fields[1] or "report")


# --------------------------------------------------------------------------------------------
# Field readers
# --------------------------------------------------------------------------------------------

def local_time(value: str) -> datetime | None:
    """YYMMDDhhmm, YYMMDDhhmmss or `YY/MM/DD hh:mm`, the tracker's local time (naive). None when
    the tracker has no clock yet (zeros, dashes, empty)."""
    compact = value.replace("/", "").replace(" ", "").replace(":", "")
    if not compact.isdigit() or int(compact) == 0 or len(compact) not in (10, 12):
        if compact.isdigit() or compact.strip("-") == "":
            return None
        raise Malformed(f"bad GPS103 local time {value[:16]!r}")
    try:
        return datetime(2000 + int(compact[0:2]), int(compact[2:4]), int(compact[4:6]),
                        int(compact[6:8]), int(compact[8:10]), int(compact[10:12] or 0))
    except ValueError:
        if int(compact[0:6]) == 0:
            return None  # `0000000119`: a clock that never got a date
        raise Malformed(f"bad GPS103 local time {value[:16]!r}") from None


_UTC_RE = re.compile(r"(\d\d)(\d\d)(\d\d)(?:\.\d+)?")


def utc_time(local: datetime | None, utc_hhmmss: str) -> datetime | None:
    """The fix time in UTC: the UTC time of day, on the local day moved by at most one day."""
    match = _UTC_RE.fullmatch(utc_hhmmss)
    if local is None or match is None:
        return None  # no date, or no UTC time to anchor it (`31.0` on some firmware)
    hh, mm, ss = (int(g) for g in match.groups())
    if hh > 23 or mm > 59 or ss > 59:
        raise Malformed(f"bad GPS103 UTC time {utc_hhmmss!r}")
    same_day = local.replace(hour=hh, minute=mm, second=ss)
    best = min((same_day + timedelta(days=k) for k in (-1, 0, 1)), key=lambda t: abs(t - local))
    return best.replace(tzinfo=timezone.utc)


_COORD_RE = re.compile(r"(\d+)(\d\d\.\d+)")


def coordinate(value: str, hemisphere: str, limit: float) -> float:
    match = _COORD_RE.fullmatch(value)
    if match is None:
        raise Malformed(f"bad GPS103 coordinate {value[:16]!r}")
    degrees, minutes = int(match.group(1)), float(match.group(2))
    if minutes >= 60 or degrees + minutes / 60 > limit:
        raise Malformed(f"GPS103 coordinate out of range: {value}")
    if hemisphere not in ("N", "S", "E", "W"):
        raise Malformed(f"GPS103 coordinate {value} without a hemisphere ({hemisphere[:3]!r})")
    result = degrees + minutes / 60
    return round(-result if hemisphere in ("S", "W") else result, 6)


def _optional_number(value: str, what: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value.rstrip("%"))
    except ValueError:
        raise Malformed(f"bad GPS103 {what} {value[:12]!r}") from None


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------

ALARMS: dict[str, Alarm] = {
    "help me": Alarm.SOS,
    "low battery": Alarm.LOW_BATTERY,
    "stockade": Alarm.GEOFENCE_EXIT,
    "move": Alarm.MOVEMENT,
    "speed": Alarm.OVERSPEED,
    "door alarm": Alarm.DOOR,
    "ac alarm": Alarm.POWER_CUT,
    "accident alarm": Alarm.ACCIDENT,
    "sensor alarm": Alarm.VIBRATION,
    "bonnet alarm": Alarm.GENERAL,
    "footbrake alarm": Alarm.GENERAL,
    "DTC": Alarm.GENERAL,
}
STATUS_WORDS = {"acc on", "acc off", "acc alarm", "rfid"}


def keyword_alarm(keyword: str) -> Alarm | None:
    if keyword in ALARMS:
        return ALARMS[keyword]
    if keyword.startswith("T:"):
        return Alarm.TEMPERATURE
    if keyword.startswith("oil"):
        return Alarm.GENERAL  # fuel level/theft reading; we have no fuel alarm code
    return None


def _fix(device_id: str, f: list[str]) -> Position:
    """Fields from index 5 on: UTC time, A|V, lat, N|S, lon, E|W, speed, course, altitude."""
    if len(f) < 12:
        raise Malformed(f"GPS103 fix with {len(f)} fields, at least 12 expected")
    if f[6] not in ("A", "V"):
        raise Malformed(f"bad GPS103 validity {f[6][:4]!r}")
    speed = _optional_number(_field(f, 11), "speed")
    course = _optional_number(_field(f, 12), "course")
    return Position(
        protocol=NAME, device_id=device_id,
        time=utc_time(local_time(f[2]), f[5]),
        valid=f[6] == "A",
        lat=coordinate(f[7], f[8], 90.0),
        lon=coordinate(f[9], f[10], 180.0),
        speed_kmh=round(speed * KNOTS_TO_KMH, 2) if speed is not None else None,
        course_deg=course if course is not None and 0 <= course <= 360 else None,
        altitude_m=_optional_number(_field(f, 13), "altitude"),
    )


def _on_report(parsed: _Frame) -> list[Record]:
    f, device_id, keyword = parsed.fields, parsed.device_id, parsed.fields[1]
    if keyword == "OBD":
        return _on_obd(parsed)
    if keyword == "vr":
        return [Event(protocol=NAME, device_id=device_id, event="image", details={"chunk_hex_chars": len(f[2])})]
    source = _field(f, 4)
    fix = _fix(device_id, f) if source == "F" else None
    if source not in ("F", "L", ""):
        raise Malformed(f"GPS103 report with source {source[:4]!r} (F or L expected)")
    records: list[Record] = []
    if keyword in STATUS_WORDS:
        details: dict[str, str | int | float | bool] = {"keyword": keyword}
        if keyword in ("acc on", "acc off"):
            details["acc"] = keyword == "acc on"
        if keyword == "rfid" and _field(f, 3):
            details["rfid"] = f[3]
        records.append(Event(protocol=NAME, device_id=device_id, event="status",
                             time=fix.time if fix else None, text=keyword, details=details))
    alarm = keyword_alarm(keyword)
    if fix is not None:
        if alarm is not None:
            fix.alarms.append(alarm)
        records.append(fix)
        if alarm is not None:
            records.append(Alert.from_fix(fix, alarm))
    elif alarm is not None:
        records.append(Alert(protocol=NAME, device_id=device_id, alarm=alarm))
    elif not records:
        records.append(_no_gps_event(device_id, f))
    return records


def _no_gps_event(device_id: str, f: list[str]) -> Event:
    """`L,,,lac,,cid,...`: a report without GPS; the cell has no MCC/MNC, so LAC/CID stay details."""
    details: dict[str, str | int | float | bool] = {"gps": False}
    lac, cid = _field(f, 7), _field(f, 9)
    if re.fullmatch(r"[0-9A-Fa-f]{1,8}", lac) and re.fullmatch(r"[0-9A-Fa-f]{1,8}", cid):
        details.update(lac=int(lac, 16), cid=int(cid, 16))
    return Event(protocol=NAME, device_id=device_id, event="status", text=f[1] or None, details=details)


# OBD,time,odometer,fuel instant,fuel average,hours,speed,load %,coolant,throttle %,rpm,battery V,DTCs
_OBD_NAMES = ("odometer", "fuel_instant", "fuel_average", "engine_hours", "obd_speed_kmh",
              "engine_load_pct", "coolant_temp_c", "throttle_pct", "rpm")


def _on_obd(parsed: _Frame) -> list[Record]:
    f, device_id = parsed.fields, parsed.device_id
    if len(f) < 13 or not re.fullmatch(r"\d{12}", f[2]):
        raise Malformed("GPS103 OBD report needs YYMMDDhhmmss and 10 values")
    stamp = local_time(f[2])  # OBD reports carry one timestamp; taken as UTC, as Traccar does
    time = stamp.replace(tzinfo=timezone.utc) if stamp else None
    details: dict[str, str | int | float | bool] = {}
    for name, raw in zip(_OBD_NAMES, f[3:12]):
        value = _optional_number(raw.lstrip("+") if raw not in ("+", "-") else "", name)
        if value is not None:
            details[name] = int(value) if value.is_integer() and name in ("rpm", "obd_speed_kmh") else value
    dtcs = [code for code in f[13:] if code]
    if dtcs:
        details["dtcs"] = " ".join(dtcs)
    battery = _optional_number(f[12], "battery voltage")
    records: list[Record] = [Event(protocol=NAME, device_id=device_id, event="obd", time=time, details=details)]
    if battery:  # 0.00 V: the adapter read no voltage (absent values are omitted, never 0)
        records.append(Telemetry(protocol=NAME, device_id=device_id, time=time, battery_v=battery))
    return records


# --------------------------------------------------------------------------------------------
# decode / identify
# --------------------------------------------------------------------------------------------

def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    parsed = _read_frame(frame)
    return Identified(device_id=parsed.device_id, reply=_reply(parsed), message_type=_message_type(parsed))


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """`now` is unused: fixes carry their own time and no reply depends on the clock."""
    parsed = _read_frame(frame)
    session.device_id = parsed.device_id
    if parsed.kind == "login":
        records: list[Record] = [Event(protocol=NAME, device_id=parsed.device_id, event="login")]
    elif parsed.kind == "heartbeat":
        records = [Event(protocol=NAME, device_id=parsed.device_id, event="heartbeat")]
    else:
        records = _on_report(parsed)
        if parsed.heartbeat_first:
            records.insert(0, Event(protocol=NAME, device_id=parsed.device_id, event="heartbeat"))
    return Decoded(records=records, reply=_reply(parsed), device_id=parsed.device_id,
                   message_type=_message_type(parsed))


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def _interval(params: dict[str, str]) -> str:
    seconds = int(params.get("seconds", ""))
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds % size == 0 and 1 <= seconds // size <= 99:
            return f"C,{seconds // size:02d}{unit}"
    raise UnsupportedCommand(f"gps103 cannot express an interval of {seconds} s (1-99 s, min or h)")


def _custom(params: dict[str, str]) -> str:
    text = params.get("text", "")
    if not text or not text.isascii() or not text.isprintable() or ";" in text:
        raise UnsupportedCommand("gps103 custom command needs printable ASCII without ';'")
    return text


_COMMANDS: dict[str, Callable[[dict[str, str]], str]] = {
    "locate": lambda p: "B",
    "set_interval": _interval,
    "stop_tracking": lambda p: "D",
    "cancel_alarm": lambda p: "E",
    "engine_stop": lambda p: "J",
    "engine_resume": lambda p: "K",
    "alarm_arm": lambda p: "L",
    "alarm_disarm": lambda p: "M",
    "custom": _custom,
}


def encode_command(command: Command, session: Session) -> bytes:
    build = _COMMANDS.get(command.name)
    if build is None:
        raise UnsupportedCommand(f"gps103 has no {command.name!r} command in its documents")
    if not session.device_id:
        raise UnsupportedCommand("gps103 commands carry the IMEI: the device has not identified itself yet")
    try:
        body = build(command.params)
    except ValueError as exc:
        raise UnsupportedCommand(f"gps103 {command.name}: {exc}") from None
    return f"**,imei:{session.device_id},{body};".encode()


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Gps103Codec:
    name: str = field(default=NAME)
    transports: frozenset[Transport] = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME):
        return new_framer(transport, max_frame)

    def new_session(self, transport: Transport) -> Gps103Session:
        return Gps103Session(transport=transport)

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


CODEC = Gps103Codec()
