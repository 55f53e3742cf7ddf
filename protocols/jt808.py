"""JT/T 808 (2013 and 2019 headers), the Chinese terminal protocol many 4G trackers and wearables speak.

    7E | message id 2 | attributes 2 | [version 1] | phone BCD 6 (2019: 10) | serial 2 | [packets 2+2]
       | body | check code 1 | 7E
    attributes: bits 0-9 body length, 10-12 encryption (0 = none, bit 10 = RSA), 13 sub-packaged,
                14 the 2019 header (version byte and a 10-byte phone number)
    check code: XOR of every byte from the message id to the end of the body
    escaping (after the check code is computed): 7E -> 7D 02, 7D -> 7D 01

Sources (facts only, no code copied):
- JT/T 808-2013 and JT/T 808-2019 (message layouts, alarm/status bits, additional-information items,
  result codes), as transcribed in the G10LS "JT/T808 Protocol" document of AIPorto/GPS-Tracker-SDK
  (G10LS_Protocol.md, commit 2b393637), which also documents the wearable bits 15-17 of the alarm word.
- Traccar's Jt808ProtocolDecoderTest / Jt808FrameDecoderTest / Jt808ProtocolEncoderTest (formerly
  Huabao*), traccar/traccar commit 9e5c458a: real frames of both header versions.

Authentication (see docs/protocols/jt808.md): the code in the 0x8100 registration answer is an HMAC
of the terminal's id under `ServerContext.auth_key`, so every listener instance holding the key
checks a 0x0102 without shared state. Every message except registration and authentication needs
an authenticated terminal on the session; otherwise it is refused (`Decoded.rejected`, answered
0x8001 with result 1 = failure, so the terminal keeps it and sends it again after authenticating).

Units: device times are GMT+8 as the standard says and are converted to UTC; speed km/h; `rssi` is
the signal strength item 0x30 as sent (CSQ 0-31 on the devices we know).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from protocols import jt808_items as items
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
from schemas.records import Alert, Event, Position, Record

NAME = "jt808"
FLAG = 0x7E
ESCAPE = 0x7D
DEVICE_TZ = timezone(timedelta(hours=8))  # "GMT+8 time, all times in this standard use this zone"

VERSION_BIT = 0x4000
SUBPACKAGE_BIT = 0x2000
ENCRYPTION_MASK = 0x1C00
LENGTH_MASK = 0x03FF

# Platform general response (0x8001) results
RESULT_OK, RESULT_FAILURE, RESULT_MESSAGE_ERROR, RESULT_UNSUPPORTED = 0, 1, 2, 3

AUTH_CODE_BYTES = 10  # of the HMAC-SHA256, base32: 16 printable characters
MAX_AUTHENTICATED_PER_SESSION = 64  # one on a real connection; bounded whatever a peer sends


# --------------------------------------------------------------------------------------------
# Detection and framing
# --------------------------------------------------------------------------------------------

def detect(head: bytes, transport: Transport = Transport.TCP) -> Detection:
    """`7E` then a byte that is not `7E` (a lone 7E is a delimiter left over from a lost frame)."""
    start = 0
    while start < len(head) and head[start] == FLAG:
        start += 1
    if start == 0:
        return Detection.NO_MATCH if head else Detection.NEED_MORE
    return Detection.MATCH if start < len(head) else Detection.NEED_MORE


class Jt808Framer:
    """`7E … 7E` frames; bytes before a `7E` are one FrameError; `7E 7E` is an end and a start.

    The escaping guarantees 7E occurs only as a delimiter, so the first 7E after the opening one
    ends the frame. A lone 7E followed by another (the end of a frame whose start was lost, or a
    delimiter pair) is dropped, not reported: it is not data. Searches resume where they stopped.
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._start = 0
        self._scan = 1  # where the search for the next 7E resumes, from _start (linear byte-wise input)
        self._max = max(max_frame, 16)

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._start

    def feed(self, data: bytes) -> None:
        self._buf += data

    def flush(self) -> FrameError | None:
        n = self.buffered
        return FrameError(f"incomplete JT/T 808 frame ({n} bytes, no closing 7E)", self._take(n)) if n else None

    def next(self) -> Frame | FrameError | None:
        buf = self._buf
        while True:
            n = len(buf) - self._start
            if n == 0:
                return None
            if buf[self._start] != FLAG:
                flag = buf.find(FLAG, self._start + self._scan)
                if flag < 0:
                    self._scan = n  # garbage so far; the search resumes after it
                    if n > self._max:
                        return FrameError("no JT/T 808 frame start (7E)", self._take(n))
                    return None
                return FrameError("bytes before a JT/T 808 frame start (7E)", self._take(flag - self._start))
            if n >= 2 and buf[self._start + 1] == FLAG:
                self._take(1)  # a delimiter pair: the second 7E starts the next frame
                continue
            end = buf.find(FLAG, self._start + self._scan)
            if end < 0:
                self._scan = max(1, n)
                if n > self._max:
                    return FrameError(f"no JT/T 808 frame end within {self._max} bytes", self._take(n))
                return None
            size = end - self._start + 1
            if size > self._max:
                return FrameError(f"JT/T 808 frame of {size} bytes exceeds the {self._max}-byte limit",
                                  self._take(size - 1))  # the closing 7E may open the next frame
            return Frame(self._take(size))

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[self._start:self._start + n])
        self._start += n
        self._scan = 1
        if self._start >= len(self._buf):
            self._buf.clear()
            self._start = 0
        elif self._start > 4096 and self._start * 2 > len(self._buf):
            del self._buf[:self._start]
            self._start = 0
        return data


