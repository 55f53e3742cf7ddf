"""Teltonika (FMB/FMC/FMM/FMT/TMT trackers): Codec 8, 8 Extended and 16 AVL data, Codec 12 commands.

TCP, one connection per device session::

    device: 00 0F <15 ASCII IMEI digits>                  server: 01 (accept)
    device: 00000000 <length:4> <data> <CRC:4>            server: <records accepted:4>
            data = codec id(1) | number of data 1 | AVL records | number of data 2
            CRC  = CRC-16/IBM (ARC) of `data`, in the low two bytes of the 4-byte field

UDP, every datagram on its own (no CRC; the IMEI travels in each one)::

    <length:2> <packet id:2> <not usable:1> <AVL packet id:1> <IMEI length:2> <IMEI> <data>
    server: 00 05 <packet id:2> <not usable:1> <AVL packet id:1> <records accepted:1>

AVL record: timestamp ms(8) priority(1) longitude(4) latitude(4) altitude(2) angle(2) satellites(1)
speed(2), then IO elements: event IO ID, [Codec 16: generation type(1)], total count, and for each
value size 1/2/4/8 a count and (ID, value) pairs; Codec 8E adds variable-length (NX) elements.
ID and count widths: Codec 8 1/1, Codec 16 2/1, Codec 8E 2/2 bytes.

Codec 12 (0x0C): quantity(1) | type(1): 0x05 command, 0x06 response | size(4) | text | quantity(1),
in the same TCP envelope. A response is not acknowledged.

Sources (facts only, no code copied):
- Teltonika wiki "Teltonika Data Sending Protocols" (formerly "Codec"), wiki.teltonika-gps.com:
  packet layouts, the CRC (CRC-16/IBM), the UDP channel header and its acknowledgement, the Codec 12
  layout, and their examples (the tests decode every one).
- Teltonika wiki "Help with Server FAQ" / community answer: the IMEI handshake (`01` accepts, `00`
  refuses) and "if sent data number and reported by server doesn't match module resends sent data".
- Traccar TeltonikaProtocolDecoderTest.java and navtrack Teltonika tests: real captures.

Reply policy (`REPLIES` says it per codec):
- IMEI handshake: `01` (accept; the listener's allow-list decides, and answers nothing when it refuses).
- AVL data with a good CRC: the number of records the packet announces, also when a record cannot be
  read: the frame is then safe in Kafka (dead-lettered with its bytes for a replay once the codec
  reads it), and withholding the ack would make the device resend this packet forever and never send
  the records queued behind it.
- AVL data with a bad CRC: no reply. The bytes were damaged on the way; the device resends the
  packet when its ack does not come, and the copy it resends is intact.
- Codec 12 responses and unsupported codecs (7, 13, 14, 15): no reply.

Records: one Position per AVL record; an Alert per alarm the record's event IO element raises
(teltonika_io.ALARMS); Telemetry when it carries battery voltage or level; and an `io` Event with the
rest (ignition, movement, external voltage, odometer, priority, other IO elements by ID).
A fix is valid when satellites > 0: without a fix the device repeats its last fix with angle,
satellites and speed 0 (wiki note), and sends 0/0 when it never had one; those zeros are omitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import crcmod.predefined

from protocols import teltonika_io as io
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
    hex_preview,
)
from protocols.framing import LengthFramer, PerDatagram
from schemas.records import Alert, Event, Position, Record, Telemetry

NAME = "teltonika"

crc16_ibm = crcmod.predefined.mkCrcFun("crc-16")  # CRC-16/IBM (ARC): poly 0x8005 reflected, init 0

ZEROS = b"\x00\x00\x00\x00"  # the TCP packet preamble
ACCEPT = b"\x01"  # the answer to an IMEI handshake
IMEI_DIGITS = range(8, 21)  # an IMEI is 15 digits; accept a little either side, stay bounded
CODEC_8, CODEC_8E, CODEC_16, CODEC_12 = 0x08, 0x8E, 0x10, 0x0C
# Every codec ID Teltonika defines (7 GH3000, 13-15 one-way messages): detection knows them all.
TELTONIKA_CODECS = frozenset({0x07, CODEC_8, CODEC_8E, CODEC_16, CODEC_12, 0x0D, 0x0E, 0x0F})
COMMAND, RESPONSE = 0x05, 0x06  # Codec 12 message types
TCP_HEADER = 8  # preamble + data length; also covers 2 + 6 digits of an IMEI handshake
UDP_HEADER = 8  # length, packet id, not usable byte, AVL packet id, IMEI length
MAX_TIMESTAMP_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last time a datetime holds


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def _digits(data: bytes) -> bool:
    return all(0x30 <= b <= 0x39 for b in data)


def _imei_handshake(head: bytes) -> Detection:
    """`00 LL` + LL ASCII digits; MATCH once the length and 4 digits agree."""
    if head[0] != 0:
        return Detection.NO_MATCH
    if len(head) < 2:
        return Detection.NEED_MORE
    if head[1] not in IMEI_DIGITS or not _digits(head[2:2 + head[1]]):
        return Detection.NO_MATCH
    return Detection.MATCH if len(head) >= 6 else Detection.NEED_MORE


def _tcp_packet(head: bytes) -> Detection:
    """Four zero bytes, a length that holds codec id + two counts, a Teltonika codec ID."""
    known = head[:4]
    if known != ZEROS[:len(known)]:
        return Detection.NO_MATCH
    if len(head) < 9:
        return Detection.NEED_MORE if len(head) < 8 or int.from_bytes(head[4:8], "big") >= 3 else Detection.NO_MATCH
    if int.from_bytes(head[4:8], "big") < 3 or head[8] not in TELTONIKA_CODECS:
        return Detection.NO_MATCH
    return Detection.MATCH


def _udp_datagram(head: bytes) -> Detection:
    """length(2) packet id(2) not-usable byte 00/01, AVL packet id, IMEI length, IMEI digits."""
    if len(head) >= 5 and head[4] > 1:
        return Detection.NO_MATCH
    if len(head) >= 7 and head[6] != 0:
        return Detection.NO_MATCH
    if len(head) < UDP_HEADER:
        return Detection.NEED_MORE
    digits = head[7]
    if digits not in IMEI_DIGITS or int.from_bytes(head[:2], "big") < UDP_HEADER - 2 + digits + 3:
        return Detection.NO_MATCH
    if not _digits(head[UDP_HEADER:UDP_HEADER + digits]):
        return Detection.NO_MATCH
    return Detection.MATCH if len(head) >= UDP_HEADER + 4 else Detection.NEED_MORE


def detect(head: bytes, transport: Transport) -> Detection:
    """Any of the three shapes, whatever the transport (the shapes cannot be confused)."""
    if not head:
        return Detection.NEED_MORE
    verdicts = {_imei_handshake(head), _tcp_packet(head), _udp_datagram(head)}
    if Detection.MATCH in verdicts:
        return Detection.MATCH
    return Detection.NEED_MORE if Detection.NEED_MORE in verdicts else Detection.NO_MATCH


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def tcp_frame_length(head: bytes) -> int:
    """Length of the TCP frame that starts with these 8 bytes: an AVL/command packet or a handshake."""
    if head[:4] == ZEROS:
        size = int.from_bytes(head[4:8], "big")
        if size < 3:
            raise Malformed(f"Teltonika packet declares {size} data bytes (codec id and two counts need 3)")
        return TCP_HEADER + size + 4
    digits = int.from_bytes(head[:2], "big")
    if digits in IMEI_DIGITS and _digits(head[2:8]):
        return 2 + digits
    raise Malformed(f"neither an IMEI handshake nor a Teltonika packet: {head.hex()}")


def udp_frame_length(head: bytes) -> int:
    return 2 + int.from_bytes(head[:2], "big")


def new_framer(transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> LengthFramer | PerDatagram:
    if transport is Transport.UDP:
        return PerDatagram(lambda: LengthFramer(2, udp_frame_length, max_frame=max_frame, name="Teltonika datagram"))
    return LengthFramer(TCP_HEADER, tcp_frame_length, max_frame=max_frame, name="Teltonika packet")


# --------------------------------------------------------------------------------------------
# Envelopes: the part identify and decode share (who sent it, what to answer)
# --------------------------------------------------------------------------------------------

class Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed(f"data ends after {len(self.data)} bytes, {self.pos + n} needed")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def signed(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big", signed=True)

    def u8(self) -> int:
        return self.uint(1)


@dataclass(frozen=True, slots=True)
class UdpHeader:
    packet_id: bytes
    not_usable: int
    avl_packet_id: int
    imei: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """A frame opened: message type, the sender, the codec data, the reply it earns."""

    message_type: str
    device_id: str | None
    data: bytes  # codec id .. number of data 2; empty for the handshake
    reply: bytes | None


def read_imei(raw: bytes) -> str:
    if not _digits(raw) or len(raw) not in IMEI_DIGITS:
        raise Malformed(f"IMEI {raw!r} is not 8-20 ASCII digits")
    return raw.decode("ascii")


def tcp_ack(count: int) -> bytes:
    return count.to_bytes(4, "big")


def udp_ack(header: UdpHeader, count: int) -> bytes:
    """Length 5, the datagram's packet id, not-usable byte and AVL packet id, the records accepted."""
    return b"\x00\x05" + header.packet_id + bytes([header.not_usable, header.avl_packet_id, count])


