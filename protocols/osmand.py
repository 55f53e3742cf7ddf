"""OsmAnd / Traccar Client HTTP protocol: phones report positions as HTTP requests on the shared port.

Sources (facts only, no code taken):
- OsmAnd app `LiveMonitoringHelper.getLiveUrl` (osmandapp/OsmAnd): the user's "online tracking" URL
  template with `{0}` lat, `{1}` lon, `{2}` time (ms since epoch), `{3}` hdop (the fix accuracy, m),
  `{4}` altitude (m), `{5}` speed (m/s), `{6}` bearing (degrees); sent as a plain GET.
- traccar.org/osmand (the protocol page) and Traccar's `OsmAndProtocolDecoder` /
  `OsmAndProtocolDecoderTest` (traccar/traccar): any HTTP method; query parameters, or when the URL
  has none a form body; `id`/`deviceid`, `valid`, `timestamp` (s or ms since epoch, ISO 8601 or
  `yyyy-MM-dd HH:mm:ss`), `lat`, `lon`, `location=lat,lon`, `cell=mcc,mnc,lac,cid[,rssi]`,
  `wifi=mac,rssi`, `speed` (knots), `bearing`/`heading`, `altitude`, `accuracy`, `hdop`, `batt`,
  `charge`, `driverUniqueId`, `alarm`; any other parameter is a custom attribute. A request with
  `Content-Type: application/json` is the JSON form below. Replies: `200` with an empty body, `400`
  for a request without a device id.
- Traccar Client for Android (traccar/traccar-client-android `ProtocolFormatter`, `RequestManager`,
  `Position`): `POST` of `?id&timestamp(s)&lat&lon&speed(knots)&bearing&altitude&accuracy&batt`
  [`&charge=true`][`&mock=true`][`&alarm=sos`] with an empty body.
- Traccar Client 9+ (traccar/traccar-client `preferences.dart`, the transistorsoft background
  geolocation SDK): `POST` `application/json`
  `{"location":{"timestamp","coords":{latitude,longitude,accuracy,speed(m/s),heading,altitude},
  "is_moving","odometer","event","battery":{"level"(0..1),"is_charging"},"activity":{"type"},
  "extras":{...}},"device_id":"..."}`; SOS puts `"alarm":"sos"` in the location's `extras`.

Seams, all sans-IO:
- detect: an HTTP request line start (`GET /`, `POST /`, `POST http://`…) over TCP. OsmAnd is HTTP
  only: nothing matches over UDP.
- framer: drives a fresh h11 server `Connection` per request to find where each request (head and
  `Content-Length` or chunked body) ends, and hands each whole request's raw bytes out as one Frame,
  in order, so pipelined requests are several Frames. h11 parses; nothing here parses HTTP by hand.
- decode: parses one request (h11 again) into records, with the HTTP/1.1 response bytes as `reply`.
  The listener writes replies only once Kafka acknowledged, in frame order: HTTP pipelining order.

A request the framer will not read to its end still becomes a Frame, so that the phone gets an
answer (a `FrameError` cannot carry a reply): one h11 rejects (400, or h11's status hint), one whose
head (431) or body (413) is over `max_frame` (the Frame is then the bytes up to the limit, or the
head alone when `Content-Length` already says too much). `decode` answers those with the status and
`close=True`; the framer then reads nothing more and hands any later bytes out as `FrameError`s.
The same happens after a request that asked to close (`Connection: close`, or HTTP/1.0 without
keep-alive): it gets its reply with `Connection: close` and the listener closes.

Units: `speed` in the query form is taken as knots (what Traccar Client sends and Traccar reads; the
OsmAnd app itself sends m/s for `{5}`, so its speeds read 1.94x low); JSON speeds are m/s. A request
without a timestamp is a fix at reception time `now` (Traccar does the same). `yyyy-MM-dd HH:mm:ss`
is read as UTC (Traccar reads it in its own time zone). Fields with no typed record field (accuracy,
charging, mock, motion, odometer, activity, driver, custom parameters) go to one `status` Event's
details.

Not supported: `Expect: 100-continue` gets no interim `100` (a client sends its body after its own
timeout, curl after 1 s); request bodies with a `Content-Encoding`; downlink commands (Traccar can
put a queued command's text in a 200 body; here replies are computed before Kafka, so there is no
queue to read from).
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import h11

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
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Wifi

NAME = "osmand"

# Request methods RFC 9110 defines; Traccar decodes a report sent with any of them.
METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH")
# What may follow `METHOD SP`: an origin-form target (`/…`) or an absolute-form one (`http://…`).
TARGET_STARTS = (b"/", b"http://", b"https://")
REQUEST_STARTS = tuple(method + b" " + target for method in METHODS for target in TARGET_STARTS)

KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6
SECONDS_UNTIL = 2**31 - 1  # Traccar's rule: a smaller integer timestamp is seconds, a larger one ms
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last time a datetime holds
MAX_QUERY_FIELDS = 64
MAX_ID_LENGTH = 128
MAX_CUSTOM_VALUE = 256


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport = Transport.TCP) -> Detection:
    """MATCH on `GET /`, `POST /`, `POST http://`…; NEED_MORE while `head` could still become one."""
    if transport is not Transport.TCP:
        return Detection.NO_MATCH
    undecided = False
    for start in REQUEST_STARTS:
        if head.startswith(start):
            return Detection.MATCH
        undecided = undecided or start.startswith(head)
    return Detection.NEED_MORE if undecided else Detection.NO_MATCH


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

_BLANK_LINE = re.compile(rb"\n\r?\n")
H11_WINDOW = 4096  # bytes handed to h11 at a time
_COMPACT_AFTER = 4096


def _new_server(max_frame: int) -> h11.Connection:
    return h11.Connection(h11.SERVER, max_incomplete_event_size=max_frame)


class HttpRequestFramer:
    """One Frame per HTTP request, in order; see the module docstring for refused requests.

    h11 gets the bytes a window at a time, so what it holds past a request's end (its
    `trailing_data`, copied on each look) stays small, and a burst of pipelined requests in one
    read is framed in linear time; `_start` moves over the buffer instead of deleting its front.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._max = max_frame
        self._buf = bytearray()  # from `_start`: the request being read, and any pipelined after it
        self._start = 0
        self._fed = 0  # offset in _buf up to which bytes went to the current h11 Connection
        self._http = _new_server(max_frame)
        self._request: h11.Request | None = None  # the head of the request being read
        self._stopped: str | None = None  # why no further request is read on this connection
        self._ignored = bytearray()  # bytes that came after that

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._start + len(self._ignored)

    def feed(self, data: bytes) -> None:
        if self._stopped is not None:
            self._ignored += data
        else:
            self._buf += data

    def next(self) -> Frame | FrameError | None:
        if self._stopped is not None:
            return self._take_ignored()
        while True:
            try:
                event = self._http.next_event()
            except h11.RemoteProtocolError as exc:
                return self._refuse(f"bad HTTP request: {exc}", self._bad_request_size())
            if event is h11.NEED_DATA:
                if self._fed < len(self._buf):
                    window = bytes(self._buf[self._fed:self._fed + H11_WINDOW])
                    self._fed += len(window)
                    self._http.receive_data(window)
                    continue
                if len(self._buf) - self._start > self._max:  # all of it is the unfinished request
                    return self._refuse(f"HTTP request over {self._max} bytes", self._max)
                return None
            if isinstance(event, h11.Request):
                if (cut := self._oversized_head(event)) is not None:
                    return cut
                self._request = event
            elif isinstance(event, h11.EndOfMessage):
                return self._complete()
            # h11.Data: the body so far stays in _buf until the request ends.
            # PAUSED and ConnectionClosed cannot come: a new Connection starts after each request
            # and the end of the stream is never fed.

    def _consumed(self) -> int:
        """Bytes of the current request h11 has read (what it was fed, less what it holds unread)."""
        return self._fed - self._start - len(self._http.trailing_data[0])

    def _bad_request_size(self) -> int:
        """A bad head ends at its blank line (h11's rule: LF, optional CR, LF); a bad body, or a head
        without an end, is cut at the limit."""
        limit = min(len(self._buf) - self._start, self._max)
        if self._request is None:
            blank = _BLANK_LINE.search(self._buf, self._start, self._start + limit)
            if blank is not None:
                return blank.end() - self._start
        return limit

    def _oversized_head(self, request: h11.Request) -> Frame | None:
        head_size = self._consumed()
        if head_size > self._max:
            return self._refuse(f"HTTP request head over {self._max} bytes", self._max)
        declared = _content_length(request)
        if declared is not None and head_size + declared > self._max:
            # Hand out the head alone: decode then sees a body that never came and answers 413.
            return self._refuse(f"HTTP request body of {declared} bytes over the {self._max}-byte limit",
                                head_size)
        return None

    def _complete(self) -> Frame:
        size = self._consumed()
        if size > self._max:
            return self._refuse(f"HTTP request over {self._max} bytes", self._max)
        frame = Frame(bytes(self._buf[self._start:self._start + size]))
        closing = self._request is not None and _wants_close(self._request)
        self._start += size
        self._fed = self._start  # what h11 held unread is fed again to the next request's Connection
        self._http = _new_server(self._max)
        self._request = None
        if closing:
            self._stop("the request before asked to close the connection")
        elif self._start > _COMPACT_AFTER and self._start * 2 > len(self._buf):
            del self._buf[:self._start]
            self._fed -= self._start
            self._start = 0
        return frame

    def _refuse(self, reason: str, size: int) -> Frame:
        frame = Frame(bytes(self._buf[self._start:self._start + size]))
        self._start += size
        self._stop(reason)
        return frame

    def _stop(self, reason: str) -> None:
        self._stopped = reason
        self._ignored += self._buf[self._start:]
        self._buf = bytearray()
        self._start = self._fed = 0

    def _take_ignored(self) -> FrameError | None:
        if not self._ignored:
            return None
        data = bytes(self._ignored[:self._max])
        del self._ignored[:self._max]
        return FrameError(f"bytes after an HTTP request this connection reads no further ({self._stopped})",
                          data)