# --------------------------------------------------------------------------------------------
# Escaping, check code, the message envelope
# --------------------------------------------------------------------------------------------

def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    if ESCAPE not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == ESCAPE:
            if i + 1 >= len(data) or data[i + 1] not in (0x01, 0x02):
                raise Malformed(f"bad JT/T 808 escape 7D {data[i + 1:i + 2].hex() or '(end)'} at byte {i + 1}")
            out.append(ESCAPE if data[i + 1] == 0x01 else FLAG)
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


def check_code(data: bytes) -> int:
    """XOR of all bytes, eight at a time (the per-byte loop was the hot spot of identify)."""
    pad = -len(data) % 8
    folded = 0
    for word in struct.unpack(f">{(len(data) + pad) // 8}Q", data + bytes(pad)):
        folded ^= word
    folded ^= folded >> 32
    folded ^= folded >> 16
    folded ^= folded >> 8
    return folded & 0xFF


@dataclass(frozen=True, slots=True)
class Message:
    """One unescaped, checked JT/T 808 message."""

    msg_id: int
    attributes: int
    version: int | None  # the 2019 protocol version byte; None for a 2013 header
    phone: bytes  # BCD, as sent (6 or 10 bytes); replies carry it back unchanged
    serial: int
    body: bytes
    packet: tuple[int, int] | None = None  # (total, index) of a sub-packaged message

    @property
    def device_id(self) -> str:
        return phone_id(self.phone)

    @property
    def name(self) -> str:
        return f"0x{self.msg_id:04x}"


def phone_id(phone: bytes) -> str:
    """The terminal id: the phone number's digits without leading zeros, so the 6-byte (2013) and
    10-byte (2019) forms of one number are one device. Non-BCD bytes (seen in the wild) stay hex."""
    return phone.hex().lstrip("0") or "0"


def open_message(frame: bytes) -> Message:
    if len(frame) < 2 or frame[0] != FLAG or frame[-1] != FLAG:
        raise Malformed("not a JT/T 808 frame (7E … 7E)")
    raw = unescape(frame[1:-1])
    if len(raw) < 13:
        raise Malformed(f"JT/T 808 message of {len(raw)} bytes is shorter than a header")
    content, code = raw[:-1], raw[-1]
    if check_code(content) != code:
        raise Malformed(f"bad check code: frame says {code:02x}, computed {check_code(content):02x}")
    msg_id = int.from_bytes(content[0:2], "big")
    attributes = int.from_bytes(content[2:4], "big")
    pos = 4
    version = None
    if attributes & VERSION_BIT:
        version = content[pos]
        pos += 1
    phone_size = 10 if version is not None else 6
    head = pos + phone_size + 2 + (4 if attributes & SUBPACKAGE_BIT else 0)
    if len(content) < head:
        raise Malformed(f"JT/T 808 header needs {head} bytes, message has {len(content)}")
    phone = content[pos:pos + phone_size]
    pos += phone_size
    serial = int.from_bytes(content[pos:pos + 2], "big")
    pos += 2
    packet = None
    if attributes & SUBPACKAGE_BIT:
        packet = (int.from_bytes(content[pos:pos + 2], "big"), int.from_bytes(content[pos + 2:pos + 4], "big"))
        pos += 4
    body = content[pos:]
    if len(body) != attributes & LENGTH_MASK:
        raise Malformed(f"body length field says {attributes & LENGTH_MASK} bytes, message has {len(body)}")
    return Message(msg_id, attributes, version, phone, serial, body, packet)