def _open_tcp(frame: bytes) -> bytes:
    size = int.from_bytes(frame[4:8], "big")
    if len(frame) != TCP_HEADER + size + 4:
        raise Malformed(f"Teltonika packet of {len(frame)} bytes declares {size} data bytes")
    data = frame[TCP_HEADER:TCP_HEADER + size]
    sent, computed = int.from_bytes(frame[-4:], "big"), crc16_ibm(data)
    if sent != computed:
        raise Malformed(f"bad CRC: packet says {sent:08x}, data gives {computed:04x}")
    return data


def _open_udp(frame: bytes) -> tuple[UdpHeader, bytes]:
    r = Reader(frame)
    if r.uint(2) != len(frame) - 2:
        raise Malformed(f"UDP length field does not match a {len(frame)}-byte datagram")
    packet_id, not_usable, avl_packet_id = r.take(2), r.u8(), r.u8()
    imei = read_imei(r.take(r.uint(2)))
    return UdpHeader(packet_id, not_usable, avl_packet_id, imei), frame[r.pos:]


@dataclass(frozen=True, slots=True)
class Route:
    """What a codec ID is called, which decoder reads it and whether it is acknowledged.

    `ack` True: the device waits for the number of records; False: nothing is answered."""

    message_type: str
    decoder: "Callable[[bytes, Context], list[Record]]"
    ack: bool


