"""Real frames from the codecs' own test files (tests/protocols/frames_*.py, which cite their
sources), loaded by path, and raw-frame envelopes around them as the listener writes them."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from protocols.base import Transport
from protocols.registry import BY_NAME
from schemas.envelopes import RawFrame
from schemas.records import Alert, format_time, to_json_dict

PROTOCOL_TESTS = Path(__file__).resolve().parents[1] / "protocols"
BASE_MS = 1_760_000_000_000  # 2025-10-09T08:53:20Z: a reception time after every sample's fix time


def load(name: str) -> ModuleType:
    """tests/protocols/<name>.py as a module (that directory is not a package)."""
    key = f"_trackwire_test_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, PROTOCOL_TESTS / f"{name}.py")
    assert spec and spec.loader, f"missing {PROTOCOL_TESTS / name}.py"
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def envelope(
    data: bytes,
    *,
    device_id: str | None,
    protocol: str | None,
    frame_id: str,
    received_at_ms: int = BASE_MS,
    transport: str = "tcp",
    connection_id: str = "l1-1",
) -> RawFrame:
    return RawFrame(
        frame_id=frame_id,
        received_at_ms=received_at_ms,
        transport=transport,
        peer="192.0.2.10:40000",
        listener_id="l1",
        connection_id=connection_id,
        protocol=protocol,
        device_id=device_id,
        data=data,
    )


def expected(env: RawFrame, **alert_fields) -> list[dict]:
    """What the codec itself gives for the frame, numbered and with the device id: what the processor
    must publish for it (alerts with `alert_fields` on top), as JSON dicts."""
    codec = BY_NAME[env.protocol]
    session = codec.new_session(Transport(env.transport))
    session.device_id = env.device_id
    decoded = codec.decode(env.data, session, datetime.fromtimestamp(env.received_at_ms / 1000, timezone.utc))
    assert decoded.error is None, decoded.error
    records = []
    for index, record in enumerate(decoded.records):
        changes = {"frame_id": env.frame_id, "frame_index": index, "device_id": record.device_id or env.device_id}
        if isinstance(record, Alert):
            changes.update(alert_fields)
        records.append(to_json_dict(dataclasses.replace(record, **changes)))
    return records


def iso(ms: int) -> str:
    """Epoch ms as the records' wire time."""
    return format_time(datetime.fromtimestamp(ms / 1000, timezone.utc))


def heart(device_id: str, bpm: int) -> bytes:
    """A watch heart-rate message (the layout of frames_watch.HEART) for `device_id`."""
    body = b"heart,%d" % bpm
    return b"[3G*%s*%04X*" % (device_id.encode(), len(body)) + body + b"]"


def gt06_renumbered(frame: bytes, serial: int) -> bytes:
    """Constructed per the Concox JM-VL03 document: a real GT06 packet with another serial (and so
    another CRC): the device's next frame with the same content, not a resend of this one."""
    from protocols.gt06 import build_packet, open_packet

    packet = open_packet(frame)
    return build_packet(packet.protocol, packet.content, serial, packet.long)