def build_message(msg_id: int, body: bytes, phone: bytes, serial: int, version: int | None = None) -> bytes:
    """A whole frame as the platform sends it: header, body, check code, escaped, delimited."""
    if len(body) > LENGTH_MASK:
        raise ValueError(f"JT/T 808 body of {len(body)} bytes needs sub-packaging")
    attributes = len(body) | (VERSION_BIT if version is not None else 0)
    head = msg_id.to_bytes(2, "big") + attributes.to_bytes(2, "big")
    if version is not None:
        head += bytes([version])
    content = head + phone + (serial & 0xFFFF).to_bytes(2, "big") + body
    return bytes([FLAG]) + escape(content + bytes([check_code(content)])) + bytes([FLAG])


def reply_to(message: Message, msg_id: int, body: bytes) -> bytes:
    """A reply in the terminal's own header version, to its phone number. Its serial is the
    terminal's: deterministic, so identify, decode and a replay give the same bytes."""
    return build_message(msg_id, body, message.phone, message.serial, message.version)


def general_response(message: Message, result: int) -> bytes:
    """0x8001: answered serial, answered message id, result."""
    body = message.serial.to_bytes(2, "big") + message.msg_id.to_bytes(2, "big") + bytes([result])
    return reply_to(message, 0x8001, body)


# --------------------------------------------------------------------------------------------
# Authentication codes
# --------------------------------------------------------------------------------------------

def auth_code(auth_key: bytes, device_id: str) -> str:
    """The code issued at registration: HMAC-SHA256 of the terminal id, base32, 16 characters."""
    digest = hmac.new(auth_key, device_id.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest[:AUTH_CODE_BYTES]).decode("ascii")


@dataclass(slots=True)
class Jt808Session(Session):
    # Terminal ids that authenticated on this connection (insertion order, bounded).
    terminals: OrderedDict[str, None] = field(default_factory=OrderedDict)
    command_serial: int = 0
    # From the last registered/authenticated terminal: downlink uses its phone bytes and header version.
    phone: bytes | None = None
    protocol_version: int | None = None

    def is_authenticated(self, device_id: str) -> bool:
        return self.authenticated or device_id in self.terminals

    def authenticate(self, device_id: str) -> None:
        self.terminals.pop(device_id, None)
        self.terminals[device_id] = None
        while len(self.terminals) > MAX_AUTHENTICATED_PER_SESSION:
            self.terminals.popitem(last=False)

    def remember(self, message: "Message") -> None:
        self.device_id = message.device_id
        self.phone = message.phone
        self.protocol_version = message.version

    def forget(self, device_id: str) -> None:
        self.terminals.pop(device_id, None)

    def next_command_serial(self) -> int:
        self.command_serial = (self.command_serial + 1) & 0xFFFF
        return self.command_serial


def _jt808_session(session: Session) -> Jt808Session:
    if isinstance(session, Jt808Session):
        return session
    # A plain Session (a caller that did not ask the codec for one) keeps no authentication state.
    fresh = Jt808Session(transport=session.transport, device_id=session.device_id, context=session.context,
                         authenticated=session.authenticated)
    return fresh


# --------------------------------------------------------------------------------------------
# Body readers
# --------------------------------------------------------------------------------------------

class Reader:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed(f"{self.what} ends after {len(self.data)} bytes, {self.pos + n} needed")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def rest(self) -> bytes:
        return self.take(self.remaining)


def text(raw: bytes) -> str:
    """A fixed-size or STRING field: GBK, padding (NUL, space) stripped."""
    return raw.split(b"\x00", 1)[0].decode("gbk", errors="replace").strip()