def open_frame(frame: bytes, session: Session) -> tuple[Envelope, Route | None]:
    """Check the frame's envelope, learn the device, and work out the reply; raises Malformed."""
    if len(frame) >= TCP_HEADER and frame[:4] == ZEROS:
        data = _open_tcp(frame)
        route = _route(data, udp=False)
        reply = tcp_ack(data[1]) if route.ack else None
        return Envelope(route.message_type, session.device_id, data, reply), route
    if len(frame) >= 2 and frame[0] == 0 and frame[1] == len(frame) - 2 and frame[1] in IMEI_DIGITS:
        session.device_id = read_imei(frame[2:])
        return Envelope("imei", session.device_id, b"", ACCEPT), None
    header, data = _open_udp(frame)
    session.device_id = header.imei
    route = _route(data, udp=True)
    reply = udp_ack(header, data[1]) if route.ack else None
    return Envelope(route.message_type, header.imei, data, reply), route


def _route(data: bytes, udp: bool) -> Route:
    if len(data) < 3:
        raise Malformed(f"Teltonika data of {len(data)} bytes (codec id and two counts need 3)")
    route = REPLIES.get(data[0])
    if route is None:
        raise Malformed(f"unsupported Teltonika codec 0x{data[0]:02x}")
    if udp and not route.ack:
        raise Malformed(f"{route.message_type} over UDP is not supported")
    return route


