"""GT06 / Concox / Jimi binary protocol: `78 78` short frames (1-byte length), `79 79` long frames (2-byte length).

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

Modules: `envelope` (packet, CRC, session, acks), `framer` (detection, stream framer), `fields`
(bounds-checked reader and `part_*` readers), `messages` (the document's messages), `variants`
(model variants), `routes` (the `DECODERS` table, `decode`, `identify`), `commands` (0x80 downlink).
See docs/gt06.md for the list of message types and their replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from protocols.base import (
    DEFAULT_MAX_FRAME,
    Command,
    Decoded,
    Detection,
    Identified,
    Malformed,
    Session,
    Transport,
    hex_preview,
)
from protocols.gt06.commands import COMMANDS, command_packet, encode_command
from protocols.gt06.envelope import NAME, Gt06Session, Packet, build_packet, crc_itu, open_packet
from protocols.gt06.framer import Gt06Framer, detect
from protocols.gt06.routes import DECODERS, LEGACY_DECODERS, Route, decode, identify

__all__ = [
    "CODEC", "COMMANDS", "DECODERS", "DEFAULT_MAX_FRAME", "LEGACY_DECODERS", "NAME", "Gt06Codec", "Gt06Framer",
    "Gt06Session", "Packet", "Route", "build_packet", "command_packet", "crc_itu", "decode", "detect",
    "encode_command", "identify", "open_packet",
]


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