def bcd_time(raw: bytes) -> datetime | None:
    """BCD yy mm dd hh mm ss in GMT+8, as UTC; None for an impossible date (all zero before a fix)."""
    digits = raw.hex()
    if not digits.isdigit():
        return None
    y, mo, d, h, mi, s = (int(digits[i:i + 2]) for i in range(0, 12, 2))
    try:
        local = datetime(2000 + y, mo, d, h, mi, s, tzinfo=DEVICE_TZ)
    except ValueError:
        return None
    return local.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class Location:
    """A location body split into its parts; building records from it cannot fail."""

    alarm: int
    status: int
    lat_raw: int
    lon_raw: int
    altitude: int
    speed_raw: int
    course: int
    time_raw: bytes
    extra: list[tuple[int, bytes]]
    tail: bytes = b""  # bytes after the items that do not form an item


BASIC_LOCATION = 28


def parse_location(body: bytes, what: str = "0x0200 location") -> Location:
    r = Reader(body, what)
    alarm, status, lat, lon = r.uint(4), r.uint(4), r.uint(4), r.uint(4)
    altitude = int.from_bytes(r.take(2), "big", signed=True)
    speed, course, time_raw = r.uint(2), r.uint(2), r.take(6)
    extra: list[tuple[int, bytes]] = []
    tail = b""
    while r.remaining:
        if r.remaining < 2 or r.data[r.pos + 1] > r.remaining - 2:
            tail = r.rest()  # not id/length/value: some vendors append other data; kept, not guessed
            break
        item_id, size = r.uint(1), r.uint(1)
        extra.append((item_id, r.take(size)))
    return Location(alarm, status, lat, lon, altitude, speed, course, time_raw, extra, tail)


def location_records(loc: Location, device_id: str, details: dict | None = None) -> list[Record]:
    """Position (+ one Alert per alarm), a Telemetry when items carry readings, and a `status`
    Event with the alarm/status words and the readings that have no column of their own."""
    fields = items.ItemFields()
    for item_id, value in loc.extra:
        items.read_item(item_id, value, fields)
    alarms = items.alarms_from(loc.alarm, fields)
    valid = bool(loc.status & items.STATUS_FIXED)
    lat = loc.lat_raw / 1e6 * (-1 if loc.status & items.STATUS_SOUTH else 1)
    lon = loc.lon_raw / 1e6 * (-1 if loc.status & items.STATUS_WEST else 1)
    time = bcd_time(loc.time_raw)
    position = Position(
        protocol=NAME, device_id=device_id, time=time, valid=valid, lat=lat, lon=lon,
        altitude_m=float(loc.altitude), speed_kmh=loc.speed_raw / 10, course_deg=float(loc.course),
        satellites=fields.satellites, rssi=fields.rssi, battery_pct=fields.battery_pct, steps=fields.steps,
        cells=fields.cells, wifi=fields.wifi, alarms=alarms,
    )
    records: list[Record] = [position, *(Alert.from_fix(position, alarm) for alarm in alarms)]
    status_details = {"alarm_flags": loc.alarm, "status_flags": loc.status, **items.status_details(loc.status),
                      **fields.details, **(details or {})}
    if loc.tail:
        status_details["tail_hex"] = loc.tail[:items.MAX_HEX_ITEM].hex()
    records.append(Event(protocol=NAME, device_id=device_id, time=time, event="status", details=status_details))
    return records


# --------------------------------------------------------------------------------------------
# Message handlers and the reply policy
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Context:
    message: Message
    session: Jt808Session
    now: datetime
    build: bool  # False for identify: check the body, answer, but build no records


@dataclass(slots=True)
class Outcome:
    records: list[Record] = field(default_factory=list)
    result: int = RESULT_OK  # for routes answered with 0x8001
    reply: bytes | None = None  # for routes that answer with their own message
    error: str | None = None
    rejected: bool = False