# --------------------------------------------------------------------------------------------
# AVL records
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IoLayout:
    id_size: int  # AVL IDs and the event IO ID
    count_size: int  # total count and the per-size counts
    generation_type: bool  # Codec 16: a byte after the event IO ID
    variable: bool  # Codec 8E: variable-length (NX) elements after the 8-byte ones


LAYOUTS = {
    CODEC_8: IoLayout(1, 1, False, False),
    CODEC_8E: IoLayout(2, 2, False, True),
    CODEC_16: IoLayout(2, 1, True, False),
}


@dataclass(slots=True)
class Context:
    device_id: str | None


@dataclass(slots=True)
class AvlRecord:
    time: datetime
    priority: int
    lon: float
    lat: float
    altitude_m: int
    angle: int
    satellites: int
    speed_kmh: int
    event_io_id: int
    generation_type: int | None = None
    io: dict[int, int | bytes] = field(default_factory=dict)


def read_record(r: Reader, layout: IoLayout) -> AvlRecord:
    stamp = r.uint(8)
    if stamp > MAX_TIMESTAMP_MS:
        raise Malformed(f"AVL timestamp {stamp} ms is past the year 9999")
    record = AvlRecord(
        time=datetime.fromtimestamp(stamp / 1000, timezone.utc), priority=r.u8(),
        lon=r.signed(4) / 1e7, lat=r.signed(4) / 1e7, altitude_m=r.signed(2), angle=r.uint(2), satellites=r.u8(),
        speed_kmh=r.uint(2), event_io_id=r.uint(layout.id_size),
    )
    if layout.generation_type:
        record.generation_type = r.u8()
    r.uint(layout.count_size)  # total count: the per-size counts that follow are what we read
    for size in (1, 2, 4, 8):
        for _ in range(r.uint(layout.count_size)):
            avl_id = r.uint(layout.id_size)
            record.io[avl_id] = r.uint(size)
    if layout.variable:
        for _ in range(r.uint(2)):
            avl_id = r.uint(2)
            record.io[avl_id] = r.take(r.uint(2))
    return record


def read_records(data: bytes) -> list[AvlRecord]:
    """codec id | number of data 1 | records | number of data 2, every byte accounted for."""
    layout = LAYOUTS[data[0]]
    r = Reader(data, 2)
    records = [read_record(r, layout) for _ in range(data[1])]
    if r.remaining != 1:
        raise Malformed(f"{r.remaining - 1} bytes after {data[1]} AVL records" if r.remaining > 1
                        else "AVL data ends before number of data 2")
    if data[-1] != data[1]:
        raise Malformed(f"number of data 1 ({data[1]}) and 2 ({data[-1]}) differ")
    return records


