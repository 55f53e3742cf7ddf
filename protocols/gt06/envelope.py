"""The GT06 packet envelope (markers, length, serial, CRC-ITU), the session, and the server's acks."""

from __future__ import annotations

from dataclasses import dataclass

import crcmod.predefined

from protocols.base import Malformed, Session, UnsupportedCommand

NAME = "gt06"

SHORT = b"\x78\x78"
LONG = b"\x79\x79"
STOP = b"\r\n"

crc_itu = crcmod.predefined.mkCrcFun("x-25")  # CRC-ITU of the Concox document (init FFFF, reflected, xorout FFFF)


def header_length(long: bool) -> int:
    return 4 if long else 3


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


def build_packet(protocol: int, content: bytes, serial: int, long: bool = False) -> bytes:
    """A packet the server sends: same envelope, CRC over length..serial."""
    size = 1 + len(content) + 2 + 2
    if long:
        head = LONG + size.to_bytes(2, "big")
    else:
        if size > 0xFF:
            raise UnsupportedCommand(f"content of {len(content)} bytes does not fit a 78 78 packet")
        head = SHORT + bytes([size])
    body = head + bytes([protocol]) + content + serial.to_bytes(2, "big")
    return body + crc_itu(body[2:]).to_bytes(2, "big") + STOP


def open_packet(frame: bytes) -> Packet:
    """Check the envelope: markers, stop bytes, CRC. Frames without a valid CRC are accepted only
    when their length byte cannot describe them (the 365GPS variant); those have no serial."""
    if len(frame) < 6 or frame[:2] not in (SHORT, LONG) or frame[-2:] != STOP:
        raise Malformed("not a GT06 frame (start 7878/7979 ... end 0D0A)")
    long = frame[:2] == LONG
    header = header_length(long)
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