def handle_register(ctx: Context) -> Outcome:
    """0x0100 -> 0x8100 (answered serial, result 0, auth code). Body: province 2, city 2, then
    2011: manufacturer 5, model 8, terminal id 7; 2013: 5, 20, 7; 2019: 11, 30, 30; plate colour 1,
    plate STRING. The terminal must authenticate (0x0102) with the code before anything else."""
    msg = ctx.message
    r = Reader(msg.body, "0x0100 registration")
    province, city = r.uint(2), r.uint(2)
    if msg.version is not None:
        sizes = (11, 30, 30)
    elif len(msg.body) >= 37:
        sizes = (5, 20, 7)
    else:
        sizes = (5, 8, 7)
    manufacturer, model, terminal_id = (text(r.take(n)) for n in sizes)
    color = r.uint(1)
    plate = text(r.rest())
    device_id = msg.device_id
    ctx.session.remember(msg)
    ctx.session.forget(device_id)  # a registering terminal authenticates again
    code = auth_code(ctx.session.context.auth_key, device_id)
    reply = reply_to(msg, 0x8100, msg.serial.to_bytes(2, "big") + bytes([RESULT_OK]) + code.encode("ascii"))
    records: list[Record] = []
    if ctx.build:
        details: dict = {"province": province, "city": city, "manufacturer": manufacturer, "model": model,
                         "terminal_id": terminal_id, "plate_color": color}
        if plate:
            details["plate"] = plate
        if msg.version is not None:
            details["protocol_version"] = msg.version
        records.append(Event(protocol=NAME, device_id=device_id, event="register", details=details))
    return Outcome(records, reply=reply)


def handle_authenticate(ctx: Context) -> Outcome:
    """0x0102. 2013: the code is the whole body. 2019: code length 1, code, IMEI 15, software
    version 20. A wrong code is answered with failure and the frame is refused."""
    msg = ctx.message
    r = Reader(msg.body, "0x0102 authentication")
    details: dict = {}
    if msg.version is not None:
        code = text(r.take(r.uint(1)))
        if r.remaining >= 15:
            details["imei"] = text(r.take(15))
        if r.remaining:
            details["software_version"] = text(r.take(min(20, r.remaining)))
    else:
        code = text(r.rest())
    device_id = msg.device_id
    expected = auth_code(ctx.session.context.auth_key, device_id)
    # A vouched-for session (the processors, which do not hold the key) was checked by the listener.
    if not ctx.session.authenticated and not hmac.compare_digest(code.encode("utf-8"), expected.encode("ascii")):
        ctx.session.forget(device_id)
        return Outcome(result=RESULT_FAILURE, rejected=True,
                       error=f"not authenticated: wrong authentication code from terminal {device_id}")
    ctx.session.authenticate(device_id)
    ctx.session.remember(msg)
    records: list[Record] = []
    if ctx.build:
        records.append(Event(protocol=NAME, device_id=device_id, event="login", details=details))
    return Outcome(records)


def handle_heartbeat(ctx: Context) -> Outcome:
    """0x0002: empty body."""
    return Outcome([Event(protocol=NAME, device_id=ctx.message.device_id, event="heartbeat")] if ctx.build else [])


def handle_logout(ctx: Context) -> Outcome:
    """0x0003: empty body; the terminal must authenticate again."""
    ctx.session.forget(ctx.message.device_id)
    return Outcome([Event(protocol=NAME, device_id=ctx.message.device_id, event="logout")] if ctx.build else [])


def handle_terminal_response(ctx: Context) -> Outcome:
    """0x0001, the terminal's answer to a platform message: answered serial 2, id 2, result 1."""
    r = Reader(ctx.message.body, "0x0001 terminal response")
    serial, msg_id, result = r.uint(2), r.uint(2), r.uint(1)
    if not ctx.build:
        return Outcome()
    details = {"answered_serial": serial, "answered_id": f"0x{msg_id:04x}", "result": result}
    return Outcome([Event(protocol=NAME, device_id=ctx.message.device_id, event="command_result",
                          details=details)])


def handle_location(ctx: Context) -> Outcome:
    """0x0200: basic location 28 bytes, then additional items (id 1, length 1, value)."""
    loc = parse_location(ctx.message.body)
    return Outcome(location_records(loc, ctx.message.device_id) if ctx.build else [])