def _header(request: h11.Request, name: bytes) -> bytes | None:
    values = [value for key, value in request.headers if key == name]
    return b", ".join(values) if values else None


def _content_length(request: h11.Request) -> int | None:
    value = _header(request, b"content-length")  # h11 has checked it is one decimal number
    return int(value) if value is not None else None


def _wants_close(request: h11.Request) -> bool:
    """HTTP/1.1 keeps the connection unless the client says `close`; HTTP/1.0 closes unless it says
    `keep-alive` (RFC 9112 section 9.3)."""
    tokens = {token.strip().lower() for token in (_header(request, b"connection") or b"").split(b",")}
    if request.http_version == b"1.0":
        return b"keep-alive" not in tokens
    return b"close" in tokens


# --------------------------------------------------------------------------------------------
# Responses: the whole policy in one table
# --------------------------------------------------------------------------------------------

REASONS = {
    200: "OK",
    400: "Bad Request",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


def response(status: int, *, close: bool, keep_alive_header: bool = False, text: str = "",
             head_only: bool = False) -> bytes:
    """A complete HTTP/1.1 response. `text` (errors) goes in a short text/plain body, left out for a
    HEAD request (whose response has no body, RFC 9110 section 9.3.2)."""
    body = b"" if head_only or not text else (text + "\n").encode("ascii", "backslashreplace")
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    if body:
        lines.append("Content-Type: text/plain; charset=utf-8")
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    elif keep_alive_header:  # an HTTP/1.0 client that asked to keep the connection
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


OK = response(200, close=False)
OK_CLOSE = response(200, close=True)


# --------------------------------------------------------------------------------------------
# Reading one request
# --------------------------------------------------------------------------------------------

class Refused(Malformed):
    """A request answered with an error `status`; `close` when the connection cannot go on."""

    def __init__(self, reason: str, status: int = 400, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.close = close


@dataclass(slots=True)
class _Request:
    method: bytes
    target: str
    version: bytes
    head: h11.Request
    body: bytes

    @property
    def close(self) -> bool:
        return _wants_close(self.head)


def read_request(frame: bytes) -> _Request:
    """The one request in `frame`, or Refused with the status to answer."""
    http = h11.Connection(h11.SERVER, max_incomplete_event_size=len(frame) + 1)
    http.receive_data(frame)
    head: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            raise Refused(f"bad HTTP request: {exc}", exc.error_status_hint, close=True) from None
        if event is h11.NEED_DATA:
            # Only the framer's size limit cuts a request short (see the module docstring).
            if head is None:
                raise Refused("HTTP request head larger than this server accepts", 431, close=True)
            raise Refused("HTTP request body larger than this server accepts", 413, close=True)
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
    assert head is not None  # h11 gives EndOfMessage only after a Request
    if http.trailing_data[0]:
        raise Refused("bytes after the end of the HTTP request in one frame", 400, close=True)
    # h11 allows only visible ASCII in a request target.
    return _Request(head.method, head.target.decode("ascii"), head.http_version, head, bytes(body))


# --------------------------------------------------------------------------------------------
# The report a request carries
# --------------------------------------------------------------------------------------------

Detail = str | int | float | bool


@dataclass(slots=True)
class Fix:
    time: datetime | None = None
    valid: bool = True  # Traccar's default: a report is valid unless it says `valid=false`
    lat: float | None = None
    lon: float | None = None
    altitude_m: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    hdop: float | None = None
    battery_pct: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    alarm: Alarm | None = None
    alarm_code: str | None = None  # as the client named it, when it maps to `general`
    details: dict[str, Detail] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    device_id: str
    form: str  # "query", "form" or "json": where the values came from
    fixes: list[Fix]


# Traccar's alarm names (what Traccar Client and other OsmAnd-protocol apps send) -> our codes.
ALARMS: dict[str, Alarm] = {
    "sos": Alarm.SOS,
    "fallDown": Alarm.FALL,
    "lowBattery": Alarm.LOW_BATTERY,
    "lowPower": Alarm.LOW_POWER,
    "powerOff": Alarm.POWER_OFF,
    "powerOn": Alarm.POWER_ON,
    "powerCut": Alarm.POWER_CUT,
    "removing": Alarm.REMOVAL,
    "tampering": Alarm.TAMPER,
    "geofenceEnter": Alarm.GEOFENCE_ENTER,
    "geofenceExit": Alarm.GEOFENCE_EXIT,
    "overspeed": Alarm.OVERSPEED,
    "movement": Alarm.MOVEMENT,
    "vibration": Alarm.VIBRATION,
    "gpsAntennaCut": Alarm.GPS_ANTENNA_CUT,
    "jamming": Alarm.JAMMING,
    "door": Alarm.DOOR,
    "accident": Alarm.ACCIDENT,
    "hardAcceleration": Alarm.HARSH_ACCELERATION,
    "hardBraking": Alarm.HARSH_BRAKING,
    "hardCornering": Alarm.HARSH_CORNERING,
    "idle": Alarm.IDLE,
    "temperature": Alarm.TEMPERATURE,
    "general": Alarm.GENERAL,
}

_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5}")


def read_report(request: _Request, now: datetime) -> Report:
    content_type = (_header(request.head, b"content-type") or b"").lower()
    if _header(request.head, b"content-encoding") not in (None, b"identity"):
        raise Refused("compressed request bodies (Content-Encoding) are not supported")
    if content_type.startswith(b"application/json"):
        return _json_report(request.body, now)
    query = request.target.partition("?")[2].partition("#")[0]
    if query:
        return _query_report(_pairs(query, "query string"), "query", now)
    if request.body:
        return _query_report(_pairs(_text(request.body, "form body"), "form body"), "form", now)
    raise Refused("no report in the request: no query string and no body")


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{what} is not UTF-8") from None


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    try:  # narrow: parse_qsl raises ValueError for bad percent-encoded UTF-8 or too many fields
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=MAX_QUERY_FIELDS)
    except ValueError as exc:
        raise Refused(f"unreadable {what}: {exc}") from None


