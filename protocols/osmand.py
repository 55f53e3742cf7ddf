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
- decode: parses one request (h11 again; protocols/osmand_report.py reads its values) into
  records, with the HTTP/1.1 response bytes as `reply`.
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

import re
from dataclasses import dataclass, field
from datetime import datetime

import h11

from protocols.base import (
    DEFAULT_MAX_FRAME,
    Command,
    Decoded,
    Detection,
    Frame,
    FrameError,
    Identified,
    Session,
    Transport,
    UnsupportedCommand,
)
from protocols.osmand_report import NAME, Refused, Report, read_report, records_of

# Request methods RFC 9110 defines; Traccar decodes a report sent with any of them.
METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH")
# What may follow `METHOD SP`: an origin-form target (`/…`) or an absolute-form one (`http://…`).
TARGET_STARTS = (b"/", b"http://", b"https://")
REQUEST_STARTS = tuple(method + b" " + target for method in METHODS for target in TARGET_STARTS)



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
    # Every event but the last consumes input, so a frame of n bytes gives at most n + 2 events;
    # the bound turns any h11 corner case that would repeat an event into a refusal, not a hang.
    for _ in range(len(frame) + 3):
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
        else:  # ConnectionClosed (an empty frame reads as end of input) or PAUSED: no complete request
            raise Refused("no complete HTTP request in the frame", 400, close=True)
    else:
        raise Refused("HTTP request does not end where its framing says", 400, close=True)
    assert head is not None  # h11 gives EndOfMessage only after a Request
    if http.trailing_data[0]:
        raise Refused("bytes after the end of the HTTP request in one frame", 400, close=True)
    # h11 allows only visible ASCII in a request target.
    return _Request(head.method, head.target.decode("ascii"), head.http_version, head, bytes(body))


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
        report = read_report(request.target, _header(request.head, b"content-type"),
                             _header(request.head, b"content-encoding"), request.body, now)
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