def handle_location_answer(ctx: Context) -> Outcome:
    """0x0201, the answer to a 0x8201 location query: answered serial 2, then a 0x0200 body."""
    body = ctx.message.body
    if len(body) < 2:
        raise Malformed("0x0201 location answer without its answered serial")
    loc = parse_location(body[2:], "0x0201 location answer")
    if not ctx.build:
        return Outcome()
    answered = int.from_bytes(body[:2], "big")
    return Outcome(location_records(loc, ctx.message.device_id, {"answered_serial": answered}))


def handle_batch(ctx: Context) -> Outcome:
    """0x0704: count 2, type 1 (0 regular, 1 blind-area backfill), then count × (length 2, 0x0200 body)."""
    r = Reader(ctx.message.body, "0x0704 batch location")
    count, kind = r.uint(2), r.uint(1)
    locations = [parse_location(r.take(r.uint(2)), f"0x0704 item {i + 1}") for i in range(count)]
    if r.remaining:
        raise Malformed(f"0x0704 declares {count} items but {r.remaining} bytes follow them")
    if not ctx.build:
        return Outcome()
    records: list[Record] = []
    for loc in locations:
        records.extend(location_records(loc, ctx.message.device_id, {"batch_type": kind}))
    return Outcome(records)


Handler = Callable[[Context], Outcome]


@dataclass(frozen=True, slots=True)
class Route:
    """What a terminal message is, and how it is answered (reply policy as data, see watch.py)."""

    name: str
    handler: Handler
    general_response: bool  # answered with 0x8001 (the handler's result; 2 when the body is bad)
    needs_auth: bool = True


ROUTES: dict[int, Route] = {
    0x0001: Route("terminal_response", handle_terminal_response, False),  # an answer is not answered
    0x0002: Route("heartbeat", handle_heartbeat, True),
    0x0003: Route("logout", handle_logout, True),
    0x0100: Route("register", handle_register, False, needs_auth=False),  # answered 0x8100 by the handler
    0x0102: Route("authenticate", handle_authenticate, True, needs_auth=False),
    0x0200: Route("location", handle_location, True),
    0x0201: Route("location_answer", handle_location_answer, False),
    0x0704: Route("batch_location", handle_batch, True),
}


def _handle(frame: bytes, session: Session, now: datetime, build: bool) -> Decoded:
    try:
        message = open_message(frame)
    except Malformed as exc:  # no reply: the header cannot be trusted. Returned, not raised, so a
        # caller that calls decode directly (the listener's hot path today) gets the error too.
        return Decoded(device_id=session.device_id, error=f"{exc} [{hex_preview(frame)}]")
    device_id = message.device_id
    route = ROUTES.get(message.msg_id)
    if route is None:
        return Decoded(sequence=message.serial, device_id=device_id, message_type=message.name,
                       reply=general_response(message, RESULT_UNSUPPORTED),
                       error=f"unsupported JT/T 808 message {message.name}")
    if message.attributes & ENCRYPTION_MASK or message.packet is not None:
        kind = "an encrypted" if message.attributes & ENCRYPTION_MASK else "a sub-packaged"
        return Decoded(sequence=message.serial, device_id=device_id, message_type=route.name,
                       reply=general_response(message, RESULT_UNSUPPORTED) if route.general_response else None,
                       error=f"{kind} JT/T 808 {message.name} is not supported")
    jt_session = _jt808_session(session)
    if route.needs_auth and not jt_session.is_authenticated(device_id):
        return Decoded(sequence=message.serial, device_id=device_id, message_type=route.name, rejected=True,
                       reply=general_response(message, RESULT_FAILURE) if route.general_response else None,
                       error=f"not authenticated: {route.name} ({message.name}) from terminal {device_id} "
                             f"before a successful authentication (0x0102)")
    try:
        outcome = route.handler(Context(message, jt_session, now, build))
    except Malformed as exc:
        return Decoded(sequence=message.serial, device_id=device_id, message_type=route.name,
                       reply=general_response(message, RESULT_MESSAGE_ERROR) if route.general_response else None,
                       error=f"{exc} [{hex_preview(frame)}]")
    if jt_session is not session:
        session.device_id = jt_session.device_id
    reply = outcome.reply
    if reply is None and route.general_response:
        reply = general_response(message, outcome.result)
    return Decoded(sequence=message.serial, records=outcome.records, reply=reply, device_id=device_id,
                   message_type=route.name,
                   error=outcome.error, rejected=outcome.rejected)


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    return _handle(frame, session, now, build=True)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """Device id, reply and refusal without building records; the same checks as decode."""
    d = _handle(frame, session, now, build=False)
    return Identified(device_id=d.device_id, reply=d.reply, message_type=d.message_type, error=d.error,
                      rejected=d.rejected, sequence=d.sequence)


