"""`trackwire decode`: captures in, one JSON object per record / reply / error out."""

from __future__ import annotations

import binascii
import json
from datetime import datetime, timezone
from typing import BinaryIO, TextIO

from protocols.base import Frame, FrameError, Session, Transport, guarded_decode, hex_preview
from protocols.stream import Detected, NoProtocol, ProtocolStream
from schemas.records import to_json_dict


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def emit(self, obj: dict, line: int) -> None:
        obj["line"] = line
        self._out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

    def error(self, reason: str, data: bytes, line: int, protocol: str | None = None, bug: bool = False) -> None:
        obj = {"type": "error", "reason": reason, "hex": hex_preview(data, 64)}
        if protocol:
            obj["protocol"] = protocol
        if bug:  # a codec bug, not bad input: worth a bug report with this line
            obj["bug"] = True
        self.emit(obj, line)


def _line_bytes(raw: bytes, as_hex: bool) -> bytes:
    text = raw.rstrip(b"\r\n")
    if not as_hex:
        return text
    cleaned = b"".join(text.split())
    return binascii.unhexlify(cleaned)


class _Connection:
    """One simulated connection: detection, framing, and a session that outlives re-detection."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.stream = ProtocolStream(transport)
        self.sessions: dict[str, Session] = {}

    def restart_stream(self) -> None:
        self.stream = ProtocolStream(self.transport)

    def session_for(self, protocol: str, fresh: Session) -> Session:
        # Keep one session per protocol so a login on one line identifies frames on later lines,
        # also across UDP datagrams (each is detected on its own).
        return self.sessions.setdefault(protocol, fresh)


def _drain(conn: _Connection, printer: _Printer, line: int, now: datetime) -> None:
    stream = conn.stream
    for event in stream.events():
        if isinstance(event, Detected):
            continue
        if isinstance(event, NoProtocol):
            printer.error(event.reason, event.data, line)
            # A capture file may hold a garbage line among good ones: start detection afresh.
            conn.restart_stream()
            return
        codec = stream.codec
        assert codec is not None and stream.session is not None
        if isinstance(event, FrameError):
            printer.error(event.reason, event.data, line, codec.name)
            continue
        assert isinstance(event, Frame)
        session = conn.session_for(codec.name, stream.session)
        decoded = guarded_decode(codec, event.data, session, now)
        if decoded.error:
            printer.error(decoded.error, event.data, line, codec.name, bug=decoded.bug)
        for record in decoded.records:
            printer.emit(to_json_dict(record), line)
        if decoded.reply:
            printer.emit({"type": "reply", "protocol": codec.name, "hex": decoded.reply.hex()}, line)


def run_decode(source: BinaryIO, *, as_hex: bool, transport: str, out: TextIO, now: datetime | None = None) -> None:
    printer = _Printer(out)
    conn = _Connection(Transport(transport))
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            data = _line_bytes(raw, as_hex)
        except (binascii.Error, ValueError) as exc:
            printer.error(f"line is not valid hex: {exc}", raw.rstrip(b"\r\n"), number)
            continue
        if conn.transport is Transport.UDP:
            conn.restart_stream()  # every datagram is detected and framed on its own
        conn.stream.feed(data)
        _drain(conn, printer, number, now or datetime.now(timezone.utc))
    out.flush()