# ---- query / form --------------------------------------------------------------------------

def _query_report(pairs: list[tuple[str, str]], form: str, now: datetime) -> Report:
    device_id: str | None = None
    fix = Fix()
    lat = lon = None
    for name, value in pairs:
        if name in ("id", "deviceid"):
            device_id = _device_id(value)
        elif name == "lat":
            lat = _number(name, value)
        elif name == "lon":
            lon = _number(name, value)
        elif name == "location":
            lat_text, _, lon_text = value.partition(",")
            lat, lon = _number("location latitude", lat_text), _number("location longitude", lon_text)
        elif (reader := _QUERY_FIELDS.get(name)) is not None:
            reader(fix, value)
        else:
            _custom(fix, name, value)
    if device_id is None:
        raise Refused("no device id (`id` or `deviceid`)")
    _place(fix, lat, lon)
    if fix.time is None:
        fix.time = now
    return Report(device_id, form, [fix])


def _device_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise Refused(f"bad device id {value[:40]!r}")
    return value


def _number(name: str, value: str) -> float:
    number = float(value) if _NUMBER_RE.fullmatch(value.strip()) else math.nan
    if not math.isfinite(number):  # 1e999 reads as inf
        raise Refused(f"bad {name} {value[:24]!r}: not a number")
    return number