# --------------------------------------------------------------------------------------------
# Downlink: 0x8300 text, 0x8105 terminal control, 0x8201 location query, 0x8103 parameters
# --------------------------------------------------------------------------------------------

TEXT_FLAG_DISPLAY = 0x04 | 0x08  # bit 2 terminal display, bit 3 TTS read-out (2013 table)
CONTROL_WORDS = {"power_off": 0x03, "reboot": 0x04, "factory_reset": 0x05}
PARAM_REPORT_INTERVAL = 0x0029  # default time-based reporting interval, seconds (DWORD)


def _text_body(params: dict[str, str], version: int | None) -> bytes:
    message = params.get("text", "")
    if not message:
        raise UnsupportedCommand("a JT/T 808 text message needs params['text']")
    try:
        encoded = message.encode("gbk")
    except UnicodeEncodeError as exc:
        raise UnsupportedCommand(f"text cannot be sent in GBK: {exc}") from exc
    if len(encoded) > 1024:
        raise UnsupportedCommand(f"JT/T 808 text is at most 1024 bytes, not {len(encoded)}")
    flag = bytes([TEXT_FLAG_DISPLAY])
    # 2019 adds a text type byte after the flag: 1 = notice, 2 = service
    return flag + (b"\x01" if version is not None else b"") + encoded


def _interval_body(params: dict[str, str], version: int | None) -> bytes:
    try:
        seconds = int(params.get("seconds", ""))
    except ValueError as exc:
        raise UnsupportedCommand("set_interval needs params['seconds'] as a whole number") from exc
    if not 1 <= seconds <= 86400:
        raise UnsupportedCommand(f"report interval must be 1-86400 s, not {seconds}")
    return b"\x01" + PARAM_REPORT_INTERVAL.to_bytes(4, "big") + b"\x04" + seconds.to_bytes(4, "big")


def _control(word: int) -> Callable[[dict[str, str], int | None], bytes]:
    return lambda params, version: bytes([word])


COMMANDS: dict[str, tuple[int, Callable[[dict[str, str], int | None], bytes]]] = {
    "custom": (0x8300, _text_body),
    "message": (0x8300, _text_body),
    "locate": (0x8201, lambda params, version: b""),
    "set_interval": (0x8103, _interval_body),
    **{name: (0x8105, _control(word)) for name, word in CONTROL_WORDS.items()},
}


def _phone_of(device_id: str | None) -> bytes:
    """The 2013 header's 6-byte phone number for a terminal id (a session that saw no frame)."""
    if not device_id or len(device_id) > 12 or not all(c in "0123456789abcdef" for c in device_id):
        raise UnsupportedCommand(f"terminal id {device_id!r} is not a phone number of at most 12 digits")
    return bytes.fromhex(device_id.rjust(12, "0"))


def encode_command(command: Command, session: Session) -> bytes:
    entry = COMMANDS.get(command.name)
    if entry is None:
        raise UnsupportedCommand(f"JT/T 808 has no {command.name!r} command")
    msg_id, body_of = entry
    if isinstance(session, Jt808Session) and session.phone is not None:
        phone, version = session.phone, session.protocol_version
    else:
        phone, version = _phone_of(session.device_id), None
    serial = session.next_command_serial() if isinstance(session, Jt808Session) else 1
    return build_message(msg_id, body_of(command.params, version), phone, serial, version)


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Jt808Codec:
    name: str = NAME
    transports: frozenset[Transport] = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> Jt808Framer | PerDatagram:
        if transport is Transport.UDP:
            return PerDatagram(lambda: Jt808Framer(max_frame))  # type: ignore[arg-type, return-value]
        return Jt808Framer(max_frame)

    def new_session(self, transport: Transport) -> Jt808Session:
        return Jt808Session(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        return decode(frame, session, now)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        return identify(frame, session, now)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = Jt808Codec()