def records_of(avl: AvlRecord, device_id: str | None) -> list[Record]:
    """Position, alarms, telemetry and the IO event of one AVL record."""
    fix = avl.satellites > 0
    located = fix or (avl.lat, avl.lon) != (0.0, 0.0)
    raw_numbers = {k: v for k, v in avl.io.items() if isinstance(v, int)}
    gsm = io.in_range(io.GSM_SIGNAL, raw_numbers.get(io.GSM_SIGNAL))
    battery_pct = io.in_range(io.BATTERY_LEVEL, raw_numbers.get(io.BATTERY_LEVEL))
    hdop = raw_numbers.get(io.HDOP)
    alarm = io.alarm_of(avl.event_io_id, raw_numbers[avl.event_io_id]) if avl.event_io_id in raw_numbers else None
    position = Position(
        protocol=NAME, device_id=device_id, time=avl.time, valid=fix,
        lat=avl.lat if located else None, lon=avl.lon if located else None,
        altitude_m=float(avl.altitude_m) if located else None,
        speed_kmh=float(avl.speed_kmh) if fix else None, course_deg=float(avl.angle) if fix else None,
        satellites=avl.satellites, hdop=hdop / 10 if hdop is not None else None,
        battery_pct=battery_pct, rssi=gsm, alarms=[alarm] if alarm else [],
    )
    records: list[Record] = [position]
    if alarm is not None:
        records.append(Alert.from_fix(position, alarm))
    voltage = raw_numbers.get(io.BATTERY_VOLTAGE)
    if voltage is not None or battery_pct is not None:
        records.append(Telemetry(protocol=NAME, device_id=device_id, time=avl.time, battery_pct=battery_pct,
                                 battery_v=voltage / 1000 if voltage is not None else None, rssi=gsm))
    records.append(Event(protocol=NAME, device_id=device_id, time=avl.time, event="io", battery_pct=battery_pct,
                         rssi=gsm, details=io_details(avl)))
    return records


def io_details(avl: AvlRecord) -> dict[str, int | float | bool | str]:
    details: dict[str, int | float | bool | str] = {"priority": avl.priority, "event_io_id": avl.event_io_id}
    if avl.generation_type is not None:
        details["generation_type"] = avl.generation_type
    for avl_id, raw in avl.io.items():
        if isinstance(raw, bytes):
            details[f"io_{avl_id}"] = raw.hex()
        else:
            name, value = io.named_value(avl_id, raw)
            details[name] = value
    return details


def decode_avl(data: bytes, ctx: Context) -> list[Record]:
    return [record for avl in read_records(data) for record in records_of(avl, ctx.device_id)]


# --------------------------------------------------------------------------------------------
# Codec 12
# --------------------------------------------------------------------------------------------

def _text_or_hex(raw: bytes, details: dict) -> str | None:
    """Printable ASCII (with CR/LF) as text; anything else kept as hex in the details."""
    if all(0x20 <= b < 0x7F or b in (0x0D, 0x0A) for b in raw):
        return raw.decode("ascii").strip() or None
    details["data_hex"] = raw.hex()
    return None


def decode_codec12(data: bytes, ctx: Context) -> list[Record]:
    """Responses (type 0x06) to our commands, one Event each."""
    r = Reader(data, 1)
    count = r.u8()
    events: list[Record] = []
    for _ in range(count):
        kind = r.u8()
        payload = r.take(r.uint(4))
        if kind != RESPONSE:
            raise Malformed(f"Codec 12 message type 0x{kind:02x} from a device (0x06 response expected)")
        details: dict = {}
        text = _text_or_hex(payload, details)
        events.append(Event(protocol=NAME, device_id=ctx.device_id, event="command_result", text=text,
                            details=details))
    if r.remaining != 1 or data[-1] != count:
        raise Malformed(f"Codec 12 quantity 2 does not close {count} responses")
    return events


# codec ID -> message type, decoder, acknowledged with the record count or not
REPLIES: dict[int, Route] = {
    CODEC_8: Route("codec8", decode_avl, ack=True),
    CODEC_8E: Route("codec8e", decode_avl, ack=True),
    CODEC_16: Route("codec16", decode_avl, ack=True),
    CODEC_12: Route("codec12", decode_codec12, ack=False),  # responses are never answered
}


# --------------------------------------------------------------------------------------------
# Decode and identify
# --------------------------------------------------------------------------------------------

