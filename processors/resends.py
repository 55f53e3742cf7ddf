"""Telling a device's resend of a frame from a new frame: pure functions over the device's state.

A device that misses our ack sends the same frame again. Records with a device time collapse in the
sink (same time, same content: same `dedup_id`), but a heartbeat or status frame has no device time:
its records get the reception time, so each copy would be stored. Protocols that number their
frames (GT06 serial, JT/T 808 message serial: `protocols.base.Decoded.sequence`) let us tell the
copies apart from new frames: the resend carries the same number and the same bytes.

Per device, `DeviceState.recent_frames` keeps the last `RING_SIZE` numbered frames as
[bytes digest, sequence, received ms, frame id]. A frame is a resend when an entry with its digest
and sequence was received within `WINDOW_MS` under another frame id (the same frame id is the
processor reading the same Kafka message again, which must give the same records). Identical
bytes without a sequence number (a watch LK keep-alive) are never a resend: two keep-alives five
minutes apart are two events.

A numbered frame whose sequence is remembered with *other* bytes shows the numbering started again
(a device restart) or a device that does not number frames uniquely: the remembered entries are
from an older numbering and are forgotten, so they cannot swallow the new numbering's frames.
"""

from __future__ import annotations

import hashlib
from enum import Enum

RING_SIZE = 32  # frames remembered per device (~1.3 KiB of state)
WINDOW_MS = 15 * 60 * 1000  # a GT06/JT808 serial wraps after 65,536 frames: far longer than this


class Verdict(Enum):
    NEW = "new"
    RESEND = "resend"  # the same frame again, received as another Kafka message
    REREAD = "reread"  # the same Kafka message read again (same frame id): processed as before
    RENUMBERED = "renumbered"  # new frame; the device's older numbering was forgotten


def digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def check(recent: list[list], sequence: int, data: bytes, frame_id: str, received_ms: int) -> Verdict:
    """The verdict for one numbered frame; `recent` is updated in place (expired entries dropped, a
    new frame remembered, bounded to RING_SIZE)."""
    code = digest(data)
    recent[:] = [entry for entry in recent if abs(received_ms - entry[2]) <= WINDOW_MS]
    same_number = [entry for entry in recent if entry[1] == sequence]
    if any(entry[3] == frame_id for entry in same_number):
        return Verdict.REREAD
    if any(entry[0] == code for entry in same_number):
        return Verdict.RESEND
    verdict = Verdict.NEW
    if same_number:
        recent.clear()
        verdict = Verdict.RENUMBERED
    recent.append([code, sequence, received_ms, frame_id])
    del recent[:-RING_SIZE]
    return verdict