def _place(fix: Fix, lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise Refused("a latitude without a longitude, or the reverse")
    if lat is None or lon is None:
        return
    if not -90 <= lat <= 90:
        raise Refused(f"latitude {lat} out of range [-90, 90]")
    if not -180 <= lon <= 180:
        raise Refused(f"longitude {lon} out of range [-180, 180]")
    fix.lat, fix.lon = lat, lon


def _set_time(fix: Fix, value: str) -> None:
    fix.time = parse_timestamp(value)


def parse_timestamp(value: str) -> datetime:
    """Seconds or milliseconds since the epoch, ISO 8601 (`2016-01-27T18:55:47Z`), or
    `yyyy-MM-dd HH:mm:ss` (taken as UTC)."""
    text = value.strip()
    if text.isdigit() and text.isascii() and len(text) <= 15:
        number = int(text)
        seconds = number if number < SECONDS_UNTIL else number / 1000
        if seconds > LAST_SECOND:
            raise Refused(f"timestamp {text} is after the year 9999")
        return datetime.fromtimestamp(seconds, timezone.utc)
    try:  # narrow: the two parsers raise ValueError for text that is not their format
        if "T" in text:
            parsed = datetime.fromisoformat(text)
        else:
            parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Refused(f"bad timestamp {value[:40]!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _set_valid(fix: Fix, value: str) -> None:
    fix.valid = value.lower() in ("true", "1")


def _set_speed_knots(fix: Fix, value: str) -> None:
    speed = _number("speed", value)
    fix.speed_kmh = round(speed * KNOTS_TO_KMH, 3) if speed >= 0 else None


def _set_course(fix: Fix, value: str) -> None:
    fix.course_deg = _course(_number("bearing", value))


def _course(value: float) -> float | None:
    return value if 0 <= value <= 360 else None  # -1 is the apps' "no bearing"


def _set_altitude(fix: Fix, value: str) -> None:
    fix.altitude_m = _number("altitude", value)


def _set_accuracy(fix: Fix, value: str) -> None:
    accuracy = _number("accuracy", value)
    if accuracy > 0:  # Traccar Client sends 0 for a GPS fix (its accuracy is not reported)
        fix.details["accuracy_m"] = accuracy


def _set_hdop(fix: Fix, value: str) -> None:
    hdop = _number("hdop", value)
    fix.hdop = hdop if hdop > 0 else None


def _set_battery(fix: Fix, value: str) -> None:
    fix.battery_pct = _percent(_number("batt", value))


def _percent(value: float) -> int | None:
    return round(value) if 0 <= value <= 100 else None


def _set_charge(fix: Fix, value: str) -> None:
    fix.details["charging"] = value.lower() in ("true", "1")


def _set_mock(fix: Fix, value: str) -> None:
    fix.details["mock"] = value.lower() in ("true", "1")


def _set_driver(fix: Fix, value: str) -> None:
    fix.details["driver_id"] = value[:MAX_CUSTOM_VALUE]


def _set_alarm(fix: Fix, value: str) -> None:
    fix.alarm = ALARMS.get(value, Alarm.GENERAL)
    if fix.alarm is Alarm.GENERAL:
        fix.alarm_code = value[:MAX_CUSTOM_VALUE]


def _add_cell(fix: Fix, value: str) -> None:
    parts = value.split(",")
    if len(parts) not in (4, 5) or not all(_is_integer(p) for p in parts):
        raise Refused(f"bad cell {value[:40]!r}: expected mcc,mnc,lac,cid[,rssi]")
    numbers = [int(p) for p in parts]
    fix.cells.append(Cell(mcc=numbers[0], mnc=numbers[1], lac=numbers[2], cid=numbers[3],
                          rssi=numbers[4] if len(numbers) == 5 else None))


def _add_wifi(fix: Fix, value: str) -> None:
    mac, _, rssi = value.partition(",")
    if not _MAC_RE.fullmatch(mac) or not _is_integer(rssi):
        raise Refused(f"bad wifi {value[:40]!r}: expected mac,rssi")
    fix.wifi.append(Wifi(mac=mac.lower().replace("-", ":"), rssi=int(rssi)))


def _is_integer(text: str) -> bool:
    body = text[1:] if text.startswith("-") else text
    return body.isdigit() and body.isascii() and len(body) <= 12


def _custom(fix: Fix, name: str, value: str) -> None:
    """Traccar keeps any other parameter as an attribute: a number, true/false, or the text."""
    name = name[:64]
    if _NUMBER_RE.fullmatch(value) and math.isfinite(number := float(value)):
        fix.details[name] = number
    elif value in ("true", "false"):
        fix.details[name] = value == "true"
    else:
        fix.details[name] = value[:MAX_CUSTOM_VALUE]


_QUERY_FIELDS = {
    "timestamp": _set_time,
    "valid": _set_valid,
    "speed": _set_speed_knots,
    "bearing": _set_course,
    "heading": _set_course,
    "altitude": _set_altitude,
    "accuracy": _set_accuracy,
    "hdop": _set_hdop,
    "batt": _set_battery,
    "charge": _set_charge,
    "mock": _set_mock,
    "driverUniqueId": _set_driver,
    "alarm": _set_alarm,
    "cell": _add_cell,
    "wifi": _add_wifi,
}


# ---- JSON (Traccar Client 9+) ---------------------------------------------------------------

def _json_report(body: bytes, now: datetime) -> Report:
    try:  # narrow: bad JSON / UTF-8 is ValueError; a deeply nested body exhausts the recursion limit
        root = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Refused(f"unreadable JSON body: {str(exc)[:80]}") from None
    if not isinstance(root, dict):
        raise Refused("JSON body is not an object")
    device_id = root.get("device_id")
    if isinstance(device_id, int) and not isinstance(device_id, bool):
        device_id = str(device_id)
    if not isinstance(device_id, str):
        raise Refused("JSON body without a device_id string")
    locations = root.get("location")
    if isinstance(locations, dict):
        locations = [locations]  # the SDK's batch sync sends a list
    if not isinstance(locations, list) or not locations:
        raise Refused("JSON body without a location object")
    return Report(_device_id(device_id), "json", [_json_fix(location, now) for location in locations])


def _json_fix(location: object, now: datetime) -> Fix:
    if not isinstance(location, dict):
        raise Refused("JSON location is not an object")
    fix = Fix()
    timestamp = location.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        raise Refused("JSON location timestamp is not a string")
    fix.time = parse_timestamp(timestamp) if timestamp else now
    coords = location.get("coords")
    if coords is not None:
        if not isinstance(coords, dict):
            raise Refused("JSON coords is not an object")
        _place(fix, _json_number(coords, "latitude", required=True),
               _json_number(coords, "longitude", required=True))
        speed = _json_number(coords, "speed")
        fix.speed_kmh = round(speed * MPS_TO_KMH, 3) if speed is not None and speed >= 0 else None
        heading = _json_number(coords, "heading")
        fix.course_deg = _course(heading) if heading is not None else None
        fix.altitude_m = _json_number(coords, "altitude")
        accuracy = _json_number(coords, "accuracy")
        if accuracy is not None and accuracy > 0:
            fix.details["accuracy_m"] = accuracy
    battery = location.get("battery")
    if isinstance(battery, dict):
        level = _json_number(battery, "level")
        fix.battery_pct = _percent(level * 100) if level is not None else None  # level is 0..1; -1 unknown
        if isinstance(battery.get("is_charging"), bool):
            fix.details["charging"] = battery["is_charging"]
    _json_details(fix, location)
    return fix


def _json_number(obj: dict, key: str, *, required: bool = False) -> float | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise Refused(f"JSON coords without {key}")
        return None
    if not _finite(value):
        raise Refused(f"JSON {key} is not a number: {str(value)[:24]!r}")
    return float(value)


def _finite(value: object) -> bool:
    """A JSON number we can use: not a bool, not NaN/inf, and an int that fits a float."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**300
    return isinstance(value, float) and math.isfinite(value)


def _json_details(fix: Fix, location: dict) -> None:
    """The location's state fields, and its `extras` (where Traccar Client puts `alarm`)."""
    for key, detail in (("is_moving", "moving"), ("mock", "mock")):
        if isinstance(location.get(key), bool):
            fix.details[detail] = location[key]
    odometer = location.get("odometer")
    if _finite(odometer):
        fix.details["odometer_m"] = odometer
    if isinstance(location.get("event"), str) and location["event"]:
        fix.details["trigger"] = location["event"][:MAX_CUSTOM_VALUE]  # motionchange, heartbeat...
    activity = location.get("activity")
    if isinstance(activity, dict) and isinstance(activity.get("type"), str):
        fix.details["activity"] = activity["type"][:MAX_CUSTOM_VALUE]
    extras = location.get("extras")
    extras = extras if isinstance(extras, dict) else {}
    alarm = location.get("alarm", extras.get("alarm"))
    if alarm is not None:
        if not isinstance(alarm, str):
            raise Refused("JSON alarm is not a string")
        _set_alarm(fix, alarm)
    for key, value in list(extras.items())[:MAX_QUERY_FIELDS]:
        if key == "alarm":
            continue
        if isinstance(value, str):
            fix.details[key[:64]] = value[:MAX_CUSTOM_VALUE]
        elif isinstance(value, bool) or _finite(value):
            fix.details[key[:64]] = value


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------

def records_of(report: Report) -> list[Record]:
    return [record for fix in report.fixes for record in _fix_records(report.device_id, fix)]


def _fix_records(device_id: str, fix: Fix) -> list[Record]:
    out: list[Record] = []
    position = Position(
        protocol=NAME, device_id=device_id, time=fix.time, valid=fix.valid, lat=fix.lat, lon=fix.lon,
        altitude_m=fix.altitude_m, speed_kmh=fix.speed_kmh, course_deg=fix.course_deg, hdop=fix.hdop,
        battery_pct=fix.battery_pct, cells=list(fix.cells), wifi=list(fix.wifi),
        alarms=[fix.alarm] if fix.alarm is not None else [],
    )
    if position.has_location():
        out.append(position)
        if fix.alarm is not None:
            out.append(Alert.from_fix(position, fix.alarm))
    elif fix.alarm is not None:
        out.append(Alert(protocol=NAME, device_id=device_id, time=fix.time, alarm=fix.alarm,
                         battery_pct=fix.battery_pct))
    details = dict(fix.details)
    if fix.alarm_code is not None:
        details["alarm_code"] = fix.alarm_code
    if details or not out:
        out.append(Event(protocol=NAME, device_id=device_id, time=fix.time, event="status",
                         battery_pct=fix.battery_pct, details=details))
    return out


# --------------------------------------------------------------------------------------------
# Decode / identify
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Outcome:
    report: Report | None
    reply: bytes
    close: bool
    error: str | None = None


def _handle(frame: bytes, session: Session, now: datetime) -> _Outcome:
    try:
        request = read_request(frame)
    except Refused as exc:
        return _Outcome(None, response(exc.status, close=True, text=str(exc)), True, str(exc))
    close = request.close
    keep_alive_header = not close and request.version == b"1.0"
    head_only = request.method == b"HEAD"
    try:
        report = read_report(request, now)
    except Refused as exc:
        close = close or exc.close
        reply = response(exc.status, close=close, keep_alive_header=keep_alive_header and not close,
                         text=str(exc), head_only=head_only)
        return _Outcome(None, reply, close, str(exc))
    session.device_id = report.device_id
    return _Outcome(report, response(200, close=close, keep_alive_header=keep_alive_header), close)


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    outcome = _handle(frame, session, now)
    if outcome.report is None:
        return Decoded(error=outcome.error, reply=outcome.reply, device_id=session.device_id,
                       message_type="bad_request", close=outcome.close)
    return Decoded(records=records_of(outcome.report), reply=outcome.reply, device_id=outcome.report.device_id,
                   message_type=outcome.report.form, close=outcome.close)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """The same parse and checks as decode (they decide the reply), without building records."""
    outcome = _handle(frame, session, now)
    if outcome.report is None:
        return Identified(error=outcome.error, reply=outcome.reply, device_id=session.device_id,
                          message_type="bad_request", close=outcome.close)
    return Identified(device_id=outcome.report.device_id, reply=outcome.reply,
                      message_type=outcome.report.form, close=outcome.close)


def encode_command(command: Command, session: Session) -> bytes:
    raise UnsupportedCommand(
        f"osmand cannot deliver {command.name!r}: OsmAnd and Traccar Client have no downlink; the server "
        "only answers their HTTP requests")


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OsmandCodec:
    name: str = field(default=NAME)
    transports: frozenset[Transport] = frozenset({Transport.TCP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> HttpRequestFramer:
        return HttpRequestFramer(max_frame)

    def new_session(self, transport: Transport) -> Session:
        return Session(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        return decode(frame, session, now)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        return identify(frame, session, now)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = OsmandCodec()