def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """Bad device input comes back as `Decoded.error` (callers that skip `guarded_decode` included)."""
    try:
        envelope, route = open_frame(frame, session)
    except Malformed as exc:
        return Decoded(device_id=session.device_id, error=f"{exc} [{hex_preview(frame)}]")
    if route is None:
        login = Event(protocol=NAME, device_id=envelope.device_id, event="login")
        return Decoded([login], envelope.reply, envelope.device_id, message_type=envelope.message_type)
    try:
        records = route.decoder(envelope.data, Context(envelope.device_id))
    except Malformed as exc:  # the envelope was sound: keep its reply (see the reply policy above)
        return Decoded(reply=envelope.reply, device_id=envelope.device_id, message_type=envelope.message_type,
                       error=f"{exc} [{hex_preview(frame)}]")
    return Decoded(records, envelope.reply, envelope.device_id, message_type=envelope.message_type)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """The envelope only: CRC, device and reply, no records."""
    envelope, _ = open_frame(frame, session)
    return Identified(device_id=envelope.device_id, reply=envelope.reply, message_type=envelope.message_type)


# --------------------------------------------------------------------------------------------
# Downlink: Codec 12 commands
# --------------------------------------------------------------------------------------------

def command_packet(text: str) -> bytes:
    """00000000 | length | 0C 01 05 | size(4) | ASCII command | 01 | CRC-16/IBM (4 bytes)."""
    try:
        command = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise UnsupportedCommand(f"Teltonika commands are ASCII: {text!r}") from exc
    if not command:
        raise UnsupportedCommand("empty Teltonika command")
    data = bytes([CODEC_12, 1, COMMAND]) + len(command).to_bytes(4, "big") + command + b"\x01"
    return ZEROS + len(data).to_bytes(4, "big") + data + crc16_ibm(data).to_bytes(4, "big")


def _param(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        raise UnsupportedCommand(f"Teltonika command needs params[{name!r}]")
    return params[name]


def _set_interval(params: dict[str, str]) -> str:
    """FMB parameters 10000 (home network, vehicle on stop: min period) and 10050 (moving: min period)."""
    raw = _param(params, "seconds")
    if not raw.isdigit() or not 1 <= int(raw) <= 2592000:
        raise UnsupportedCommand(f"Teltonika record period takes 1-2592000 s, not {raw!r}")
    stopped = params.get("static_seconds") or raw
    if not stopped.isdigit() or not 1 <= int(stopped) <= 2592000:
        raise UnsupportedCommand(f"Teltonika record period takes 1-2592000 s, not {stopped!r}")
    return f"setparam 10000:{int(stopped)};10050:{int(raw)}"


COMMANDS: dict[str, Callable[[dict[str, str]], str]] = {
    "locate": lambda params: "getgps",  # answers with the current GNSS data as text
    "reboot": lambda params: "cpureset",
    "set_interval": _set_interval,
    "custom": lambda params: _param(params, "text"),
}


def encode_command(command: Command, session: Session) -> bytes:
    builder = COMMANDS.get(command.name)
    if builder is None:
        raise UnsupportedCommand(f"Teltonika has no {command.name!r} command")
    if session.transport is Transport.UDP:
        raise UnsupportedCommand("Teltonika takes Codec 12 commands over TCP only")
    return command_packet(builder(command.params))


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TeltonikaCodec:
    name: str = NAME
    transports: frozenset[Transport] = frozenset({Transport.TCP, Transport.UDP})

    def detect(self, head: bytes, transport: Transport) -> Detection:
        return detect(head, transport)

    def new_framer(self, transport: Transport, max_frame: int = DEFAULT_MAX_FRAME) -> LengthFramer | PerDatagram:
        return new_framer(transport, max_frame)

    def new_session(self, transport: Transport) -> Session:
        return Session(transport=transport)

    def decode(self, frame: bytes, session: Session, now: datetime) -> Decoded:
        return decode(frame, session, now)

    def identify(self, frame: bytes, session: Session, now: datetime) -> Identified:
        return identify(frame, session, now)

    def encode_command(self, command: Command, session: Session) -> bytes:
        return encode_command(command, session)


CODEC = TeltonikaCodec()
